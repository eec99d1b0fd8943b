/**
 * Per-file setup for the conformance suites: one test deployment, one client
 * and one private database that is dropped afterwards. Only the official
 * driver's public API is used, so every suite runs unchanged against a real
 * replica set (`MONGODB_URI=... npx vitest run src/embedded-mongo/test/conformance`).
 */
import { afterAll, beforeAll } from "vitest";
import { MongoBulkWriteError, MongoClient, MongoServerError, type Collection, type CommandSucceededEvent, type Db, type Document, type MongoClientOptions } from "mongodb";
import { startTestMongo, uniqueDbName, type TestMongo, type TestMongoOptions } from "../../testing.ts";

export interface ConformanceContext {
  readonly mongo: TestMongo;
  readonly client: MongoClient;
  readonly db: Db;
  /** Opens another client to the same deployment; closed with the suite. */
  newClient(options?: MongoClientOptions): Promise<MongoClient>;
}

/**
 * A document whose `_id` may be any BSON value. The driver's default schema
 * types `_id` as ObjectId, while these suites use numbers and strings as ids.
 */
export interface TestDoc extends Document {
  _id?: string | number | boolean | null | object;
}

/** Keeps a broken server from stalling a test for the driver's 30 s default. */
export const clientOptions: MongoClientOptions = { serverSelectionTimeoutMS: 10_000 };

/**
 * Registers beforeAll/afterAll hooks and returns an accessor for the context,
 * valid inside tests and hooks of the calling file.
 */
export function useConformanceDb(prefix: string, options: TestMongoOptions = {}): () => ConformanceContext {
  let context: ConformanceContext | undefined;
  const extraClients: MongoClient[] = [];

  beforeAll(async () => {
    const mongo = await startTestMongo(options);
    const client = new MongoClient(mongo.uri, clientOptions);
    await client.connect();
    const newClient = async (options: MongoClientOptions = {}): Promise<MongoClient> => {
      const extra = new MongoClient(mongo.uri, { ...clientOptions, ...options });
      extraClients.push(extra);
      await extra.connect();
      return extra;
    };
    context = { mongo, client, db: client.db(uniqueDbName(prefix)), newClient };
  });

  afterAll(async () => {
    if (!context) return;
    const { mongo, client, db } = context;
    try {
      await db.dropDatabase();
    } finally {
      await Promise.allSettled(extraClients.map((c) => c.close()));
      await client.close();
      await mongo.stop();
    }
  });

  return () => {
    if (!context) throw new Error("conformance context used outside a test (beforeAll has not run or failed)");
    return context;
  };
}

/** Awaits `promise`, expecting it to reject with a MongoServerError, and returns that error. */
export async function expectServerError(promise: Promise<unknown>): Promise<MongoServerError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MongoServerError) return error;
    throw new Error(`expected a MongoServerError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a MongoServerError, but the operation succeeded");
}

/** Awaits `promise`, expecting it to reject with a MongoBulkWriteError (insertMany, bulkWrite), and returns that error. */
export async function expectBulkError(promise: Promise<unknown>): Promise<MongoBulkWriteError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MongoBulkWriteError) return error;
    throw new Error(`expected a MongoBulkWriteError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a MongoBulkWriteError, but the write succeeded");
}

/**
 * Collects the replies of one command name on a client created with
 * `monitorCommands: true`; used where the driver's public error objects drop
 * reply fields (bulk write errors keep neither keyPattern nor keyValue).
 */
export function recordReplies(client: MongoClient, commandName: string): CommandSucceededEvent[] {
  const replies: CommandSucceededEvent[] = [];
  client.on("commandSucceeded", (event) => {
    if (event.commandName === commandName) replies.push(event);
  });
  return replies;
}

/** The listIndexes command through the driver's cursor, whose documents are untyped. */
export async function listIndexes(coll: Collection<TestDoc>): Promise<Document[]> {
  const specs: unknown[] = await coll.listIndexes().toArray();
  return specs as Document[];
}
