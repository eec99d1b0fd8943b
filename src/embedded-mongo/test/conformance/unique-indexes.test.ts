/**
 * Unique indexes (single-field, compound, partial, sparse) and the duplicate
 * key error (11000 with keyPattern/keyValue) on every write path.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Double, Long, type Collection, type Document, type IndexOptions, type MongoServerError } from "mongodb";
import {
  expectBulkError,
  expectServerError,
  recordReplies,
  useConformanceDb,
  listIndexes,
  type TestDoc,
} from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("unique");
let counter = 0;

async function freshCollection(name: string, key: Document, options: IndexOptions = {}): Promise<Collection<TestDoc>> {
  counter += 1;
  const coll = ctx().db.collection<TestDoc>(`${name}_${counter}`);
  await coll.createIndex(key, { unique: true, ...options }, undefined);
  return coll;
}

function expectDuplicate(error: MongoServerError, keyPattern: Document, keyValue: Document): void {
  expect(error.code).toBe(11000);
  expect(error["keyPattern"]).toEqual(keyPattern);
  expect(error["keyValue"]).toEqual(keyValue);
}

describe("kinds of unique index", () => {
  it("single-field", async () => {
    const coll = await freshCollection("single", { email: 1 });
    await coll.insertOne({ email: "a@x" });
    await coll.insertOne({ email: "b@x" });
    expectDuplicate(await expectServerError(coll.insertOne({ email: "a@x" })), { email: 1 }, { email: "a@x" });
    expect(await coll.countDocuments()).toBe(2);
  });

  it("compound: only the full key tuple must be unique", async () => {
    const coll = await freshCollection("compound", { org: 1, handle: 1 });
    await coll.insertMany([
      { org: "o1", handle: "h1" },
      { org: "o1", handle: "h2" },
      { org: "o2", handle: "h1" },
    ]);
    const error = await expectServerError(coll.insertOne({ org: "o1", handle: "h1", extra: true }));
    expectDuplicate(error, { org: 1, handle: 1 }, { org: "o1", handle: "h1" });
    expect(await coll.countDocuments()).toBe(3);
  });

  it("partialFilterExpression: duplicates allowed outside the filter, rejected inside", async () => {
    const coll = await freshCollection("partial", { code: 1 }, { partialFilterExpression: { active: true } });
    await coll.insertMany([
      { _id: 1, code: "A", active: false },
      { _id: 2, code: "A", active: false },
      { _id: 3, code: "A" },
      { _id: 4, code: "A", active: true },
      { _id: 5, code: "B", active: true },
    ]);
    expectDuplicate(await expectServerError(coll.insertOne({ code: "A", active: true })), { code: 1 }, { code: "A" });
    // Moving a document into the filter can collide too.
    expectDuplicate(await expectServerError(coll.updateOne({ _id: 1 }, { $set: { active: true } })), { code: 1 }, { code: "A" });
    // Leaving the filter frees the key.
    await coll.updateOne({ _id: 4 }, { $set: { active: false } });
    await coll.updateOne({ _id: 1 }, { $set: { active: true } });
    expect(await coll.countDocuments({ code: "A", active: true })).toBe(1);
  });

  it("a missing field is indexed as null: two documents without it collide", async () => {
    const coll = await freshCollection("missing_null", { email: 1 });
    await coll.insertOne({ name: "first" });
    expectDuplicate(await expectServerError(coll.insertOne({ name: "second" })), { email: 1 }, { email: null });
    expectDuplicate(await expectServerError(coll.insertOne({ email: null })), { email: 1 }, { email: null });
  });

  it("sparse unique skips documents without the field", async () => {
    const coll = await freshCollection("sparse", { email: 1 }, { sparse: true });
    await coll.insertMany([{ name: "first" }, { name: "second" }, { email: "a@x" }]);
    expectDuplicate(await expectServerError(coll.insertOne({ email: "a@x" })), { email: 1 }, { email: "a@x" });
  });

  it("multikey: arrays sharing an element collide, repeats inside one document do not", async () => {
    const coll = await freshCollection("multikey", { tags: 1 });
    await coll.insertOne({ _id: 1, tags: ["a", "b", "b"] });
    await coll.insertOne({ _id: 2, tags: ["c"] });
    expectDuplicate(await expectServerError(coll.insertOne({ _id: 3, tags: ["d", "b"] })), { tags: 1 }, { tags: "b" });
    const pushA: Document = { $push: { tags: "a" } };
    const pushC: Document = { $push: { tags: "c" } };
    expectDuplicate(await expectServerError(coll.updateOne({ _id: 2 }, pushA)), { tags: 1 }, { tags: "a" });
    await coll.updateOne({ _id: 2 }, pushC);
    expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, tags: ["c", "c"] });
  });

  it("nested paths and compound keys with a missing part", async () => {
    const nested = await freshCollection("nested", { "profile.email": 1 });
    await nested.insertOne({ profile: { email: "a@x", name: "A" } });
    expectDuplicate(
      await expectServerError(nested.insertOne({ profile: { email: "a@x", name: "B" } })),
      { "profile.email": 1 },
      { "profile.email": "a@x" },
    );
    const compound = await freshCollection("compound_missing", { a: 1, b: 1 });
    await compound.insertOne({ a: 1 });
    await compound.insertOne({ a: 1, b: 2 });
    expectDuplicate(await expectServerError(compound.insertOne({ a: 1, b: null })), { a: 1, b: 1 }, { a: 1, b: null });
  });

  it("dropping a unique index lifts the constraint", async () => {
    const coll = await freshCollection("dropped_unique", { k: 1 });
    await coll.insertOne({ k: 1 });
    expect((await expectServerError(coll.insertOne({ k: 1 }))).code).toBe(11000);
    await coll.dropIndex("k_1");
    await coll.insertOne({ k: 1 });
    expect(await coll.countDocuments({ k: 1 })).toBe(2);
  });

  it("numbers of different BSON types with the same value are the same key", async () => {
    const coll = await freshCollection("numeric", { n: 1 });
    await coll.insertOne({ n: 1 });
    expect((await expectServerError(coll.insertOne({ n: new Double(1) }))).code).toBe(11000);
    expect((await expectServerError(coll.insertOne({ n: Long.fromNumber(1) }))).code).toBe(11000);
    await coll.insertOne({ n: new Double(1.5) });
    expect(await coll.countDocuments()).toBe(2);
  });

  it("createIndex unique over existing duplicates fails and creates nothing", async () => {
    counter += 1;
    const coll = ctx().db.collection<TestDoc>(`existing_dups_${counter}`);
    await coll.insertMany([{ k: 1 }, { k: 2 }, { k: 1 }]);
    const error = await expectServerError(coll.createIndex({ k: 1 }, { unique: true }, undefined));
    expect(error.code).toBe(11000);
    const names = (await listIndexes(coll)).map((ix) => ix["name"] as string);
    expect(names).toEqual(["_id_"]);
    expect(await coll.countDocuments()).toBe(3);
  });
});

describe("duplicate key on every write path", () => {
  let coll: Collection<TestDoc>;
  const pattern = { email: 1 };
  const dupA = { email: "a" };

  beforeEach(async () => {
    coll = await freshCollection("paths", pattern);
    await coll.insertMany([
      { _id: 1, email: "a" },
      { _id: 2, email: "b" },
    ]);
  });

  async function expectUnchanged(): Promise<void> {
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, email: "a" },
      { _id: 2, email: "b" },
    ]);
  }

  it("insertOne", async () => {
    expectDuplicate(await expectServerError(coll.insertOne({ email: "a" })), pattern, dupA);
    await expectUnchanged();
  });

  it("insertMany (ordered): the documents before the duplicate are kept", async () => {
    const monitored = await ctx().newClient({ monitorCommands: true });
    const replies = recordReplies(monitored, "insert");
    const mcoll = monitored.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);
    const error = await expectBulkError(
      mcoll.insertMany([
        { _id: 3, email: "c" },
        { _id: 4, email: "a" },
        { _id: 5, email: "d" },
      ]),
    );
    expect(error.code).toBe(11000);
    expect(error.insertedCount).toBe(1);
    const writeErrors = replies.flatMap((r) => (r.reply as { writeErrors?: Document[] }).writeErrors ?? []);
    expect(writeErrors).toEqual([expect.objectContaining({ index: 1, code: 11000, keyPattern: pattern, keyValue: dupA })]);
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 3]);
  });

  it("updateOne with $set making a duplicate", async () => {
    expectDuplicate(await expectServerError(coll.updateOne({ _id: 2 }, { $set: { email: "a" } })), pattern, dupA);
    await expectUnchanged();
  });

  it("updateMany stops at the duplicate", async () => {
    expectDuplicate(await expectServerError(coll.updateMany({}, { $set: { email: "same" } })), pattern, { email: "same" });
    expect(await coll.countDocuments({ email: "same" })).toBeLessThanOrEqual(1);
  });

  it("replaceOne", async () => {
    expectDuplicate(await expectServerError(coll.replaceOne({ _id: 2 }, { email: "a", other: 1 })), pattern, dupA);
    await expectUnchanged();
  });

  it("upsert inserting a duplicate", async () => {
    expectDuplicate(await expectServerError(coll.updateOne({ _id: 3 }, { $set: { email: "a" } }, { upsert: true })), pattern, dupA);
    await expectUnchanged();
  });

  it("findOneAndUpdate", async () => {
    expectDuplicate(await expectServerError(coll.findOneAndUpdate({ _id: 2 }, { $set: { email: "a" } })), pattern, dupA);
    await expectUnchanged();
  });

  it("findOneAndReplace", async () => {
    expectDuplicate(await expectServerError(coll.findOneAndReplace({ _id: 2 }, { email: "a" })), pattern, dupA);
    await expectUnchanged();
  });

  it("findOneAndUpdate upserting a duplicate", async () => {
    expectDuplicate(await expectServerError(coll.findOneAndUpdate({ _id: 9 }, { $set: { email: "a" } }, { upsert: true })), pattern, dupA);
    await expectUnchanged();
  });

  it("bulkWrite (insert, update and replace operations)", async () => {
    const monitored = await ctx().newClient({ monitorCommands: true });
    const inserts = recordReplies(monitored, "insert");
    const updates = recordReplies(monitored, "update");
    const mcoll = monitored.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);
    const error = await expectBulkError(
      mcoll.bulkWrite(
        [
          { insertOne: { document: { _id: 3, email: "a" } } },
          { updateOne: { filter: { _id: 2 }, update: { $set: { email: "a" } } } },
          { replaceOne: { filter: { _id: 2 }, replacement: { email: "a" } } },
          { insertOne: { document: { _id: 4, email: "e" } } },
        ],
        { ordered: false },
      ),
    );
    expect(error.code).toBe(11000);
    const indexes = ([] as { index: number; code: number }[])
      .concat(error.writeErrors)
      .map((w) => [w.index, w.code])
      .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
    expect(indexes).toEqual([
      [0, 11000],
      [1, 11000],
      [2, 11000],
    ]);
    const serverErrors = [...inserts, ...updates].flatMap((r) => (r.reply as { writeErrors?: Document[] }).writeErrors ?? []);
    expect(serverErrors).toHaveLength(3);
    for (const writeError of serverErrors) expect(writeError).toMatchObject({ code: 11000, keyPattern: pattern, keyValue: dupA });
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d["email"] as string)).toEqual(["a", "b", "e"]);
  });

  it("a document keeps its own key; a freed key can be reused", async () => {
    const same = await coll.updateOne({ _id: 1 }, { $set: { email: "a" } });
    expect(same.matchedCount).toBe(1);
    await coll.replaceOne({ _id: 1 }, { email: "a", v: 2 });
    await coll.updateOne({ _id: 1 }, { $set: { email: "z" } });
    await coll.updateOne({ _id: 2 }, { $set: { email: "a" } });
    await coll.deleteOne({ _id: 2 });
    await coll.insertOne({ _id: 3, email: "a" });
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, email: "z", v: 2 },
      { _id: 3, email: "a" },
    ]);
  });
});
