/**
 * What a test suite needs to run against MongoDB: a deployment (a real one
 * when `MONGODB_URI` is set, so the same suites can be run against MongoDB
 * itself, otherwise this package's store started in-process on a free port)
 * and database names no other suite will use, so suites can share one.
 */
import { startEmbeddedMongo } from "./index.ts";

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

/** Uses `MONGODB_URI` when set, else starts the embedded store on port 0. */
export async function startTestMongo(options: TestMongoOptions = {}): Promise<TestMongo> {
  const external = process.env["MONGODB_URI"];
  if (external !== undefined && external !== "") {
    return { uri: external, embedded: false, stop: () => Promise.resolve() };
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
