/**
 * What a test suite needs to run against MongoDB: a deployment (a real one
 * when `MONGODB_URI` is set, so the same suites can be run against MongoDB
 * itself; else the store a test run shares, when its runner started one;
 * else this package's store started in-process on a free port) and database
 * names no other suite will use, so suites can share one.
 */
import { spawnEmbeddedMongo, startEmbeddedMongo } from "./index.ts";

/**
 * The URI of the store a whole test run shares, set in every test process by
 * the runner's setup (see `startSharedTestMongo`). A variable rather than a
 * module: test files run in separate processes and module graphs.
 */
export const sharedTestMongoVariable = "EMBEDDED_MONGO_SHARED_URI";

export interface TestMongo {
  /** Connection string for `new MongoClient(uri)`. */
  readonly uri: string;
  /** True when this is the embedded store rather than `MONGODB_URI`. */
  readonly embedded: boolean;
  /** Stops the embedded store; a no-op for an external deployment. */
  stop(): Promise<void>;
}

export interface TestMongoOptions {
  /**
   * Test commands (configureFailPoint), as mongod's `enableTestCommands`. A
   * deployment given by MONGODB_URI must have been started with them.
   */
  readonly enableTestCommands?: boolean;
}

/**
 * Uses `MONGODB_URI` when set, else the run's shared store, else starts the
 * embedded store on port 0. Test commands (fail points act on every client of
 * a deployment) always get a store of their own, so they cannot reach
 * another suite.
 */
export async function startTestMongo(options: TestMongoOptions = {}): Promise<TestMongo> {
  const external = process.env["MONGODB_URI"];
  if (external !== undefined && external !== "") {
    return { uri: external, embedded: false, stop: () => Promise.resolve() };
  }
  const shared = process.env[sharedTestMongoVariable];
  if (shared !== undefined && shared !== "" && options.enableTestCommands !== true) {
    return { uri: shared, embedded: true, stop: () => Promise.resolve() };
  }
  const server = await startEmbeddedMongo({ port: 0, enableTestCommands: options.enableTestCommands === true });
  return { uri: server.uri, embedded: true, stop: () => server.stop() };
}

/** MongoDB rejects database names of 64 bytes or more. */
const maxDbNameLength = 63;
/** Characters MongoDB forbids in database names (any platform), plus anything non-ASCII. */
const forbiddenDbNameChars = /[^A-Za-z0-9_-]/g;
let dbNameCounter = 0;

/**
 * A database name no other suite, worker or earlier run will use, so suites can
 * share one deployment: `${prefix}_${pid}_${counter}_${random}`. The prefix is
 * sanitised and shortened to keep the whole name within MongoDB's limit.
 */
export function uniqueDbName(prefix: string): string {
  dbNameCounter += 1;
  const random = Math.random().toString(36).slice(2, 8).padEnd(6, "0");
  const suffix = `_${process.pid}_${dbNameCounter}_${random}`;
  const safePrefix = (prefix.replace(forbiddenDbNameChars, "_") || "test").slice(0, maxDbNameLength - suffix.length);
  return `${safePrefix}${suffix}`;
}

/**
 * For a test runner's global setup: starts a store the suites of a worker
 * share (in a process of its own, so its work never waits on the runner's), unless
 * `MONGODB_URI` names a deployment. Give the URI to the test processes as
 * `sharedTestMongoVariable`; call `stop` at teardown.
 */
export async function startSharedTestMongo(): Promise<{ readonly uri: string | undefined; stop(): Promise<void> }> {
  const external = process.env["MONGODB_URI"];
  if (external !== undefined && external !== "") return { uri: undefined, stop: () => Promise.resolve() };
  const server = await spawnEmbeddedMongo();
  return {
    uri: server.uri,
    async stop() {
      await server.stop();
    },
  };
}
