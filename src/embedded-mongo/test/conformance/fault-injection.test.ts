/**
 * Fault injection through mongod's test-only fail points, as Roster's own
 * tests use it to prove retry and error handling against the real driver:
 * failCommand (error codes and labels, closeConnection, blockConnection,
 * writeConcernError, appName, times/skip), failGetMoreAfterCursorCheckout and
 * onPrimaryTransactionalWrite. Needs a deployment with test commands enabled
 * (the embedded store's `enableTestCommands`, mongod's
 * `--setParameter enableTestCommands=1`); failCommand is scoped to each
 * test's own client by appName.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  MongoClient,
  MongoServerError,
  MongoWriteConcernError,
  type ChangeStream,
  type Collection,
  type CommandFailedEvent,
  type CommandStartedEvent,
  type Db,
  type Document,
  type MongoClientOptions,
} from "mongodb";
import { startTestMongo } from "../../testing.ts";
import { clientOptions, expectServerError, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("faults", { enableTestCommands: true });
const externalDeployment = Boolean(process.env["MONGODB_URI"]);
const streams: ChangeStream<Document, Document>[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.allSettled(streams.splice(0).map((s) => s.close()));
  const admin = ctx().client.db("admin");
  for (const name of ["failCommand", "failGetMoreAfterCursorCheckout", "onPrimaryTransactionalWrite"]) {
    await admin.command({ configureFailPoint: name, mode: "off" });
  }
});

interface Observed {
  readonly client: MongoClient;
  readonly appName: string;
  readonly started: CommandStartedEvent[];
  readonly failed: CommandFailedEvent[];
}

/** A client of its own (its appName scopes failCommand to it), recording its commands. */
async function observedClient(options: MongoClientOptions = {}): Promise<Observed> {
  counter += 1;
  const appName = `fault-test-${process.pid}-${counter}`;
  const client = await ctx().newClient({ appName, monitorCommands: true, ...options });
  const started: CommandStartedEvent[] = [];
  const failed: CommandFailedEvent[] = [];
  client.on("commandStarted", (e) => started.push(e));
  client.on("commandFailed", (e) => failed.push(e));
  return { client, appName, started, failed };
}

async function failCommand(mode: unknown, data: Document): Promise<void> {
  await ctx().client.db("admin").command({ configureFailPoint: "failCommand", mode, data });
}

function collectionFor(observed: Observed, name: string): Collection<TestDoc> {
  return observed.client.db(ctx().db.databaseName).collection<TestDoc>(name);
}

const count = (events: readonly { commandName: string }[], name: string): number => events.filter((e) => e.commandName === name).length;

function codeOf(failure: Error): unknown {
  return failure instanceof MongoServerError ? failure.code : failure.name;
}

describe.skipIf(externalDeployment)("without test commands (embedded only: a MONGODB_URI deployment decides for itself)", () => {
  it("configureFailPoint is CommandNotFound, as on a production mongod", async () => {
    const plain = await startTestMongo();
    const other = new MongoClient(plain.uri, clientOptions);
    try {
      await other.connect();
      const error = await expectServerError(
        other.db("admin").command({ configureFailPoint: "failCommand", mode: "alwaysOn", data: { failCommands: ["ping"] } }),
      );
      expect([error.code, error.codeName]).toEqual([59, "CommandNotFound"]);
    } finally {
      await other.close();
      await plain.stop();
    }
  });
});

describe("failCommand", () => {
  it("an error code the server labels retryable makes the driver retry a write once, which then succeeds", async () => {
    const observed = await observedClient();
    await failCommand({ times: 1 }, { failCommands: ["insert"], errorCode: 91, appName: observed.appName });
    const coll = collectionFor(observed, "retried");
    await coll.insertOne({ _id: 1 });
    expect(count(observed.started, "insert")).toBe(2);
    expect(observed.failed.map((e) => codeOf(e.failure))).toEqual([91]);
    expect(await ctx().db.collection<TestDoc>("retried").find().toArray()).toEqual([{ _id: 1 }]);
  });

  it("without retryable writes the error reaches the caller as is (the server labels only retryable writes)", async () => {
    const observed = await observedClient({ retryWrites: false });
    await failCommand({ times: 1 }, { failCommands: ["insert"], errorCode: 91, appName: observed.appName });
    const error = await expectServerError(collectionFor(observed, "unretried").insertOne({ _id: 1 }));
    expect([error.code, error.codeName, error.message]).toEqual([91, "ShutdownInProgress", "Failing command via 'failCommand' failpoint"]);
    expect(error.errorLabels).not.toContain("RetryableWriteError");
    expect(count(observed.started, "insert")).toBe(1);
  });

  it("errorLabels replace the server's own labels (none: no retry)", async () => {
    const observed = await observedClient();
    await failCommand({ times: 1 }, { failCommands: ["insert"], errorCode: 91, errorLabels: [], appName: observed.appName });
    const error = await expectServerError(collectionFor(observed, "labelled").insertOne({ _id: 1 }));
    expect(error.code).toBe(91);
    expect(error.errorLabels).not.toContain("RetryableWriteError");
    expect(count(observed.started, "insert")).toBe(1);
  });

  it("closeConnection drops the connection without a reply; the driver retries the read", async () => {
    const observed = await observedClient();
    await ctx().db.collection<TestDoc>("closed").insertOne({ _id: 1 });
    await failCommand({ times: 1 }, { failCommands: ["find"], closeConnection: true, appName: observed.appName });
    expect(await collectionFor(observed, "closed").find().toArray()).toEqual([{ _id: 1 }]);
    expect(count(observed.started, "find")).toBe(2);
    expect(observed.failed[0]?.failure.name).toBe("MongoNetworkError");
  });

  it("blockConnection delays the command by blockTimeMS", async () => {
    const observed = await observedClient();
    await failCommand({ times: 1 }, { failCommands: ["ping"], blockConnection: true, blockTimeMS: 400, appName: observed.appName });
    const started = Date.now();
    await observed.client.db("admin").command({ ping: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });

  it("writeConcernError answers an applied write with that write concern error", async () => {
    const observed = await observedClient();
    await failCommand(
      { times: 1 },
      {
        failCommands: ["insert"],
        writeConcernError: {
          code: 64,
          codeName: "WriteConcernFailed",
          errmsg: "waiting for replication timed out",
          errInfo: { wtimeout: true },
        },
        appName: observed.appName,
      },
    );
    const error = await collectionFor(observed, "wce")
      .insertOne({ _id: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    expect([(error as MongoWriteConcernError).code, (error as MongoWriteConcernError).message]).toEqual([
      64,
      "waiting for replication timed out",
    ]);
    expect(await ctx().db.collection<TestDoc>("wce").find().toArray()).toEqual([{ _id: 1 }]);
  });

  it("appName limits it to one client; skip lets the first matches through", async () => {
    const victim = await observedClient();
    const bystander = await observedClient();
    await failCommand({ skip: 1 }, { failCommands: ["count"], errorCode: 2, appName: victim.appName });
    const db = (o: Observed): Db => o.client.db(ctx().db.databaseName);
    await db(victim).command({ count: "skip" });
    expect((await expectServerError(db(victim).command({ count: "skip" }))).code).toBe(2);
    expect((await expectServerError(db(victim).command({ count: "skip" }))).code).toBe(2);
    await db(bystander).command({ count: "skip" });
    const off = await ctx().client.db("admin").command({ configureFailPoint: "failCommand", mode: "off" });
    expect(off["count"]).toBe(2);
    await db(victim).command({ count: "skip" });
  });

  it("a transient error inside a transaction makes withTransaction retry the whole transaction", async () => {
    const observed = await observedClient();
    await ctx().db.createCollection("txn_retry");
    await failCommand({ times: 1 }, { failCommands: ["insert"], errorCode: 112, appName: observed.appName });
    const session = observed.client.startSession();
    try {
      await session.withTransaction(async () => {
        await collectionFor(observed, "txn_retry").insertOne({ _id: 1 }, { session });
      });
    } finally {
      await session.endSession();
    }
    expect(count(observed.started, "insert")).toBe(2);
    expect(await ctx().db.collection<TestDoc>("txn_retry").find().toArray()).toEqual([{ _id: 1 }]);
  });
});

describe("failGetMoreAfterCursorCheckout", () => {
  it("a resumable error on a change stream's getMore makes the driver resume without losing an event", async () => {
    const coll = await ctx().db.createCollection<TestDoc>("resumed");
    const stream = coll.watch<Document, Document>([], { maxAwaitTimeMS: 200 });
    streams.push(stream);
    expect(await stream.tryNext()).toBeNull();
    await ctx()
      .client.db("admin")
      .command({ configureFailPoint: "failGetMoreAfterCursorCheckout", mode: { times: 1 }, data: { errorCode: 6 } });
    await coll.insertOne({ _id: 1 });
    let event: Document | null = null;
    for (let i = 0; i < 50 && event === null; i++) event = await stream.tryNext();
    expect(event?.["documentKey"]).toEqual({ _id: 1 });
  });
});

describe("onPrimaryTransactionalWrite", () => {
  it("a retryable write whose connection closes after the commit is retried and applied once", async () => {
    const observed = await observedClient();
    await ctx()
      .client.db("admin")
      .command({ configureFailPoint: "onPrimaryTransactionalWrite", mode: { times: 1 } });
    const result = await collectionFor(observed, "once").updateOne({ _id: 1 }, { $inc: { n: 1 } }, { upsert: true });
    expect(result.upsertedCount).toBe(1);
    const attempts = observed.started.filter((e) => e.commandName === "update").map((e) => String(e.command["txnNumber"]));
    expect(attempts).toHaveLength(2);
    expect(new Set(attempts).size).toBe(1);
    expect(await ctx().db.collection<TestDoc>("once").find().toArray()).toEqual([{ _id: 1, n: 1 }]);
  });

  it("failBeforeCommitExceptionCode fails the write before it commits; the retry applies it once", async () => {
    const observed = await observedClient();
    await ctx()
      .client.db("admin")
      .command({
        configureFailPoint: "onPrimaryTransactionalWrite",
        mode: { times: 1 },
        data: { closeConnection: false, failBeforeCommitExceptionCode: 91 },
      });
    await collectionFor(observed, "before").insertOne({ _id: 1 });
    expect(observed.failed.map((e) => codeOf(e.failure))).toEqual([91]);
    expect(count(observed.started, "insert")).toBe(2);
    expect(await ctx().db.collection<TestDoc>("before").find().toArray()).toEqual([{ _id: 1 }]);
  });
});
