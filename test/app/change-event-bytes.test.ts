/**
 * The read model's change stream read raw: what change-event-bytes.ts reads
 * of an event's bytes equals what the bson library decodes of the same
 * bytes (for events a store sent, and for a document holding every BSON
 * type before the field read), and the raw cursor keeps the driver's resume
 * rules: one session for the cursor's commands, opened again once after a
 * resumable error without losing or repeating an event, a non-resumable
 * error thrown, and opened again from its position after `reopen`.
 */
import {
  Binary,
  BSON,
  BSONRegExp,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  MongoClient,
  MongoServerError,
  ObjectId,
  Timestamp,
  type CommandStartedEvent,
  type Document,
} from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { clusterTime } from "../../src/domain/consistency.ts";
import { readChangeEventHead, stringFieldAt } from "../../src/storage/change-event-bytes.ts";
import { clusterTimeOf } from "../../src/storage/cluster-time.ts";
import type { Database } from "../../src/storage/database.ts";
import { openRawChangeCursor, type RawChangeCursor } from "../../src/storage/raw-change-cursor.ts";
import { failCommand } from "../fixtures/read-model-replicas.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";

let mongo: TestMongo;
let client: MongoClient;
let admin: MongoClient;
const commands: CommandStartedEvent[] = [];

beforeAll(async () => {
  mongo = await startTestMongo({ enableTestCommands: true });
  client = new MongoClient(mongo.uri, { monitorCommands: true, appName: "raw-change-cursor" });
  client.on("commandStarted", (event) => commands.push(event));
  admin = new MongoClient(mongo.uri);
  await Promise.all([client.connect(), admin.connect()]);
});

afterEach(async () => {
  await failCommand(admin, "off");
});

afterAll(async () => {
  await client.close();
  await admin.close();
  await mongo.stop();
});

/** The document at `at` in `bytes`, as the library decodes it. */
function documentAt(bytes: Uint8Array, at: number): Document {
  return BSON.deserialize(bytes, { index: at, allowObjectSmallerThanBufferSize: true });
}

/** A document with a field of every BSON type a server sends, then `member` (the reader skips them all to reach it). */
function everyTypeThenMember(member: string): Document {
  return {
    _id: new ObjectId(),
    double: new Double(1.5),
    string: "é ü ✓",
    document: { nested: { deeper: [1, "two"] } },
    array: [new Int32(1), { inArray: true }],
    binary: new Binary(Buffer.from([1, 2, 3, 0, 4]), 4),
    undefinedValue: undefined,
    objectId: new ObjectId(),
    boolean: true,
    date: new Date(1_700_000_000_123),
    nullValue: null,
    regex: new BSONRegExp("^a.c$", "i"),
    code: new Code("function () { return 1; }"),
    int32: new Int32(-7),
    timestamp: new Timestamp({ t: 5, i: 6 }),
    int64: Long.fromString("9007199254740993"),
    decimal: Decimal128.fromString("1.23E+4"),
    minKey: new MinKey(),
    maxKey: new MaxKey(),
    member,
    after: "a field after member",
  };
}

describe("reading an event's bytes", () => {
  it("reads the head and a string field as the library decodes them, past a field of every BSON type", () => {
    const fullDocument = everyTypeThenMember("user:ümlaut");
    const event = {
      _id: { _data: "8200000001000000012B0429296E1404" },
      operationType: "insert",
      clusterTime: new Timestamp({ t: 1_733_490_000, i: 42 }),
      wallTime: new Date(1_733_490_000_123),
      ns: { db: "roster", coll: "memberships" },
      documentKey: { _id: fullDocument["_id"] as ObjectId },
      fullDocument,
    };
    const bytes = BSON.serialize(event, { ignoreUndefined: false });
    const head = readChangeEventHead(bytes);
    expect(head).toEqual({
      operationType: "insert",
      coll: "memberships",
      time: clusterTime(1_733_490_000, 42),
      wallTime: 1_733_490_000_123,
      fullDocumentAt: head.fullDocumentAt,
    });
    const decoded = documentAt(bytes, head.fullDocumentAt);
    expect(decoded).toEqual(BSON.deserialize(bytes)["fullDocument"]);
    expect(stringFieldAt(bytes, head.fullDocumentAt, "member")).toBe("user:ümlaut");
    expect(stringFieldAt(bytes, head.fullDocumentAt, "after")).toBe("a field after member");
    // Not a string, or absent: undefined.
    expect(stringFieldAt(bytes, head.fullDocumentAt, "int32")).toBeUndefined();
    expect(stringFieldAt(bytes, head.fullDocumentAt, "absent")).toBeUndefined();
  });

  it("reads a wall time before 1970 (a negative int64) as the library does", () => {
    const wallTime = new Date(-86_400_000 * 365 - 123);
    const bytes = BSON.serialize({ operationType: "insert", clusterTime: new Timestamp({ t: 1, i: 1 }), wallTime });
    expect(readChangeEventHead(bytes).wallTime).toBe(wallTime.getTime());
  });

  it("reads an event without a collection, wall time or full document as such", () => {
    const bytes = BSON.serialize({
      _id: { _data: "82" },
      operationType: "dropDatabase",
      clusterTime: new Timestamp({ t: 7, i: 1 }),
      ns: { db: "roster" },
      fullDocument: null,
    });
    expect(readChangeEventHead(bytes)).toEqual({
      operationType: "dropDatabase",
      coll: "",
      time: clusterTime(7, 1),
      wallTime: undefined,
      fullDocumentAt: -1,
    });
  });
});

describe("the raw change cursor", () => {
  let dbName: string;
  let cursor: RawChangeCursor;

  /** A raw cursor on a new database, from just after now; the first batch is read (the stream is open). */
  async function openOnNewDatabase(): Promise<void> {
    dbName = uniqueDbName("raw-cursor");
    const database: Database = { client, db: client.db(dbName) };
    const { operationTime } = await client.db(dbName).command({ ping: 1 });
    cursor = openRawChangeCursor(database, [], {
      after: clusterTimeOf(operationTime as Timestamp),
      batchSize: 1_000,
      maxAwaitMs: 50,
    });
    await cursor.next();
  }

  afterEach(async () => {
    await cursor.close();
  });

  /** Reads until `count` events came (or a second passed); each as the library decodes it. */
  async function readEvents(count: number): Promise<Document[]> {
    const events: Document[] = [];
    const until = Date.now() + 1_000;
    while (events.length < count && Date.now() < until) {
      for (const bytes of (await cursor.next()).events) events.push(BSON.deserialize(bytes));
    }
    return events;
  }

  it("reads events as the store sent them, with the head the reader reads, in one session", async () => {
    await openOnNewDatabase();
    commands.length = 0;
    await client.db(dbName).collection("memberships").insertOne({ groupId: "g", member: "user:a", role: "MEMBER" });
    await client
      .db(dbName)
      .collection("groups")
      .updateOne({ _id: "nothing" as never }, { $set: { a: 1 } }, { upsert: true });
    const raw: Uint8Array[] = [];
    const until = Date.now() + 1_000;
    while (raw.length < 2 && Date.now() < until) raw.push(...(await cursor.next()).events);
    expect(raw).toHaveLength(2);
    for (const bytes of raw) {
      const decoded = BSON.deserialize(bytes);
      const head = readChangeEventHead(bytes);
      expect(head.operationType).toBe(decoded["operationType"]);
      expect(head.coll).toBe((decoded["ns"] as { coll: string }).coll);
      expect(head.time).toBe(clusterTimeOf(decoded["clusterTime"] as Timestamp));
      expect(head.wallTime).toBe((decoded["wallTime"] as Date).getTime());
      expect(documentAt(bytes, head.fullDocumentAt)).toEqual(decoded["fullDocument"]);
    }
    expect(stringFieldAt(raw[0] ?? new Uint8Array(), readChangeEventHead(raw[0] ?? new Uint8Array()).fullDocumentAt, "member")).toBe(
      "user:a",
    );
    const getMores = commands.filter((event) => event.commandName === "getMore");
    expect(getMores.length).toBeGreaterThan(0);
    const sessions = new Set(getMores.map((event) => (event.command["lsid"] as { id: Binary }).id.toString("hex")));
    expect(sessions.size).toBe(1);
  });

  it("opens again once after a resumable error, losing and repeating no event", async () => {
    await openOnNewDatabase();
    const members = client.db(dbName).collection("memberships");
    await members.insertOne({ groupId: "g", member: "user:1" });
    expect((await readEvents(1)).map((e) => (e["fullDocument"] as { member: string }).member)).toEqual(["user:1"]);
    await members.insertOne({ groupId: "g", member: "user:2" });
    // A fail point's error carries the labels it is given (as mongod's): this one is resumable.
    await failCommand(
      admin,
      { times: 1 },
      { failCommands: ["getMore"], errorCode: 6, errorLabels: ["ResumableChangeStreamError"], appName: "raw-change-cursor" },
    );
    commands.length = 0;
    await members.insertOne({ groupId: "g", member: "user:3" });
    expect((await readEvents(2)).map((e) => (e["fullDocument"] as { member: string }).member)).toEqual(["user:2", "user:3"]);
    expect(commands.filter((event) => event.commandName === "aggregate" && event.databaseName === dbName)).toHaveLength(1);
  });

  it("throws a non-resumable error; after reopen it goes on from its position", async () => {
    await openOnNewDatabase();
    const members = client.db(dbName).collection("memberships");
    await members.insertOne({ groupId: "g", member: "user:1" });
    expect(await readEvents(1)).toHaveLength(1);
    await failCommand(admin, { times: 1 }, { failCommands: ["getMore"], errorCode: 2, appName: "raw-change-cursor" });
    await members.insertOne({ groupId: "g", member: "user:2" });
    const failed = await cursor.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(MongoServerError);
    expect((failed as MongoServerError).code).toBe(2);
    await cursor.reopen();
    await members.insertOne({ groupId: "g", member: "user:3" });
    expect((await readEvents(2)).map((e) => (e["fullDocument"] as { member: string }).member)).toEqual(["user:2", "user:3"]);
  });

  it("refuses to read once closed", async () => {
    await openOnNewDatabase();
    await cursor.close();
    await expect(cursor.next()).rejects.toThrow("the change stream is closed");
  });
});
