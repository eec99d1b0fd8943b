import { defineConfig } from "vitest/config";

/**
 * What both projects share. Spread into each rather than inherited from the
 * root config (`extends: true`): a project that extends the root takes its
 * global setup too, and the run's setup must run once, not once per project.
 */
const projectDefaults = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // Test files of a worker share one module graph (the driver, grpc-js and the
  // store load once per worker, not once per file); suites keep no state in
  // shared modules beyond what they undo in their hooks. The pools read it
  // from the root config (a worker per file otherwise), the workers from
  // their project's: both say it.
  isolate: false,
  // A store per worker, a database per suite: the worker's store's URI.
  setupFiles: ["src/embedded-mongo/test/fixtures/shared-store-env.ts"],
};

/**
 * Workers per pool. The suites mostly wait (on servers and processes they
 * start, on the store, on timers): two workers kept about 1.2 of 2 cores
 * busy. The minimum equals the maximum: tinypool 1.1 removes a worker that
 * goes idle while more than the minimum run, and a worker it is already
 * removing can be handed that idle removal again (its teardown reply makes
 * it "available"), so the second removal's teardown is cut short by the
 * first one's termination: the run ended in an unhandled "Terminating worker
 * thread" once the queue ran dry with three or more workers.
 */
const serviceWorkers = 4;
const storeWorkers = 2;

export default defineConfig({
  test: {
    reporters: ["default", "./test/reporters/summary.ts"],
    isolate: projectDefaults.isolate,
    // Once for the run: the stores of every project's workers, started at
    // once, and the bundle of src/main.ts the Roster processes the service's
    // tests start run from.
    globalSetup: ["src/embedded-mongo/test/fixtures/shared-store-setup.ts", "test/fixtures/roster-main-bundle.ts"],
    poolOptions: {
      forks: { maxForks: serviceWorkers, minForks: serviceWorkers },
      threads: { maxThreads: storeWorkers, minThreads: storeWorkers },
    },
    // `npm run test:service` / `npm run test:store` run one of them (vitest --project).
    projects: [
      {
        test: {
          name: "service",
          include: ["test/**/*.test.ts"],
          ...projectDefaults,
          // Suites start real servers on port 0; the service's run in child processes.
          pool: "forks",
        },
      },
      {
        test: {
          name: "store",
          include: ["src/embedded-mongo/test/**/*.test.ts"],
          ...projectDefaults,
          // A pool of its own, so the two projects run side by side: with
          // isolate off, vitest runs a pool's projects one after the other.
          // The store's suites touch no process-wide state (no chdir, exit
          // or signals to themselves), so worker threads suit them.
          pool: "threads",
        },
      },
    ],
  },
});
