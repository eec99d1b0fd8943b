import { defineConfig } from "vitest/config";

/** One store per run, a database per suite (src/embedded-mongo/test/fixtures/shared-store-setup.ts). */
const sharedStore = {
  globalSetup: ["src/embedded-mongo/test/fixtures/shared-store-setup.ts"],
  setupFiles: ["src/embedded-mongo/test/fixtures/shared-store-env.ts"],
};

export default defineConfig({
  test: {
    reporters: ["default", "./test/reporters/summary.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites start real servers on port 0; two workers fit a 2-core machine.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Test files of a worker share one module graph (the driver, grpc-js and the
    // store load once per worker, not once per file); suites keep no state in
    // shared modules beyond what they undo in their hooks.
    isolate: false,
    // `npm run test:service` / `npm run test:store` run one of them (vitest --project).
    projects: [
      {
        extends: true,
        test: {
          name: "service",
          include: ["test/**/*.test.ts"],
          ...sharedStore,
          // The Roster processes tests start run from one bundle of src/main.ts per run.
          globalSetup: [...sharedStore.globalSetup, "test/fixtures/roster-main-bundle.ts"],
        },
      },
      { extends: true, test: { name: "store", include: ["src/embedded-mongo/test/**/*.test.ts"], ...sharedStore } },
    ],
  },
});
