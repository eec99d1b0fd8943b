/**
 * BSON limits as MongoDB enforces and advertises them: 16 MiB documents (also
 * after an update), 100,000 statements per write command, and messages far
 * larger than one document (the driver splits bulk writes by the advertised
 * limits, and every acknowledged document is there).
 */
import { describe, expect, it } from "vitest";
import { MongoInvalidArgumentError, type Collection, type Document } from "mongodb";
import { expectServerError, recordReplies, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("limits");
const MiB = 1024 * 1024;
const maxBsonObjectSize = 16 * MiB;
let counter = 0;

async function fresh(): Promise<Collection<TestDoc>> {
  counter += 1;
  return ctx().db.createCollection<TestDoc>(`limits_${counter}`);
}

/** `{_id, s}` of exactly `bytes` BSON bytes (`_id` an int32). */
function docOfSize(id: number, bytes: number): TestDoc {
  // 4 (length) + 1 (terminator) + _id int32 (1 + 4 + 4) + s string (1 + 2 + 4 + length + 1)
  return { _id: id, s: "x".repeat(bytes - 22) };
}

describe("hello", () => {
  it("advertises MongoDB's limits", async () => {
    const hello = await ctx().db.admin().command({ hello: 1 });
    expect(hello["maxBsonObjectSize"]).toBe(maxBsonObjectSize);
    expect(hello["maxMessageSizeBytes"]).toBe(48_000_000);
    expect(hello["maxWriteBatchSize"]).toBe(100_000);
  });
});

describe("the 16 MiB document limit", () => {
  it("stores and returns a document of exactly 16 MiB", async () => {
    const coll = await fresh();
    await coll.insertOne(docOfSize(1, maxBsonObjectSize));
    const stored = await coll.findOne({ _id: 1 });
    expect((stored?.["s"] as string).length).toBe(maxBsonObjectSize - 22);
  });

  it("refuses a larger insert with BSONObjectTooLarge (10334) and stores nothing", async () => {
    const coll = await fresh();
    const error = await expectServerError(coll.insertOne(docOfSize(1, maxBsonObjectSize + 1)));
    expect(error.code).toBe(10334);
    expect(await coll.countDocuments()).toBe(0);
  });

  it("refuses an update whose result exceeds 16 MiB (17419) and leaves the document as it was", async () => {
    const coll = await fresh();
    await coll.insertOne({ _id: "g", s: "a".repeat(10 * MiB) });
    const error = await expectServerError(coll.updateOne({ _id: "g" }, { $set: { t: "b".repeat(7 * MiB) } }));
    expect(error.code).toBe(17419);
    expect(error.message).toBe("Resulting document after update is larger than 16777216");
    const stored = await coll.findOne({ _id: "g" });
    expect(Object.keys(stored ?? {})).toEqual(["_id", "s"]);
    expect((stored?.["s"] as string).length).toBe(10 * MiB);
  });

  it("refuses an upsert whose new document exceeds 16 MiB (17420)", async () => {
    const coll = await fresh();
    // The command stays within 16 MiB plus its envelope; the document built from filter and update does not.
    const error = await expectServerError(
      coll.updateOne({ _id: "u", a: "a".repeat(8 * MiB) }, { $set: { b: "b".repeat(8 * MiB) } }, { upsert: true }),
    );
    expect(error.code).toBe(17420);
    expect(await coll.countDocuments()).toBe(0);
  });

  it("the driver splits bulk inserts by the advertised limit, refusing a single oversized document itself", async () => {
    const coll = await fresh();
    const error = await coll.insertMany([docOfSize(1, maxBsonObjectSize + 1)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MongoInvalidArgumentError);
    expect((error as Error).message).toBe(`Document is larger than the maximum size ${maxBsonObjectSize}`);
  });
});

describe("messages larger than one document", () => {
  it("an insertMany of about 18 MB is acknowledged whole and every document is there", async () => {
    const coll = await fresh();
    const client = await ctx().newClient({ monitorCommands: true });
    const replies = recordReplies(client, "insert");
    const viaMonitored = client.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);
    const pad = "p".repeat(900);
    const result = await viaMonitored.insertMany(Array.from({ length: 20_000 }, (_, i) => ({ _id: i, pad })));
    expect(result.insertedCount).toBe(20_000);
    // The driver sent it as more than one command (each below 16 MiB of documents).
    expect(replies.length).toBeGreaterThanOrEqual(2);
    expect(await coll.countDocuments()).toBe(20_000);
  });

  it("a bulk write of more than maxWriteBatchSize operations is split by the driver and fully applied", async () => {
    const coll = await fresh();
    const client = await ctx().newClient({ monitorCommands: true });
    const replies = recordReplies(client, "insert");
    const result = await client
      .db(ctx().db.databaseName)
      .collection<TestDoc>(coll.collectionName)
      .bulkWrite(
        Array.from({ length: 100_001 }, (_, i) => ({ insertOne: { document: { _id: i } } })),
        { ordered: false },
      );
    expect(result.insertedCount).toBe(100_001);
    expect(replies.map((r) => (r.reply as Document)["n"] as number).reduce((a, b) => a + b, 0)).toBe(100_001);
    expect(replies.length).toBeGreaterThanOrEqual(2);
    expect(await coll.countDocuments()).toBe(100_001);
  });

  it("refuses a write command of more than 100,000 statements, or none, with InvalidLength (16)", async () => {
    const coll = await fresh();
    const tooMany = await expectServerError(
      ctx().db.command({ insert: coll.collectionName, documents: Array.from({ length: 100_001 }, (_, i) => ({ _id: i })) }),
    );
    expect(tooMany.code).toBe(16);
    expect(tooMany.message).toBe("Write batch sizes must be between 1 and 100000. Got 100001 operations.");
    const none = await expectServerError(ctx().db.command({ delete: coll.collectionName, deletes: [] }));
    expect([none.code, none.message]).toEqual([16, "Write batch sizes must be between 1 and 100000. Got 0 operations."]);
    expect(await coll.countDocuments()).toBe(0);
  });
});

describe("documents MongoDB will not store", () => {
  it("an _id holding a $-prefixed field is refused (DollarPrefixedFieldName, 52)", async () => {
    const coll = await fresh();
    const error = await expectServerError(coll.insertOne({ _id: { a: { $b: 1 } } }));
    expect([error.code, error.message]).toEqual([52, "_id fields may not contain '$'-prefixed fields: $b is not valid for storage."]);
    expect(await coll.countDocuments()).toBe(0);
  });
});

describe("ordered and unordered batches report exactly what applied", () => {
  it("an ordered insert stops at the first failure; an unordered one applies every other document", async () => {
    const coll = await fresh();
    await coll.insertOne({ _id: 2 });
    const big = docOfSize(3, maxBsonObjectSize + 1);
    const ordered = await ctx().db.command({
      insert: coll.collectionName,
      documents: [{ _id: 1 }, { _id: 2 }, big, { _id: 4 }],
      ordered: true,
    });
    expect(ordered["n"]).toBe(1);
    expect((ordered["writeErrors"] as Document[]).map((e): unknown[] => [e["index"], e["code"]])).toEqual([[1, 11000]]);
    const unordered = await ctx().db.command({
      insert: coll.collectionName,
      documents: [{ _id: 5 }, { _id: 2 }, big, { _id: 6 }],
      ordered: false,
    });
    expect(unordered["n"]).toBe(2);
    expect((unordered["writeErrors"] as Document[]).map((e): unknown[] => [e["index"], e["code"]])).toEqual([
      [1, 11000],
      [2, 10334],
    ]);
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 5, 6]);
  });
});
