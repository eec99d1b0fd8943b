import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/embedded-mongo/test/**/*.test.ts"],
    reporters: ["default", "./test/reporters/summary.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start real servers on port 0; two workers fit a 2-core machine.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
