/**
 * Change streams beyond the basic events: DDL events with showExpandedEvents,
 * pre- and post-images (only where changeStreamPreAndPostImages is enabled,
 * as MongoDB records them), streams over a database and the whole cluster,
 * and a resume token that keeps moving while the stream sees nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MongoServerError, type ChangeStream, type Collection, type Document } from "mongodb";
import { uniqueDbName } from "../../testing.ts";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("csexp");
const streams: ChangeStream<Document, Document>[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.allSettled(streams.splice(0).map((s) => s.close()));
});

function freshName(): string {
  counter += 1;
  return `exp_${counter}`;
}

/** Opens a stream and waits for its cursor, so that later writes are reported. */
async function open(stream: ChangeStream<Document, Document>): Promise<ChangeStream<Document, Document>> {
  streams.push(stream);
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

const types = (events: readonly Document[]): unknown[] => events.map((e): unknown => e["operationType"]);

/** The next `count` events (failing after 10 s without them). */
async function nextEvents(stream: ChangeStream<Document, Document>, count: number): Promise<Document[]> {
  const events: Document[] = [];
  const deadline = Date.now() + 10_000;
  while (events.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events within 10 s: ${JSON.stringify(types(events))}`);
    const event = await stream.tryNext();
    if (event !== null) events.push(event);
  }
  return events;
}

/** The error the stream's next event fails with. */
async function nextError(stream: ChangeStream<Document, Document>): Promise<MongoServerError> {
  const deadline = Date.now() + 10_000;
  try {
    while (Date.now() < deadline) await stream.tryNext();
  } catch (error) {
    if (error instanceof MongoServerError) return error;
    throw error;
  }
  throw new Error("the stream did not fail within 10 s");
}

describe("showExpandedEvents", () => {
  it("reports create, createIndexes, dropIndexes, modify and drop, each with the collection's UUID", async () => {
    const name = freshName();
    const stream = await open(ctx().db.watch<Document, Document>([], { showExpandedEvents: true, maxAwaitTimeMS: 200 }));
    const coll = await ctx().db.createCollection<TestDoc>(name);
    await coll.createIndex({ k: 1 }, { name: "k_1" }, undefined);
    await coll.insertOne({ _id: 1, k: "a" });
    await ctx().db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: true } });
    await coll.dropIndex("k_1");
    await coll.drop();
    const events = await nextEvents(stream, 6);
    expect(types(events)).toEqual(["create", "createIndexes", "insert", "modify", "dropIndexes", "drop"]);
    for (const event of events) {
      expect(event["ns"]).toEqual({ db: ctx().db.databaseName, coll: name });
      expect((event["collectionUUID"] as { _bsontype?: string } | undefined)?._bsontype).toBe("Binary");
    }
    const [create, createIndexes, , , dropIndexes] = events;
    expect(create?.["operationDescription"]).toMatchObject({ idIndex: { key: { _id: 1 }, name: "_id_" } });
    expect(createIndexes?.["operationDescription"]).toEqual({ indexes: [{ v: 2, key: { k: 1 }, name: "k_1" }] });
    expect(dropIndexes?.["operationDescription"]).toEqual({ indexes: [{ v: 2, key: { k: 1 }, name: "k_1" }] });
  });

  it("an implicit creation by an insert is a create event first", async () => {
    const name = freshName();
    const stream = await open(ctx().db.watch<Document, Document>([], { showExpandedEvents: true, maxAwaitTimeMS: 200 }));
    await ctx().db.collection<TestDoc>(name).insertOne({ _id: 1 });
    expect(types(await nextEvents(stream, 2))).toEqual(["create", "insert"]);
  });

  it("without it, DDL events are not delivered and events carry no collectionUUID", async () => {
    const name = freshName();
    const stream = await open(ctx().db.watch<Document, Document>([], { maxAwaitTimeMS: 200 }));
    const coll = await ctx().db.createCollection<TestDoc>(name);
    await coll.createIndex({ k: 1 }, undefined, undefined);
    await coll.insertOne({ _id: 1 });
    const [insert] = await nextEvents(stream, 1);
    expect(insert?.["operationType"]).toBe("insert");
    expect(insert?.["collectionUUID"]).toBeUndefined();
  });
});

describe("renaming", () => {
  it("a collection stream sees rename (with its target) and then invalidate; the documents move with it", async () => {
    const [from, to] = [freshName(), freshName()];
    const coll = await ctx().db.createCollection<TestDoc>(from);
    await coll.insertOne({ _id: 1 });
    const stream = await open(coll.watch<Document, Document>([], { maxAwaitTimeMS: 200 }));
    await coll.rename(to);
    const [rename, invalidate] = await nextEvents(stream, 2);
    expect(rename).toMatchObject({
      operationType: "rename",
      ns: { db: ctx().db.databaseName, coll: from },
      to: { db: ctx().db.databaseName, coll: to },
    });
    expect(invalidate?.["operationType"]).toBe("invalidate");
    expect(await ctx().db.collection<TestDoc>(to).find().toArray()).toEqual([{ _id: 1 }]);
    expect(await ctx().db.listCollections({ name: from }).toArray()).toEqual([]);
  });

  it("with dropTarget the target is dropped first; expanded events describe the rename", async () => {
    const [from, to] = [freshName(), freshName()];
    await ctx().db.collection<TestDoc>(to).insertOne({ _id: "old" });
    const coll = await ctx().db.createCollection<TestDoc>(from);
    await coll.insertOne({ _id: "new" });
    const stream = await open(ctx().db.watch<Document, Document>([], { showExpandedEvents: true, maxAwaitTimeMS: 200 }));
    expect((await expectRenameError(coll, to)).code).toBe(48);
    await coll.rename(to, { dropTarget: true });
    const [drop, rename] = await nextEvents(stream, 2);
    expect(drop).toMatchObject({ operationType: "drop", ns: { coll: to } });
    expect(rename).toMatchObject({
      operationType: "rename",
      ns: { coll: from },
      operationDescription: { to: { db: ctx().db.databaseName, coll: to } },
    });
    expect((rename?.["operationDescription"] as Document)["dropTarget"]).toEqual(drop?.["collectionUUID"]);
    expect(await ctx().db.collection<TestDoc>(to).find().toArray()).toEqual([{ _id: "new" }]);
  });
});

async function expectRenameError(coll: Collection<TestDoc>, to: string): Promise<MongoServerError> {
  const error = await coll.rename(to).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof MongoServerError)) throw new Error(`expected a server error, got ${String(error)}`);
  return error;
}

describe("pre- and post-images", () => {
  it("fullDocument 'required' fails the stream where changeStreamPreAndPostImages is off (NoMatchingDocument, 47)", async () => {
    const coll = await ctx().db.createCollection<TestDoc>(freshName());
    await coll.insertOne({ _id: 1, v: 0 });
    const stream = await open(coll.watch<Document, Document>([], { fullDocument: "required", maxAwaitTimeMS: 200 }));
    await coll.updateOne({ _id: 1 }, { $set: { v: 1 } });
    const error = await nextError(stream);
    expect(error.code).toBe(47);
    expect(error.message).toContain(
      "Change stream was configured to require a post-image for all update events, but the post-image was not found",
    );
  });

  it("fullDocumentBeforeChange 'required' fails likewise; 'whenAvailable' gives null", async () => {
    const coll = await ctx().db.createCollection<TestDoc>(freshName());
    await coll.insertOne({ _id: 1, v: 0 });
    const lenient = await open(
      coll.watch<Document, Document>([], { fullDocument: "whenAvailable", fullDocumentBeforeChange: "whenAvailable", maxAwaitTimeMS: 200 }),
    );
    const strict = await open(coll.watch<Document, Document>([], { fullDocumentBeforeChange: "required", maxAwaitTimeMS: 200 }));
    await coll.updateOne({ _id: 1 }, { $set: { v: 1 } });
    const [update] = await nextEvents(lenient, 1);
    expect(update?.["fullDocument"]).toBeNull();
    expect(update?.["fullDocumentBeforeChange"]).toBeNull();
    expect((await nextError(strict)).code).toBe(47);
  });

  it("with changeStreamPreAndPostImages enabled, updates and deletes carry the images", async () => {
    const coll = await ctx().db.createCollection<TestDoc>(freshName(), { changeStreamPreAndPostImages: { enabled: true } });
    await coll.insertOne({ _id: 1, v: 0 });
    const stream = await open(
      coll.watch<Document, Document>([], { fullDocument: "required", fullDocumentBeforeChange: "required", maxAwaitTimeMS: 200 }),
    );
    await coll.updateOne({ _id: 1 }, { $set: { v: 1 } });
    await coll.deleteOne({ _id: 1 });
    const [update, del] = await nextEvents(stream, 2);
    expect(update?.["fullDocument"]).toEqual({ _id: 1, v: 1 });
    expect(update?.["fullDocumentBeforeChange"]).toEqual({ _id: 1, v: 0 });
    expect(del?.["fullDocumentBeforeChange"]).toEqual({ _id: 1, v: 1 });
  });

  it("enabling them with collMod applies from then on", async () => {
    const name = freshName();
    const coll = await ctx().db.createCollection<TestDoc>(name);
    await coll.insertOne({ _id: 1, v: 0 });
    const stream = await open(coll.watch<Document, Document>([], { fullDocumentBeforeChange: "whenAvailable", maxAwaitTimeMS: 200 }));
    await coll.updateOne({ _id: 1 }, { $set: { v: 1 } });
    await ctx().db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: true } });
    await coll.updateOne({ _id: 1 }, { $set: { v: 2 } });
    const [before, after] = await nextEvents(stream, 2);
    expect(before?.["fullDocumentBeforeChange"]).toBeNull();
    expect(after?.["fullDocumentBeforeChange"]).toEqual({ _id: 1, v: 1 });
  });
});

describe("streams over several collections", () => {
  it("db.watch() with a $match on the collection follows exactly the chosen collections", async () => {
    const [a, b, c] = [freshName(), freshName(), freshName()];
    const stream = await open(ctx().db.watch<Document, Document>([{ $match: { "ns.coll": { $in: [a, b] } } }], { maxAwaitTimeMS: 200 }));
    await ctx().db.collection<TestDoc>(a).insertOne({ _id: "a" });
    await ctx().db.collection<TestDoc>(c).insertOne({ _id: "c" });
    await ctx().db.collection<TestDoc>(b).insertOne({ _id: "b" });
    const events = await nextEvents(stream, 2);
    expect(events.map((e): unknown => (e["ns"] as Document)["coll"])).toEqual([a, b]);
  });

  it("client.watch() follows every database", async () => {
    const otherDb = ctx().client.db(uniqueDbName("csexp_other"));
    try {
      // The store is shared with other suites writing meanwhile: follow every database, but keep only these two's events.
      const ours = { $match: { "ns.db": { $in: [ctx().db.databaseName, otherDb.databaseName] } } };
      const stream = await open(ctx().client.watch<Document, Document>([ours], { maxAwaitTimeMS: 200 }));
      await ctx().db.collection<TestDoc>(freshName()).insertOne({ _id: 1 });
      await otherDb.collection<TestDoc>("elsewhere").insertOne({ _id: 2 });
      const events = (await nextEvents(stream, 2)).filter((e) => e["operationType"] === "insert");
      expect(events.map((e): unknown => (e["ns"] as Document)["db"])).toEqual([ctx().db.databaseName, otherDb.databaseName]);
    } finally {
      await otherDb.dropDatabase();
    }
  });
});

describe("the resume token of a stream that sees nothing", () => {
  async function tokenAfterIdleRound(stream: ChangeStream<Document, Document>): Promise<string> {
    expect(await stream.tryNext()).toBeNull();
    return JSON.stringify(stream.resumeToken);
  }

  it("moves past changes elsewhere, and resuming from it skips them", async () => {
    const watched: Collection<TestDoc> = await ctx().db.createCollection<TestDoc>(freshName());
    const stream = await open(watched.watch<Document, Document>([], { maxAwaitTimeMS: 200 }));
    const before = await tokenAfterIdleRound(stream);
    await ctx().db.collection<TestDoc>(freshName()).insertOne({ _id: "elsewhere" });
    let moved = before;
    for (let i = 0; i < 20 && moved === before; i++) moved = await tokenAfterIdleRound(stream);
    expect(moved).not.toBe(before);
    await watched.insertOne({ _id: "here" });
    const resumed = watched.watch<Document, Document>([], { resumeAfter: stream.resumeToken, maxAwaitTimeMS: 200 });
    streams.push(resumed);
    const [event] = await nextEvents(resumed, 1);
    expect(event?.["documentKey"]).toEqual({ _id: "here" });
  });

  it("keeps moving while nothing at all changes (mongod's no-op writer ticks every 10 s)", { timeout: 30_000 }, async () => {
    const watched = await ctx().db.createCollection<TestDoc>(freshName());
    const stream = await open(watched.watch<Document, Document>([], { maxAwaitTimeMS: 500 }));
    const before = await tokenAfterIdleRound(stream);
    const deadline = Date.now() + 12_000;
    let moved = before;
    while (moved === before && Date.now() < deadline) moved = await tokenAfterIdleRound(stream);
    expect(moved).not.toBe(before);
  });
});
