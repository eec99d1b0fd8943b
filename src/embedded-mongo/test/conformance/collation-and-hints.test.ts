/**
 * Options that change answers are honoured or refused, never ignored:
 * collation on unique indexes, matching, sorting and grouping; `hint` naming
 * an index that does not exist; a `partialFilterExpression` MongoDB does not
 * allow.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Collection } from "mongodb";
import { expectServerError, listIndexes, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("collation");
const caseInsensitive = { locale: "en", strength: 2 } as const;

describe("collation", () => {
  it("a unique index with strength 2 treats 'A@x' and 'a@x' as one key, but not 'á@x'", async () => {
    const users = ctx().db.collection<TestDoc>("users");
    await users.createIndex({ email: 1 }, { unique: true, collation: caseInsensitive }, undefined);
    await users.insertOne({ _id: 1, email: "A@x" });
    const duplicate = await expectServerError(users.insertOne({ _id: 2, email: "a@x" }));
    expect(duplicate.code).toBe(11000);
    await users.insertOne({ _id: 3, email: "á@x" });
    const update = await expectServerError(users.updateOne({ _id: 3 }, { $set: { email: "a@X" } }));
    expect(update.code).toBe(11000);
    expect(await users.countDocuments()).toBe(2);
  });

  it("a unique index with strength 1 ignores accents too", async () => {
    const names = ctx().db.collection<TestDoc>("names");
    await names.createIndex({ name: 1 }, { unique: true, collation: { locale: "fr", strength: 1 } }, undefined);
    await names.insertOne({ _id: 1, name: "Élise" });
    expect((await expectServerError(names.insertOne({ _id: 2, name: "elise" }))).code).toBe(11000);
  });

  describe("on queries", () => {
    let fruit: Collection<TestDoc>;

    beforeAll(async () => {
      fruit = ctx().db.collection<TestDoc>("fruit");
      await fruit.insertMany([
        { _id: 1, name: "banana" },
        { _id: 2, name: "Apple" },
        { _id: 3, name: "cherry" },
        { _id: 4, name: "apple" },
        { _id: 5, name: "Cherry" },
      ]);
    });

    it("find and countDocuments match case-insensitively with strength 2", async () => {
      expect((await fruit.find({ name: "APPLE" }, { collation: caseInsensitive }).toArray()).map((d) => d._id).sort()).toEqual([2, 4]);
      expect(await fruit.countDocuments({ name: { $in: ["CHERRY"] } }, { collation: caseInsensitive })).toBe(2);
      expect(await fruit.countDocuments({ name: "APPLE" })).toBe(0);
    });

    it("sort orders by the locale instead of by code point", async () => {
      const binary = (await fruit.find({}).sort({ name: 1 }).toArray()).map((d) => d["name"] as string);
      expect(binary).toEqual(["Apple", "Cherry", "apple", "banana", "cherry"]);
      const english = (
        await fruit
          .find({}, { collation: { locale: "en" } })
          .sort({ name: 1 })
          .toArray()
      ).map((d) => d["name"] as string);
      expect(english).toEqual(["apple", "Apple", "banana", "cherry", "Cherry"]);
    });

    it("aggregate groups and matches under the collation; updates and deletes match under theirs", async () => {
      const groups = await fruit
        .aggregate(
          [{ $match: { name: { $ne: "BANANA" } } }, { $group: { _id: "$name", n: { $sum: 1 } } }, { $project: { _id: 0, n: 1 } }],
          { collation: caseInsensitive },
        )
        .toArray();
      expect(groups).toEqual([{ n: 2 }, { n: 2 }]);
      const scratch = ctx().db.collection<TestDoc>("fruit_scratch");
      await scratch.insertMany([
        { _id: 1, name: "Apple" },
        { _id: 2, name: "apple" },
        { _id: 3, name: "pear" },
      ]);
      expect((await scratch.updateMany({ name: "APPLE" }, { $set: { seen: true } }, { collation: caseInsensitive })).modifiedCount).toBe(2);
      expect((await scratch.deleteMany({ name: "aPPle" }, { collation: caseInsensitive })).deletedCount).toBe(2);
      expect(await scratch.find().toArray()).toEqual([{ _id: 3, name: "pear" }]);
    });

    it("an unknown locale is a BadValue", async () => {
      const error = await expectServerError(fruit.find({}, { collation: { locale: "no-such-locale-xx" } }).toArray());
      expect(error.code).toBe(2);
    });
  });
});

describe("hint", () => {
  let coll: Collection<TestDoc>;

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("hinted");
    await coll.createIndex({ a: 1 }, { name: "a_index" }, undefined);
    await coll.insertMany([
      { _id: 1, a: 1 },
      { _id: 2, a: 2 },
    ]);
  });

  it("naming an existing index, by name or key pattern, answers as without", async () => {
    expect(await coll.find({ a: 2 }).hint("a_index").toArray()).toEqual([{ _id: 2, a: 2 }]);
    expect(await coll.find({ a: 2 }).hint({ a: 1 }).toArray()).toEqual([{ _id: 2, a: 2 }]);
    expect(await coll.find({}).hint({ $natural: 1 }).toArray()).toHaveLength(2);
  });

  it("naming no index is a BadValue in find, aggregate, count, update and delete", async () => {
    for (const attempt of [
      () => coll.find({}).hint("nope").toArray(),
      () => coll.find({}).hint({ b: 1 }).toArray(),
      () => coll.aggregate([{ $match: {} }], { hint: "nope" }).toArray(),
      () => coll.countDocuments({}, { hint: "nope" }),
      () => coll.updateOne({ _id: 1 }, { $set: { b: 1 } }, { hint: "nope" }),
      () => coll.deleteOne({ _id: 1 }, { hint: { b: 1 } }),
    ]) {
      const error = await expectServerError(attempt());
      expect(error.code).toBe(2);
      expect(error.message).toContain("hint provided does not correspond to an existing index");
    }
    expect(await coll.countDocuments()).toBe(2);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, a: 1 });
  });
});

describe("partialFilterExpression", () => {
  it("refuses expressions MongoDB does not allow in partial indexes with 67 CannotCreateIndex, and creates nothing", async () => {
    const coll = ctx().db.collection<TestDoc>("partial");
    await coll.insertOne({ _id: 1, z: 2 });
    for (const partialFilterExpression of [
      { z: { $ne: 1 } },
      { z: { $exists: false } },
      { $nor: [{ z: 1 }] },
      { z: { $not: { $gt: 1 } } },
    ]) {
      const error = await expectServerError(coll.createIndex({ z: 1 }, { partialFilterExpression }, undefined));
      expect(error.code).toBe(67);
      expect(error.codeName).toBe("CannotCreateIndex");
    }
    expect((await listIndexes(coll)).map((i) => i["name"] as string)).toEqual(["_id_"]);
    await coll.createIndex(
      { z: 1 },
      { partialFilterExpression: { z: { $gt: 1, $exists: true }, $or: [{ k: "a" }, { k: { $in: ["b"] } }] } },
      undefined,
    );
  });
});
