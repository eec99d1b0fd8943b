/**
 * Cluster time: every reply carries `operationTime` and `$clusterTime`; a
 * write's operationTime is the cluster time of its change event (one time for
 * all events of a transaction, which also carry the session and txnNumber);
 * causally consistent sessions read after their writes; afterClusterTime and
 * startAtOperationTime behave as in MongoDB.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  Timestamp,
  type ChangeStream,
  type ClientSession,
  type Collection,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Document,
  type MongoClient,
} from "mongodb";
import { expectServerError, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("clustertime");
const streams: ChangeStream<Document, Document>[] = [];
const sessions: ClientSession[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.allSettled(streams.splice(0).map((s) => s.close()));
  await Promise.allSettled(sessions.splice(0).map((s) => s.endSession()));
});

interface Monitored {
  readonly client: MongoClient;
  readonly coll: Collection<TestDoc>;
  readonly started: CommandStartedEvent[];
  readonly succeeded: CommandSucceededEvent[];
}

/** A client recording its commands, and a fresh collection seen through it. */
async function monitored(): Promise<Monitored> {
  counter += 1;
  const client = await ctx().newClient({ monitorCommands: true });
  const started: CommandStartedEvent[] = [];
  const succeeded: CommandSucceededEvent[] = [];
  client.on("commandStarted", (e) => started.push(e));
  client.on("commandSucceeded", (e) => succeeded.push(e));
  await ctx().db.createCollection(`ct_${counter}`);
  return { client, coll: client.db(ctx().db.databaseName).collection<TestDoc>(`ct_${counter}`), started, succeeded };
}

function lastReply(m: Monitored, command: string): Document {
  const event = m.succeeded.filter((e) => e.commandName === command).at(-1);
  if (event === undefined) throw new Error(`no ${command} reply recorded`);
  return event.reply as Document;
}

/** The BSON type of a value by its tag (the driver decodes with its own copy of the bson classes). */
function bsonType(value: unknown): unknown {
  return typeof value === "object" && value !== null ? (value as { _bsontype?: unknown })._bsontype : typeof value;
}

function timestampOf(value: unknown): Timestamp {
  if (bsonType(value) !== "Timestamp") throw new Error(`expected a Timestamp, got ${String(value)}`);
  return value as Timestamp;
}

function after(a: Timestamp, b: Timestamp): boolean {
  return a.t > b.t || (a.t === b.t && a.i > b.i);
}

async function watch(coll: Collection<TestDoc>, options: Document = {}): Promise<ChangeStream<Document, Document>> {
  const stream = coll.watch<Document, Document>([], { maxAwaitTimeMS: 200, ...options });
  streams.push(stream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

async function nextEvents(stream: ChangeStream<Document, Document>, count: number): Promise<Document[]> {
  const events: Document[] = [];
  const deadline = Date.now() + 10_000;
  while (events.length < count && Date.now() < deadline) {
    const event = await stream.tryNext();
    if (event !== null) events.push(event);
  }
  return events;
}

describe("replies", () => {
  it("carry operationTime and $clusterTime (with the signature of a keyless deployment's clock) on success and on error", async () => {
    const m = await monitored();
    await m.coll.insertOne({ _id: 1 });
    await m.coll.find().toArray();
    await m.client.db(ctx().db.databaseName).command({ ping: 1 });
    for (const command of ["insert", "find", "ping"]) {
      const reply = lastReply(m, command);
      expect(bsonType(reply["operationTime"])).toBe("Timestamp");
      const clusterTime = reply["$clusterTime"] as Document;
      expect(bsonType(clusterTime["clusterTime"])).toBe("Timestamp");
      const signature = clusterTime["signature"] as Document;
      expect(Object.keys(signature).sort()).toEqual(["hash", "keyId"]);
      expect(bsonType(signature["hash"])).toBe("Binary");
    }
    const error = await expectServerError(m.client.db(ctx().db.databaseName).command({ find: m.coll.collectionName, filter: 1 }));
    expect(bsonType(error["operationTime"])).toBe("Timestamp");
    expect(bsonType((error["$clusterTime"] as Document | undefined)?.["clusterTime"])).toBe("Timestamp");
  });

  it("a write's operationTime increases from write to write and is its change event's clusterTime", async () => {
    const m = await monitored();
    const stream = await watch(m.coll);
    await m.coll.insertOne({ _id: "a" });
    const first = timestampOf(lastReply(m, "insert")["operationTime"]);
    await m.coll.updateOne({ _id: "a" }, { $set: { v: 1 } });
    const second = timestampOf(lastReply(m, "update")["operationTime"]);
    expect(after(second, first)).toBe(true);
    const [insert, update] = await nextEvents(stream, 2);
    expect(timestampOf(insert?.["clusterTime"]).equals(first)).toBe(true);
    expect(timestampOf(update?.["clusterTime"]).equals(second)).toBe(true);
    const clusterTime = timestampOf((lastReply(m, "update")["$clusterTime"] as Document)["clusterTime"]);
    expect(after(second, clusterTime)).toBe(false);
  });
});

describe("transactions in change streams", () => {
  it("every event of a transaction has the commit's cluster time and carries lsid and txnNumber", async () => {
    const m = await monitored();
    await m.coll.insertOne({ _id: "z", v: 0 });
    const stream = await watch(m.coll);
    const session = m.client.startSession();
    sessions.push(session);
    await session.withTransaction(async () => {
      await m.coll.insertOne({ _id: "x" }, { session });
      await m.coll.insertOne({ _id: "y" }, { session });
      await m.coll.updateOne({ _id: "z" }, { $set: { v: 1 } }, { session });
    });
    await m.coll.insertOne({ _id: "outside" });
    const commitTime = timestampOf(lastReply(m, "commitTransaction")["operationTime"]);
    const commit = m.started.filter((e) => e.commandName === "commitTransaction").at(-1)?.command;
    const events = await nextEvents(stream, 4);
    expect(events.map((e): unknown => e["operationType"])).toEqual(["insert", "insert", "update", "insert"]);
    const [x, y, z, outside] = events;
    for (const event of [x, y, z]) {
      expect(timestampOf(event?.["clusterTime"]).equals(commitTime)).toBe(true);
      const lsid = event?.["lsid"] as Document;
      expect(Buffer.from((lsid["id"] as { buffer: Uint8Array }).buffer).toString("hex")).toBe(
        Buffer.from((session.id?.["id"] as { buffer: Uint8Array }).buffer).toString("hex"),
      );
      expect(String(event?.["txnNumber"])).toBe(String(commit?.["txnNumber"]));
    }
    expect(after(timestampOf(outside?.["clusterTime"]), commitTime)).toBe(true);
    expect(outside?.["lsid"]).toBeUndefined();
    expect(outside?.["txnNumber"]).toBeUndefined();
  });
});

describe("causal consistency", () => {
  it("a read in a causally consistent session waits for (and sees) the session's write", async () => {
    const m = await monitored();
    const session = m.client.startSession({ causalConsistency: true });
    sessions.push(session);
    await m.coll.insertOne({ _id: 1, v: "mine" }, { session });
    const written = timestampOf(lastReply(m, "insert")["operationTime"]);
    expect(session.operationTime?.equals(written)).toBe(true);
    expect(await m.coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1, v: "mine" });
    const find = m.started.filter((e) => e.commandName === "find").at(-1)?.command;
    expect(timestampOf((find?.["readConcern"] as Document | undefined)?.["afterClusterTime"]).equals(written)).toBe(true);
  });

  it("majority reads after a write's cluster time see it", async () => {
    const m = await monitored();
    await m.coll.insertOne({ _id: 1 });
    const written = timestampOf(lastReply(m, "insert")["operationTime"]);
    const reply = await m.client
      .db(ctx().db.databaseName)
      .command({ find: m.coll.collectionName, filter: {}, readConcern: { level: "majority", afterClusterTime: written } });
    expect((reply["cursor"] as Document)["firstBatch"]).toEqual([{ _id: 1 }]);
  });

  it("refuses an afterClusterTime past the cluster time (InvalidOptions, 72)", async () => {
    const m = await monitored();
    const future = new Timestamp({ t: Math.floor(Date.now() / 1000) + 3_600, i: 1 });
    const error = await expectServerError(
      m.client.db(ctx().db.databaseName).command({ find: m.coll.collectionName, filter: {}, readConcern: { afterClusterTime: future } }),
    );
    expect(error.code).toBe(72);
    expect(error.message).toContain("readConcern afterClusterTime value must not be greater than the current clusterTime");
  });
});

describe("snapshot sessions", () => {
  it("read one snapshot, at the cluster time the first read reports, while others write", async () => {
    const m = await monitored();
    await m.coll.insertMany([
      { _id: 1, v: "before" },
      { _id: 2, v: "before" },
    ]);
    const session = m.client.startSession({ snapshot: true });
    sessions.push(session);
    expect(await m.coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1, v: "before" });
    const firstFind = lastReply(m, "find");
    const atClusterTime = timestampOf((firstFind["cursor"] as Document)["atClusterTime"]);
    await ctx()
      .db.collection<TestDoc>(m.coll.collectionName)
      .updateMany({}, { $set: { v: "after" } });
    expect(await m.coll.find({}, { session }).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: "before" },
      { _id: 2, v: "before" },
    ]);
    const secondFind = m.started.filter((e) => e.commandName === "find").at(-1)?.command;
    expect(timestampOf((secondFind?.["readConcern"] as Document | undefined)?.["atClusterTime"]).equals(atClusterTime)).toBe(true);
    expect(await m.coll.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: "after" },
      { _id: 2, v: "after" },
    ]);
  });
});

describe("startAtOperationTime", () => {
  it("a stream started at a write's operationTime reports that write and the later ones only", async () => {
    const m = await monitored();
    await m.coll.insertOne({ _id: "early" });
    await m.coll.insertOne({ _id: "start" });
    const start = timestampOf(lastReply(m, "insert")["operationTime"]);
    await m.coll.insertOne({ _id: "late" });
    const stream = m.coll.watch<Document, Document>([], { startAtOperationTime: start, maxAwaitTimeMS: 200 });
    streams.push(stream);
    const events = await nextEvents(stream, 2);
    expect(events.map((e): unknown => (e["documentKey"] as Document)["_id"])).toEqual(["start", "late"]);
  });
});
