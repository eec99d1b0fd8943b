/**
 * Change streams through `collection.watch()`: event shapes per operation,
 * updateLookup, resuming (resumeAfter/startAfter), awaiting events with
 * maxAwaitTimeMS, pipelines, and transactions appearing only once committed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Timestamp, type ChangeStream, type ChangeStreamOptions, type Collection, type Document } from "mongodb";
import { uniqueDbName } from "../../testing.ts";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("changes");
const openStreams: ChangeStream<Document, Document>[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.allSettled(openStreams.splice(0).map((s) => s.close()));
});

async function freshCollection(): Promise<Collection<TestDoc>> {
  counter += 1;
  return ctx().db.createCollection<TestDoc>(`cs_${counter}`);
}

/**
 * Opens a stream and waits for its cursor to exist on the server, so that
 * writes made afterwards are guaranteed to be reported.
 */
async function watch(
  target: Collection<TestDoc>,
  pipeline: Document[] = [],
  options: ChangeStreamOptions = {},
): Promise<ChangeStream<Document, Document>> {
  const stream = target.watch<Document, Document>(pipeline, { maxAwaitTimeMS: 200, ...options });
  openStreams.push(stream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

/** `stream.next()`, bounded so a missing event fails the test with a clear message. */
async function nextChange(stream: ChangeStream<Document, Document>, timeoutMs = 10_000): Promise<Document> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no change event within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([stream.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("events", () => {
  it("reports insert, update, replace and delete with key, namespace and full document (updateLookup)", async () => {
    const coll = await freshCollection();
    const ns = { db: ctx().db.databaseName, coll: coll.collectionName };
    const stream = await watch(coll, [], { fullDocument: "updateLookup" });

    await coll.insertOne({ _id: 1, a: 1, b: 1 });
    const insert = await nextChange(stream);
    expect(insert).toMatchObject({ operationType: "insert", ns, documentKey: { _id: 1 }, fullDocument: { _id: 1, a: 1, b: 1 } });
    expect(insert._id).toBeDefined();
    expect(insert["clusterTime"]).toBeInstanceOf(Timestamp);

    await coll.updateOne({ _id: 1 }, { $set: { a: 2, "n.x": 1 }, $unset: { b: "" } });
    const update = await nextChange(stream);
    expect(update).toMatchObject({ operationType: "update", ns, documentKey: { _id: 1 }, fullDocument: { _id: 1, a: 2, n: { x: 1 } } });
    const description = update["updateDescription"] as Document;
    const updated = description["updatedFields"] as Document;
    expect(updated["a"]).toBe(2);
    // A $set creating a new sub-document is reported whole ({n: {x: 1}}) by MongoDB 5.0+
    // and as the dotted path ({"n.x": 1}) by older servers; either is faithful.
    expect("n.x" in updated ? { n: { x: updated["n.x"] as unknown } } : { n: updated["n"] as unknown }).toEqual({ n: { x: 1 } });
    expect(Object.keys(updated)).toHaveLength(2);
    expect(description["removedFields"]).toEqual(["b"]);

    await coll.replaceOne({ _id: 1 }, { c: 3 });
    const replace = await nextChange(stream);
    expect(replace).toMatchObject({ operationType: "replace", ns, documentKey: { _id: 1 }, fullDocument: { _id: 1, c: 3 } });

    await coll.deleteOne({ _id: 1 });
    const del = await nextChange(stream);
    expect(del).toMatchObject({ operationType: "delete", ns, documentKey: { _id: 1 } });
    expect(del["fullDocument"]).toBeUndefined();

    const tokens = [insert, update, replace, del].map((e) => JSON.stringify(e._id));
    expect(new Set(tokens).size).toBe(4);
  });

  it("update events carry no fullDocument by default", async () => {
    const coll = await freshCollection();
    await coll.insertOne({ _id: 1, a: 1 });
    const stream = await watch(coll);
    await coll.updateOne({ _id: 1 }, { $inc: { a: 1 } });
    const update = await nextChange(stream);
    expect(update["operationType"]).toBe("update");
    expect(update["fullDocument"]).toBeUndefined();
    expect((update["updateDescription"] as Document)["updatedFields"]).toEqual({ a: 2 });
  });

  it("updateLookup gives null for a document deleted before the event is read", async () => {
    const coll = await freshCollection();
    await coll.insertOne({ _id: 1, a: 1 });
    const stream = await watch(coll, [], { fullDocument: "updateLookup" });
    await coll.updateOne({ _id: 1 }, { $set: { a: 2 } });
    await coll.deleteOne({ _id: 1 });
    const update = await nextChange(stream);
    expect(update["operationType"]).toBe("update");
    expect(update["fullDocument"]).toBeNull();
    expect((await nextChange(stream))["operationType"]).toBe("delete");
  });

  it("a $match pipeline filters events", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll, [{ $match: { operationType: "insert", "fullDocument.keep": true } }]);
    await coll.insertOne({ _id: 1, keep: false });
    await coll.insertOne({ _id: 2, keep: true });
    await coll.updateOne({ _id: 2 }, { $set: { touched: true } });
    await coll.insertOne({ _id: 3, keep: true });
    expect((await nextChange(stream))["documentKey"]).toEqual({ _id: 2 });
    expect((await nextChange(stream))["documentKey"]).toEqual({ _id: 3 });
  });

  it("delivers many events in commit order across several batches", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll);
    await coll.insertMany(Array.from({ length: 120 }, (_, i) => ({ _id: i })));
    for (let i = 0; i < 30; i += 1) await coll.updateOne({ _id: i * 4 }, { $set: { touched: i } });
    const seen: string[] = [];
    for (let i = 0; i < 150; i += 1) {
      const event = await nextChange(stream);
      seen.push(`${event["operationType"] as string}:${JSON.stringify((event["documentKey"] as Document)["_id"])}`);
    }
    expect(seen).toEqual([
      ...Array.from({ length: 120 }, (_, i) => `insert:${i}`),
      ...Array.from({ length: 30 }, (_, i) => `update:${i * 4}`),
    ]);
  });

  it("only reports changes of the watched collection", async () => {
    const coll = await freshCollection();
    const other = await freshCollection();
    const stream = await watch(coll);
    await other.insertOne({ _id: "elsewhere" });
    await coll.insertOne({ _id: "here" });
    expect((await nextChange(stream))["documentKey"]).toEqual({ _id: "here" });
  });
});

describe("pipelines", () => {
  it("a $project of field paths keeps the resume token and the fields it names, in the event's order; an exclusion drops what it names", async () => {
    const coll = await freshCollection();
    const included = await watch(coll, [{ $project: { fullDocument: 1, operationType: true } }]);
    const excluded = await watch(coll, [{ $project: { "fullDocument.secret": 0, ns: false, clusterTime: 0 } }]);
    await coll.insertOne({ _id: 1, secret: "s", kept: true });
    const inclusion = await nextChange(included);
    expect(Object.keys(inclusion)).toEqual(["_id", "operationType", "fullDocument"]);
    expect(inclusion["fullDocument"]).toEqual({ _id: 1, secret: "s", kept: true });
    const exclusion = await nextChange(excluded);
    expect(Object.keys(exclusion)).toEqual(["_id", "operationType", "wallTime", "fullDocument", "documentKey"]);
    expect(exclusion["fullDocument"]).toEqual({ _id: 1, kept: true });
    // The token kept is the event's own: resuming after it yields what followed.
    await coll.insertOne({ _id: 2 });
    const resumed = coll.watch<Document, Document>([{ $project: { documentKey: 1 } }], { resumeAfter: inclusion._id as Document });
    openStreams.push(resumed);
    expect(await nextChange(resumed)).toEqual({ _id: expect.anything() as unknown, documentKey: { _id: 2 } });
  });

  it("a database stream filtered on ns.coll or operationType and projected keeps only those collections' events, projected", async () => {
    const kept = await freshCollection();
    const skipped = await freshCollection();
    const also = await freshCollection();
    const pipeline = [
      {
        $match: { $or: [{ "ns.coll": { $in: [kept.collectionName, also.collectionName] } }, { operationType: { $in: ["dropDatabase"] } }] },
      },
      { $project: { operationType: 1, ns: 1, documentKey: 1 } },
    ];
    const stream = ctx().db.watch<Document, Document>(pipeline, { maxAwaitTimeMS: 200 });
    openStreams.push(stream);
    expect(await stream.tryNext()).toBeNull();
    await skipped.insertOne({ _id: "no" });
    await kept.insertOne({ _id: "yes" });
    await skipped.updateOne({ _id: "no" }, { $set: { a: 1 } });
    await also.deleteOne({ _id: "absent" });
    await also.insertOne({ _id: "too" });
    await kept.updateOne({ _id: "yes" }, { $set: { a: 1 } });
    const events = [await nextChange(stream), await nextChange(stream), await nextChange(stream)];
    expect(events.map(({ _id: _token, ...rest }) => rest)).toEqual([
      { operationType: "insert", ns: { db: ctx().db.databaseName, coll: kept.collectionName }, documentKey: { _id: "yes" } },
      { operationType: "insert", ns: { db: ctx().db.databaseName, coll: also.collectionName }, documentKey: { _id: "too" } },
      { operationType: "update", ns: { db: ctx().db.databaseName, coll: kept.collectionName }, documentKey: { _id: "yes" } },
    ]);
  });

  it("a stage that drops the resume token fails the stream with ChangeStreamFatalError (280)", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll, [{ $project: { _id: 0, operationType: 1 } }]);
    await coll.insertOne({ _id: 1 });
    const error = await stream.next().then(
      () => undefined,
      (err: unknown) => err as { code?: number; message?: string },
    );
    expect(error?.code).toBe(280);
    expect(error?.message).toContain(
      "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline.",
    );
  });
});

describe("database-level streams", () => {
  it("db.watch() reports changes of every collection in that database only", async () => {
    const first = await freshCollection();
    const second = await freshCollection();
    const db = ctx().db;
    const stream = db.watch<Document, Document>([], { maxAwaitTimeMS: 200 });
    openStreams.push(stream);
    expect(await stream.tryNext()).toBeNull();
    const otherDb = ctx().client.db(uniqueDbName("changes_other"));
    await otherDb.collection<TestDoc>("elsewhere").insertOne({ _id: "other-db" });
    await first.insertOne({ _id: "one" });
    await second.insertOne({ _id: "two" });
    const events = [await nextChange(stream), await nextChange(stream)];
    expect(events.map((e): unknown[] => [(e["ns"] as Document)["coll"], (e["documentKey"] as Document)["_id"]])).toEqual([
      [first.collectionName, "one"],
      [second.collectionName, "two"],
    ]);
    await otherDb.dropDatabase();
  });
});

describe("resuming", () => {
  async function firstTokenThenRest(option: "resumeAfter" | "startAfter"): Promise<void> {
    const coll = await freshCollection();
    const first = await watch(coll);
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const e1 = await nextChange(first);
    expect(e1["documentKey"]).toEqual({ _id: 1 });
    await first.close();

    const resumed = coll.watch<Document, Document>([], { [option]: e1._id as Document, maxAwaitTimeMS: 200 });
    openStreams.push(resumed);
    expect((await nextChange(resumed))["documentKey"]).toEqual({ _id: 2 });
    expect((await nextChange(resumed))["documentKey"]).toEqual({ _id: 3 });
    expect(await resumed.tryNext()).toBeNull();
    await coll.insertOne({ _id: 4 });
    expect((await nextChange(resumed))["documentKey"]).toEqual({ _id: 4 });
  }

  it("resumeAfter a token yields exactly the events that followed it", async () => {
    await firstTokenThenRest("resumeAfter");
  });

  it("startAfter a token yields exactly the events that followed it", async () => {
    await firstTokenThenRest("startAfter");
  });

  it("dropping the watched collection reports drop then invalidate; startAfter the invalidate continues", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll);
    await coll.insertOne({ _id: 1 });
    await coll.drop();
    expect((await nextChange(stream))["operationType"]).toBe("insert");
    expect((await nextChange(stream))["operationType"]).toBe("drop");
    const invalidate = await nextChange(stream);
    expect(invalidate["operationType"]).toBe("invalidate");

    await coll.insertOne({ _id: "recreated" });
    const after = coll.watch<Document, Document>([], { startAfter: invalidate._id as Document, maxAwaitTimeMS: 200 });
    openStreams.push(after);
    const next = await nextChange(after);
    expect(next).toMatchObject({ operationType: "insert", documentKey: { _id: "recreated" } });
  });

  it("the stream's resumeToken resumes after the last event seen", async () => {
    const coll = await freshCollection();
    const first = await watch(coll);
    await coll.insertMany([{ _id: 1 }, { _id: 2 }]);
    await nextChange(first);
    await nextChange(first);
    const token = first.resumeToken;
    await first.close();
    await coll.insertOne({ _id: 3 });
    const resumed = coll.watch<Document, Document>([], { resumeAfter: token, maxAwaitTimeMS: 200 });
    openStreams.push(resumed);
    expect((await nextChange(resumed))["documentKey"]).toEqual({ _id: 3 });
  });
});

/**
 * MongoDB's resume tokens are KeyString-encoded: `_data` begins with the
 * type byte of a Timestamp (0x82) and the cluster time's seconds and
 * increment, 4 big-endian bytes each. Consumers read a stream's progress out
 * of it (a high-water mark that advances while the stream is idle).
 */
describe("resume token layout", () => {
  function timeOfToken(token: unknown): Timestamp {
    const data = (token as { _data?: unknown })._data;
    if (typeof data !== "string") throw new Error(`not a resume token: ${JSON.stringify(token)}`);
    const match = /^82([0-9a-f]{8})([0-9a-f]{8})/i.exec(data);
    if (match === null) throw new Error(`the token does not begin with a Timestamp: ${data}`);
    return new Timestamp({ t: Number.parseInt(match[1] ?? "", 16), i: Number.parseInt(match[2] ?? "", 16) });
  }

  it("an event's token begins with 0x82 and the event's cluster time", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll);
    await coll.insertOne({ _id: "a" });
    await coll.insertOne({ _id: "b" });
    for (let i = 0; i < 2; i++) {
      const event = await nextChange(stream);
      expect(timeOfToken(event._id).equals(event["clusterTime"] as Timestamp)).toBe(true);
    }
  });

  it("an idle stream's resumeToken carries a cluster time that reaches a later write elsewhere", async () => {
    const coll = await freshCollection();
    const other = await freshCollection();
    const stream = await watch(coll, [], { maxAwaitTimeMS: 100 });
    await coll.insertOne({ _id: "seen" });
    const seen = await nextChange(stream);
    const write = await ctx().db.command({ insert: other.collectionName, documents: [{ _id: "elsewhere" }] });
    const writeTime = write["operationTime"] as Timestamp;
    expect(writeTime.greaterThan(seen["clusterTime"] as Timestamp)).toBe(true);
    const deadline = Date.now() + 30_000;
    while (!timeOfToken(stream.resumeToken).greaterThanOrEqual(writeTime)) {
      if (Date.now() > deadline) throw new Error("the stream's resume token never reached the later write's cluster time");
      expect(await stream.tryNext()).toBeNull();
    }
  });
});

describe("waiting", () => {
  it("next() waits across empty getMores (maxAwaitTimeMS) for an event written later", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll, [], { maxAwaitTimeMS: 150 });
    const pending = nextChange(stream);
    const writer = setTimeout(() => {
      void coll.insertOne({ _id: "late" });
    }, 600);
    try {
      expect((await pending)["documentKey"]).toEqual({ _id: "late" });
    } finally {
      clearTimeout(writer);
    }
  });
});

describe("transactions", () => {
  it("committed transaction writes appear only after commit; aborted ones never", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll);
    const session = ctx().client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: "t1" }, { session });
      await coll.insertOne({ _id: "t2" }, { session });
      expect(await stream.tryNext()).toBeNull();
      await session.commitTransaction();
      expect((await nextChange(stream))["documentKey"]).toEqual({ _id: "t1" });
      expect((await nextChange(stream))["documentKey"]).toEqual({ _id: "t2" });

      session.startTransaction();
      await coll.insertOne({ _id: "aborted" }, { session });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    await coll.insertOne({ _id: "after" });
    expect((await nextChange(stream))["documentKey"]).toEqual({ _id: "after" });
  });

  it("transactions that commit in the other order than they started are reported in commit order; resuming after the first gives the other once", async () => {
    const coll = await freshCollection();
    const stream = await watch(coll);
    const first = ctx().client.startSession();
    const second = ctx().client.startSession();
    try {
      first.startTransaction();
      await coll.insertOne({ _id: "started-first" }, { session: first });
      second.startTransaction();
      await coll.insertOne({ _id: "started-second" }, { session: second });
      await second.commitTransaction();
      await first.commitTransaction();
    } finally {
      await first.endSession();
      await second.endSession();
    }
    const delivered = await nextChange(stream);
    expect(delivered["documentKey"]).toEqual({ _id: "started-second" });
    expect((await nextChange(stream))["documentKey"]).toEqual({ _id: "started-first" });
    const resumed = coll.watch<Document, Document>([], { maxAwaitTimeMS: 200, resumeAfter: delivered["_id"] as Document });
    openStreams.push(resumed);
    expect((await nextChange(resumed))["documentKey"]).toEqual({ _id: "started-first" });
    expect(await resumed.tryNext()).toBeNull();
  });
});
