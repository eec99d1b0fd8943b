/**
 * CRUD through the official driver: inserts, bulk writes, updates with their
 * operators, replace, delete, find options, multi-batch cursors and the
 * findOneAnd* family. Every assertion is what MongoDB itself answers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Long, MongoBulkWriteError, ObjectId, type Collection, type Document, type WriteError } from "mongodb";
import { expectBulkError, expectServerError, recordReplies, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("crud");
let collectionCounter = 0;

/** A collection no other test in this file uses. */
function freshCollection(name: string): Collection<TestDoc> {
  collectionCounter += 1;
  return ctx().db.collection<TestDoc>(`${name}_${collectionCounter}`);
}

function writeErrorsOf(error: MongoBulkWriteError): WriteError[] {
  return ([] as WriteError[]).concat(error.writeErrors);
}

/** Cursor ids come back as Long, or as numbers when the monitoring reply promoted small ones. */
function cursorIdText(id: unknown): string {
  if (id instanceof Long) return id.toString();
  if (typeof id === "number" || typeof id === "bigint") return id.toString();
  return JSON.stringify(id);
}

describe("insert", () => {
  it("insertOne generates an ObjectId _id and the document reads back", async () => {
    const coll = freshCollection("insert_one");
    const result = await coll.insertOne({ name: "ada", tags: ["x", "y"], nested: { n: 1 } });
    expect(result.acknowledged).toBe(true);
    expect(result.insertedId).toBeInstanceOf(ObjectId);
    const doc = await coll.findOne({ _id: result.insertedId });
    expect(doc).toEqual({ _id: result.insertedId, name: "ada", tags: ["x", "y"], nested: { n: 1 } });
  });

  it("insertOne with a duplicate _id fails with 11000 on the _id index", async () => {
    const coll = freshCollection("insert_dup_id");
    await coll.insertOne({ _id: 7, v: 1 });
    const error = await expectServerError(coll.insertOne({ _id: 7, v: 2 }));
    expect(error.code).toBe(11000);
    expect(error["keyPattern"]).toEqual({ _id: 1 });
    expect(error["keyValue"]).toEqual({ _id: 7 });
    expect(await coll.findOne({ _id: 7 })).toEqual({ _id: 7, v: 1 });
  });

  it("insertMany returns every inserted id in order", async () => {
    const coll = freshCollection("insert_many");
    const result = await coll.insertMany([{ i: 0 }, { i: 1 }, { _id: "given", i: 2 }]);
    expect(result.insertedCount).toBe(3);
    expect(Object.keys(result.insertedIds)).toEqual(["0", "1", "2"]);
    expect(result.insertedIds[2]).toBe("given");
    const docs = await coll
      .find({}, { projection: { _id: 0 } })
      .sort({ i: 1 })
      .toArray();
    expect(docs).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it("ordered insertMany stops at the first duplicate and reports its index", async () => {
    const coll = freshCollection("insert_ordered");
    const monitored = await ctx().newClient({ monitorCommands: true });
    const replies = recordReplies(monitored, "insert");
    const mcoll = monitored.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);
    const error = await expectBulkError(mcoll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 1 }, { _id: 3 }, { _id: 4 }]));
    expect(error.code).toBe(11000);
    expect(error.insertedCount).toBe(2);
    const writeErrors = writeErrorsOf(error);
    expect(writeErrors.map((w) => [w.index, w.code])).toEqual([[2, 11000]]);
    const ids = (await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id);
    expect(ids).toEqual([1, 2]);
    const serverErrors = replies.flatMap((r) => (r.reply as { writeErrors?: Document[] }).writeErrors ?? []);
    expect(serverErrors).toHaveLength(1);
    expect(serverErrors[0]).toMatchObject({ index: 2, code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 1 } });
  });

  it("unordered insertMany inserts everything else and reports each duplicate", async () => {
    const coll = freshCollection("insert_unordered");
    const error = await expectBulkError(
      coll.insertMany([{ _id: 1 }, { _id: 1 }, { _id: 2 }, { _id: 2 }, { _id: 3 }] as Document[], { ordered: false }),
    );
    expect(error.insertedCount).toBe(3);
    expect(writeErrorsOf(error).map((w) => [w.index, w.code])).toEqual([
      [1, 11000],
      [3, 11000],
    ]);
    const ids = (await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id);
    expect(ids).toEqual([1, 2, 3]);
  });
});

describe("bulkWrite", () => {
  it("applies mixed operations in order and counts each kind", async () => {
    const coll = freshCollection("bulk_mixed");
    await coll.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
      { _id: 3, v: 3 },
    ]);
    const result = await coll.bulkWrite([
      { insertOne: { document: { _id: 4, v: 4 } } },
      { updateOne: { filter: { _id: 1 }, update: { $inc: { v: 10 } } } },
      { updateMany: { filter: { v: { $gte: 2 } }, update: { $set: { big: true } } } },
      { replaceOne: { filter: { _id: 2 }, replacement: { v: 20 } } },
      { deleteOne: { filter: { _id: 3 } } },
      { updateOne: { filter: { _id: 5 }, update: { $set: { v: 5 } }, upsert: true } },
      { deleteMany: { filter: { v: { $gt: 100 } } } },
    ]);
    expect(result.insertedCount).toBe(1);
    // updateOne _id 1 (1) + updateMany over v>=2 (_id 1 now 11, 2, 3, 4 → 4) + replaceOne (1)
    expect(result.matchedCount).toBe(6);
    expect(result.modifiedCount).toBe(6);
    expect(result.deletedCount).toBe(1);
    expect(result.upsertedCount).toBe(1);
    expect(result.upsertedIds).toEqual({ 5: 5 });
    const docs = await coll.find().sort({ _id: 1 }).toArray();
    expect(docs).toEqual([
      { _id: 1, v: 11, big: true },
      { _id: 2, v: 20 },
      { _id: 4, v: 4, big: true },
      { _id: 5, v: 5 },
    ]);
  });

  it("ordered bulkWrite stops at the failing operation", async () => {
    const coll = freshCollection("bulk_ordered");
    await coll.insertOne({ _id: 1 });
    const error = await expectBulkError(
      coll.bulkWrite([
        { insertOne: { document: { _id: 2 } } },
        { insertOne: { document: { _id: 1 } } },
        { insertOne: { document: { _id: 3 } } },
      ]),
    );
    expect(writeErrorsOf(error).map((w) => [w.index, w.code])).toEqual([[1, 11000]]);
    expect(error.insertedCount).toBe(1);
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2]);
  });

  it("unordered bulkWrite reports errors with their original indexes and applies the rest", async () => {
    const coll = freshCollection("bulk_unordered");
    await coll.insertOne({ _id: 1 });
    const error = await expectBulkError(
      coll.bulkWrite(
        [
          { insertOne: { document: { _id: 1 } } },
          { updateOne: { filter: { _id: 1 }, update: { $set: { touched: true } } } },
          { insertOne: { document: { _id: 2 } } },
          { insertOne: { document: { _id: 2 } } },
          { deleteOne: { filter: { _id: 99 } } },
        ],
        { ordered: false },
      ),
    );
    expect(
      writeErrorsOf(error)
        .map((w) => [w.index, w.code])
        .sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)),
    ).toEqual([
      [0, 11000],
      [3, 11000],
    ]);
    expect(error.result.insertedCount).toBe(1);
    expect(error.result.modifiedCount).toBe(1);
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, touched: true }, { _id: 2 }]);
  });
});

describe("update", () => {
  it("updateOne reports matched and modified counts, and a no-op modifies nothing", async () => {
    const coll = freshCollection("update_counts");
    await coll.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 1 },
    ]);
    const changed = await coll.updateOne({ v: 1 }, { $set: { v: 2 } });
    expect([changed.matchedCount, changed.modifiedCount, changed.upsertedCount]).toEqual([1, 1, 0]);
    expect(changed.upsertedId).toBeNull();
    const noop = await coll.updateOne({ _id: 1 }, { $set: { v: 2 } });
    expect([noop.matchedCount, noop.modifiedCount]).toEqual([1, 0]);
    const none = await coll.updateOne({ _id: 3 }, { $set: { v: 2 } });
    expect([none.matchedCount, none.modifiedCount]).toEqual([0, 0]);
  });

  it("updateMany changes every match", async () => {
    const coll = freshCollection("update_many");
    await coll.insertMany([{ g: "a" }, { g: "a" }, { g: "b" }, { g: "a" }]);
    const result = await coll.updateMany({ g: "a" }, { $set: { seen: true } });
    expect([result.matchedCount, result.modifiedCount]).toEqual([3, 3]);
    expect(await coll.countDocuments({ seen: true })).toBe(3);
    expect(await coll.countDocuments({ g: "b", seen: { $exists: true } })).toBe(0);
  });

  it("upsert inserts a document built from the filter's equalities, $set and $setOnInsert", async () => {
    const coll = freshCollection("update_upsert");
    const result = await coll.updateOne({ k: "x", n: { $gt: 5 } }, { $set: { v: 1 }, $setOnInsert: { created: true } }, { upsert: true });
    expect([result.matchedCount, result.modifiedCount, result.upsertedCount]).toEqual([0, 0, 1]);
    expect(result.upsertedId).toBeInstanceOf(ObjectId);
    const doc = await coll.findOne({ _id: result.upsertedId as ObjectId }, { projection: { _id: 0 } });
    expect(doc).toEqual({ k: "x", v: 1, created: true });

    const again = await coll.updateOne({ k: "x" }, { $set: { v: 2 }, $setOnInsert: { created: false } }, { upsert: true });
    expect([again.matchedCount, again.modifiedCount, again.upsertedCount]).toEqual([1, 1, 0]);
    expect(await coll.findOne({ k: "x" }, { projection: { _id: 0 } })).toEqual({ k: "x", v: 2, created: true });
  });

  it("updateMany with upsert inserts a single document when nothing matches", async () => {
    const coll = freshCollection("update_many_upsert");
    const result = await coll.updateMany({ g: "none" }, { $set: { v: 1 } }, { upsert: true });
    expect([result.matchedCount, result.upsertedCount]).toEqual([0, 1]);
    expect(await coll.find({}, { projection: { _id: 0 } }).toArray()).toEqual([{ g: "none", v: 1 }]);
  });

  it("upsert with an _id equality uses that _id", async () => {
    const coll = freshCollection("update_upsert_id");
    const result = await coll.updateOne({ _id: "fixed" }, { $inc: { n: 1 } }, { upsert: true });
    expect(result.upsertedId).toBe("fixed");
    expect(await coll.findOne({})).toEqual({ _id: "fixed", n: 1 });
  });

  it("upsert with a dotted equality builds the nested document", async () => {
    const coll = freshCollection("update_upsert_dotted");
    await coll.updateOne({ "a.b": 1, c: { $gt: 5 } }, { $set: { d: true } }, { upsert: true });
    expect(await coll.findOne({}, { projection: { _id: 0 } })).toEqual({ a: { b: 1 }, d: true });
  });

  it("rejects invalid updates with MongoDB's codes and leaves the document alone", async () => {
    const coll = freshCollection("update_invalid");
    await coll.insertOne({ _id: 1, s: "text", n: 1 });
    const codeOf = async (update: Document): Promise<number | string | undefined> =>
      (await expectServerError(coll.updateOne({ _id: 1 }, update))).code;
    expect(await codeOf({ $set: { _id: 2 } })).toBe(66); // ImmutableField
    expect(await codeOf({ $set: { n: 2 }, $inc: { n: 1 } })).toBe(40); // ConflictingUpdateOperators
    expect(await codeOf({ $inc: { s: 1 } })).toBe(14); // TypeMismatch
    expect(await codeOf({ $push: { s: 1 } })).toBe(2); // BadValue: not an array
    expect((await expectServerError(coll.replaceOne({ _id: 1 }, { _id: 2, s: "other" }))).code).toBe(66);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, s: "text", n: 1 });
  });

  it("applies the field operators", async () => {
    const coll = freshCollection("update_operators");
    await coll.insertOne({
      _id: 1,
      n: 5,
      m: 3,
      gone: "x",
      old: "name",
      lo: 10,
      hi: 10,
      arr: [1, 2, 3],
      set: ["a"],
      pulls: [1, 5, 10, 15],
      pops: [1, 2, 3],
      nested: { a: { b: 1 } },
    });
    // Typed as a plain Document: the driver's operator types reject $push/$pull on an untyped schema.
    const everyOperator: Document = {
      $inc: { n: 2, fresh: 1 },
      $mul: { m: 2.5 },
      $unset: { gone: "" },
      $rename: { old: "renamed" },
      $min: { lo: 3 },
      $max: { hi: 20 },
      $push: { arr: 4 },
      $addToSet: { set: { $each: ["a", "b", "b"] } },
      $pull: { pulls: { $gte: 10 } },
      $pop: { pops: -1 },
      $set: { "nested.a.c": 2, "deep.x.y": true },
      $currentDate: { at: true },
    };
    await coll.updateOne({ _id: 1 }, everyOperator);
    const doc = await coll.findOne({ _id: 1 });
    expect(doc).toMatchObject({
      _id: 1,
      n: 7,
      fresh: 1,
      m: 7.5,
      renamed: "name",
      lo: 3,
      hi: 20,
      arr: [1, 2, 3, 4],
      set: ["a", "b"],
      pulls: [1, 5],
      pops: [2, 3],
      nested: { a: { b: 1, c: 2 } },
      deep: { x: { y: true } },
    });
    expect(doc).not.toHaveProperty("gone");
    expect(doc).not.toHaveProperty("old");
    expect(doc?.["at"]).toBeInstanceOf(Date);

    const modifiers: Document = { $push: { arr: { $each: [9, 0], $sort: 1, $slice: -3 } }, $pull: { set: "a" } };
    await coll.updateOne({ _id: 1 }, modifiers);
    expect(await coll.findOne({ _id: 1 }, { projection: { arr: 1, set: 1 } })).toEqual({ _id: 1, arr: [3, 4, 9], set: ["b"] });
  });

  it("updates array elements with $, $[] and $[identifier] plus arrayFilters", async () => {
    const coll = freshCollection("update_arrays");
    await coll.insertOne({
      _id: 1,
      items: [
        { sku: "a", qty: 1 },
        { sku: "b", qty: 2 },
      ],
      grades: [
        { g: 80, passed: false },
        { g: 90, passed: false },
        { g: 95, passed: false },
      ],
      counts: [1, 2, 3],
    });
    await coll.updateOne({ _id: 1, "items.sku": "b" }, { $set: { "items.$.qty": 5 } });
    await coll.updateOne({ _id: 1 }, { $inc: { "counts.$[]": 10 } });
    const filtered = await coll.updateOne(
      { _id: 1 },
      { $set: { "grades.$[high].passed": true } },
      { arrayFilters: [{ "high.g": { $gte: 90 } }] },
    );
    expect(filtered.modifiedCount).toBe(1);
    expect(await coll.findOne({ _id: 1 })).toEqual({
      _id: 1,
      items: [
        { sku: "a", qty: 1 },
        { sku: "b", qty: 5 },
      ],
      grades: [
        { g: 80, passed: false },
        { g: 90, passed: true },
        { g: 95, passed: true },
      ],
      counts: [11, 12, 13],
    });
  });

  it("handles array and nested-path edge cases of the update operators", async () => {
    const coll = freshCollection("update_array_edges");
    await coll.insertOne({
      _id: 1,
      arr: [1, 2, 3],
      objs: [
        { sku: "a", n: 1 },
        { sku: "b", n: 2 },
        { sku: "a", n: 3 },
      ],
      set: [{ k: 1, v: "x" }],
    });
    const update: Document = {
      $unset: { "arr.1": "" },
      $set: { "pad.3": "p" },
      $pull: { objs: { sku: "a" } },
      $addToSet: { set: { k: 1, v: "x" } },
      $push: { created: "first" },
      $inc: { "deep.er.count": 2 },
    };
    await coll.updateOne({ _id: 1 }, update);
    expect(await coll.findOne({ _id: 1 })).toEqual({
      _id: 1,
      arr: [1, null, 3],
      objs: [{ sku: "b", n: 2 }],
      set: [{ k: 1, v: "x" }],
      pad: { 3: "p" },
      created: ["first"],
      deep: { er: { count: 2 } },
    });
    const extend: Document = { $set: { "arr.5": 6 }, $addToSet: { set: { v: "x", k: 1 } } };
    await coll.updateOne({ _id: 1 }, extend);
    expect(await coll.findOne({ _id: 1 }, { projection: { arr: 1, set: 1 } })).toEqual({
      _id: 1,
      arr: [1, null, 3, null, null, 6],
      // Field order matters for document equality, so { v, k } is a new element.
      set: [
        { k: 1, v: "x" },
        { v: "x", k: 1 },
      ],
    });
  });

  it("replaceOne keeps the _id and drops the old fields; upserts when asked", async () => {
    const coll = freshCollection("replace");
    await coll.insertOne({ _id: 1, a: 1, b: 2 });
    const replaced = await coll.replaceOne({ _id: 1 }, { c: 3 });
    expect([replaced.matchedCount, replaced.modifiedCount]).toEqual([1, 1]);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, c: 3 });

    const upserted = await coll.replaceOne({ _id: 2 }, { d: 4 }, { upsert: true });
    expect(upserted.upsertedId).toBe(2);
    expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, d: 4 });

    // A replacement upsert copies only an _id equality from the filter, never other fields.
    const byField = await coll.replaceOne({ k: "from-filter" }, { f: 6 }, { upsert: true });
    expect(byField.upsertedId).toBeInstanceOf(ObjectId);
    expect(await coll.findOne({ f: 6 }, { projection: { _id: 0 } })).toEqual({ f: 6 });

    const missing = await coll.replaceOne({ _id: 3 }, { e: 5 });
    expect([missing.matchedCount, missing.modifiedCount, missing.upsertedCount]).toEqual([0, 0, 0]);
  });
});

describe("delete", () => {
  it("deleteOne removes one match, deleteMany all matches", async () => {
    const coll = freshCollection("delete");
    await coll.insertMany([{ g: 1 }, { g: 1 }, { g: 1 }, { g: 2 }]);
    expect((await coll.deleteOne({ g: 1 })).deletedCount).toBe(1);
    expect(await coll.countDocuments({ g: 1 })).toBe(2);
    expect((await coll.deleteMany({ g: 1 })).deletedCount).toBe(2);
    expect((await coll.deleteMany({ g: 3 })).deletedCount).toBe(0);
    expect(await coll.countDocuments()).toBe(1);
  });
});

describe("find", () => {
  const people = [
    { _id: 1, name: "ann", age: 31, city: "oslo", tags: ["a", "b"], scores: [70, 95], addr: { zip: "0150", street: "x" } },
    { _id: 2, name: "bob", age: 25, city: "rome", tags: ["b"], scores: [50], addr: { zip: "00100", street: "y" } },
    { _id: 3, name: "cid", age: 40, city: "oslo", tags: [], scores: [88, 89], addr: { zip: "0151", street: "z" } },
    { _id: 4, name: "dee", age: 25, city: "lima", tags: ["a", "c"], scores: [100], addr: { zip: "15001", street: "w" } },
    { _id: 5, name: "eve", city: "rome", tags: ["c"], scores: [] },
  ];
  let coll: Collection<TestDoc>;

  async function ids(filter: Document): Promise<unknown[]> {
    return (await coll.find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);
  }

  beforeAll(async () => {
    coll = freshCollection("find_people");
    await coll.insertMany(people);
  });

  it("matches with the query operators", async () => {
    expect(await ids({ age: 25 })).toEqual([2, 4]);
    expect(await ids({ age: { $gt: 25, $lte: 40 } })).toEqual([1, 3]);
    expect(await ids({ age: { $ne: 25 } })).toEqual([1, 3, 5]);
    expect(await ids({ city: { $in: ["lima", "rome"] } })).toEqual([2, 4, 5]);
    expect(await ids({ city: { $nin: ["lima", "rome"] } })).toEqual([1, 3]);
    expect(await ids({ $or: [{ age: 40 }, { name: "eve" }] })).toEqual([3, 5]);
    expect(await ids({ $and: [{ city: "oslo" }, { age: { $lt: 35 } }] })).toEqual([1]);
    expect(await ids({ $nor: [{ city: "oslo" }, { age: 25 }] })).toEqual([5]);
    expect(await ids({ age: { $not: { $gte: 30 } } })).toEqual([2, 4, 5]);
    expect(await ids({ name: { $regex: "^[a-c]" } })).toEqual([1, 2, 3]);
    expect(await ids({ name: /E$/i })).toEqual([4, 5]);
    expect(await ids({ tags: "a" })).toEqual([1, 4]);
    expect(await ids({ tags: { $all: ["a", "b"] } })).toEqual([1]);
    expect(await ids({ tags: { $size: 0 } })).toEqual([3]);
    expect(await ids({ scores: { $elemMatch: { $gt: 80, $lt: 90 } } })).toEqual([3]);
    expect(await ids({ scores: { $gt: 80, $lt: 90 } })).toEqual([1, 3]);
    expect(await ids({ "addr.zip": { $regex: "^01" } })).toEqual([1, 3]);
    expect(await ids({ "scores.0": { $gte: 88 } })).toEqual([3, 4]);
    expect(await ids({ age: { $exists: false } })).toEqual([5]);
    expect(await ids({ age: { $type: "int" } })).toEqual([1, 2, 3, 4]);
    expect(await ids({ $expr: { $gt: [{ $size: "$tags" }, 1] } })).toEqual([1, 4]);
  });

  it("sorts, projects, skips and limits", async () => {
    const byAgeThenName = await coll
      .find({ age: { $exists: true } })
      .sort({ age: -1, name: 1 })
      .project({ _id: 0, name: 1, age: 1 })
      .toArray();
    expect(byAgeThenName).toEqual([
      { name: "cid", age: 40 },
      { name: "ann", age: 31 },
      { name: "bob", age: 25 },
      { name: "dee", age: 25 },
    ]);

    const page = await coll.find({}, { sort: { _id: 1 }, skip: 1, limit: 2, projection: { name: 1 } }).toArray();
    expect(page).toEqual([
      { _id: 2, name: "bob" },
      { _id: 3, name: "cid" },
    ]);

    const excluded = await coll.findOne({ _id: 1 }, { projection: { tags: 0, scores: 0, "addr.street": 0 } });
    expect(excluded).toEqual({ _id: 1, name: "ann", age: 31, city: "oslo", addr: { zip: "0150" } });

    const dotted = await coll.findOne({ _id: 2 }, { projection: { "addr.zip": 1, _id: 0 } });
    expect(dotted).toEqual({ addr: { zip: "00100" } });

    const arrayProjection = await coll.findOne({ _id: 1 }, { projection: { _id: 0, "addr.zip": 1, scores: 1 } });
    expect(arrayProjection).toEqual({ addr: { zip: "0150" }, scores: [70, 95] });

    const byZip = await coll.find({ addr: { $exists: true } }, { sort: { "addr.zip": -1 }, projection: { _id: 1 } }).toArray();
    expect(byZip.map((d) => d._id)).toEqual([4, 3, 1, 2]);

    const missingSortsFirst = await coll.find({}, { sort: { age: 1, _id: 1 }, projection: { _id: 1 } }).toArray();
    expect(missingSortsFirst.map((d) => d._id)).toEqual([5, 2, 4, 1, 3]);

    expect(await coll.find({}).sort({ _id: 1 }).skip(10).toArray()).toEqual([]);
    expect(await coll.findOne({ name: "nobody" })).toBeNull();
  });

  it("honours limit across batches and $elemMatch on embedded documents", async () => {
    const limited = freshCollection("find_limit_batches");
    await limited.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, items: [{ sku: i % 2 === 0 ? "even" : "odd", qty: i }] })));
    const firstFive = await limited.find({}, { sort: { _id: 1 }, limit: 5, batchSize: 2 }).toArray();
    expect(firstFive.map((d) => d._id)).toEqual([0, 1, 2, 3, 4]);
    const matched = await limited
      .find({ items: { $elemMatch: { sku: "odd", qty: { $gt: 15 } } } })
      .sort({ _id: 1 })
      .toArray();
    expect(matched.map((d) => d._id)).toEqual([17, 19]);
  });

  it("pages a 250-document result through getMore with batchSize 10", async () => {
    const big = freshCollection("find_batches");
    await big.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, pad: "x".repeat(20) })));
    const monitored = await ctx().newClient({ monitorCommands: true });
    const getMores = recordReplies(monitored, "getMore");
    const cursor = monitored
      .db(ctx().db.databaseName)
      .collection<TestDoc>(big.collectionName)
      .find({}, { batchSize: 10, sort: { _id: 1 } });
    const seen: unknown[] = [];
    for await (const doc of cursor) seen.push(doc._id);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    // 10 in firstBatch, then 24 full batches; a server may need one more empty getMore to see the end.
    expect(getMores.length).toBeGreaterThanOrEqual(24);
    expect(getMores.length).toBeLessThanOrEqual(25);
    for (const event of getMores) {
      const batch = (event.reply as { cursor: { nextBatch: unknown[] } }).cursor.nextBatch;
      expect(batch.length).toBeLessThanOrEqual(10);
    }
  });

  it("cursor.close() kills the server cursor", async () => {
    const big = freshCollection("find_kill");
    await big.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i })));
    const monitored = await ctx().newClient({ monitorCommands: true });
    const kills = recordReplies(monitored, "killCursors");
    const mdb = monitored.db(ctx().db.databaseName);
    const cursor = mdb.collection<TestDoc>(big.collectionName).find({}, { batchSize: 10, sort: { _id: 1 } });
    for (let i = 0; i < 15; i += 1) expect((await cursor.next())?._id).toBe(i);
    const id = cursor.id;
    expect(id).toBeInstanceOf(Long);
    expect(id?.isZero()).toBe(false);
    await cursor.close();
    expect(kills).toHaveLength(1);
    const killed = (kills[0]?.reply as { cursorsKilled: unknown[] }).cursorsKilled.map(cursorIdText);
    expect(killed).toEqual([id?.toString()]);
    const error = await expectServerError(mdb.command({ getMore: id, collection: big.collectionName }));
    expect(error.code).toBe(43);
    expect(error.codeName).toBe("CursorNotFound");
  });
});

describe("findOneAndUpdate / findOneAndReplace / findOneAndDelete", () => {
  it("returns the before or after image and honours sort and projection", async () => {
    const coll = freshCollection("fam_update");
    await coll.insertMany([
      { _id: 1, q: 1, v: 10 },
      { _id: 2, q: 1, v: 20 },
    ]);
    const before = await coll.findOneAndUpdate({ q: 1 }, { $inc: { v: 1 } }, { sort: { v: -1 }, returnDocument: "before" });
    expect(before).toEqual({ _id: 2, q: 1, v: 20 });
    const after = await coll.findOneAndUpdate(
      { q: 1 },
      { $inc: { v: 1 } },
      { sort: { v: 1 }, returnDocument: "after", projection: { _id: 1, v: 1 } },
    );
    expect(after).toEqual({ _id: 1, v: 11 });
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, q: 1, v: 11 },
      { _id: 2, q: 1, v: 21 },
    ]);
    expect(await coll.findOneAndUpdate({ q: 2 }, { $set: { v: 0 } })).toBeNull();
  });

  it("upserts: after-image is the new document, before-image is null", async () => {
    const coll = freshCollection("fam_upsert");
    const created = await coll.findOneAndUpdate({ _id: "a" }, { $set: { v: 1 } }, { upsert: true, returnDocument: "after" });
    expect(created).toEqual({ _id: "a", v: 1 });
    const none = await coll.findOneAndUpdate({ _id: "b" }, { $set: { v: 2 } }, { upsert: true, returnDocument: "before" });
    expect(none).toBeNull();
    expect(await coll.findOne({ _id: "b" })).toEqual({ _id: "b", v: 2 });
    const meta = await coll.findOneAndUpdate(
      { _id: "c" },
      { $set: { v: 3 } },
      { upsert: true, returnDocument: "after", includeResultMetadata: true },
    );
    expect(meta.ok).toBe(1);
    expect(meta.value).toEqual({ _id: "c", v: 3 });
    expect(meta.lastErrorObject).toMatchObject({ n: 1, updatedExisting: false, upserted: "c" });
  });

  it("findOneAndReplace returns before/after images and can upsert", async () => {
    const coll = freshCollection("fam_replace");
    await coll.insertOne({ _id: 1, a: 1 });
    expect(await coll.findOneAndReplace({ _id: 1 }, { b: 2 }, { returnDocument: "before" })).toEqual({ _id: 1, a: 1 });
    expect(await coll.findOneAndReplace({ _id: 1 }, { c: 3 }, { returnDocument: "after" })).toEqual({ _id: 1, c: 3 });
    expect(await coll.findOneAndReplace({ _id: 2 }, { d: 4 }, { upsert: true, returnDocument: "after" })).toEqual({ _id: 2, d: 4 });
    expect(await coll.countDocuments()).toBe(2);
  });

  it("findOneAndDelete returns the removed document, chosen by sort", async () => {
    const coll = freshCollection("fam_delete");
    await coll.insertMany([
      { _id: 1, p: 5 },
      { _id: 2, p: 9 },
      { _id: 3, p: 1 },
    ]);
    expect(await coll.findOneAndDelete({}, { sort: { p: -1 } })).toEqual({ _id: 2, p: 9 });
    expect(await coll.findOneAndDelete({ p: { $gt: 100 } })).toBeNull();
    expect((await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 3]);
  });
});
