/**
 * Query features MongoDB 7 has and the store once got wrong or refused: the
 * `let` option of every command that takes one, `$elemMatch` and positional
 * projections, the week-numbering date operators, and the bitwise query
 * operators on non-integral numbers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Double, Int32, type Collection } from "mongodb";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("query_features");

describe("the let option", () => {
  let coll: Collection<TestDoc>;

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("let");
    await coll.insertMany([
      { _id: 1, x: 1, y: "a" },
      { _id: 2, x: 2, y: "b" },
      { _id: 3, x: 3, y: "c" },
    ]);
  });

  it("find, countDocuments and aggregate see $$variables in $expr and expressions", async () => {
    expect(await coll.find({ $expr: { $eq: ["$x", "$$v"] } }, { let: { v: 2 } }).toArray()).toEqual([{ _id: 2, x: 2, y: "b" }]);
    expect(
      await coll
        .aggregate([{ $match: { $expr: { $gte: ["$x", "$$min"] } } }, { $project: { y: 1, label: { $concat: ["$y", "$$suffix"] } } }], {
          let: { min: 2, suffix: "!" },
        })
        .toArray(),
    ).toEqual([
      { _id: 2, y: "b", label: "b!" },
      { _id: 3, y: "c", label: "c!" },
    ]);
  });

  it("updateOne, updateMany and findOneAndUpdate use them in the filter and in a pipeline update", async () => {
    const result = await coll.updateMany({ $expr: { $lt: ["$x", "$$limit"] } }, [{ $set: { tag: "$$tag" } }], {
      let: { limit: 3, tag: "small" },
    });
    expect(result.modifiedCount).toBe(2);
    expect(await coll.find({ tag: "small" }).project({ _id: 1 }).toArray()).toEqual([{ _id: 1 }, { _id: 2 }]);
    const after = await coll.findOneAndUpdate({ $expr: { $eq: ["$x", "$$v"] } }, [{ $set: { seen: "$$v" } }], {
      let: { v: 3 },
      returnDocument: "after",
    });
    expect(after).toEqual({ _id: 3, x: 3, y: "c", seen: 3 });
  });

  it("deleteMany uses them in the filter", async () => {
    const scratch = ctx().db.collection<TestDoc>("let_delete");
    await scratch.insertMany([
      { _id: 1, x: 1 },
      { _id: 2, x: 2 },
    ]);
    expect((await scratch.deleteMany({ $expr: { $eq: ["$x", "$$v"] } }, { let: { v: 2 } })).deletedCount).toBe(1);
    expect(await scratch.find().toArray()).toEqual([{ _id: 1, x: 1 }]);
  });
});

describe("array projections", () => {
  let coll: Collection<TestDoc>;

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("projections");
    await coll.insertMany([
      {
        _id: 1,
        arr: [
          { a: 1, b: 1 },
          { a: 2, b: 2 },
          { a: 2, b: 3 },
        ],
        name: "one",
        other: true,
      },
      { _id: 2, arr: [{ a: 5, b: 5 }], name: "two", other: false },
    ]);
  });

  it("$elemMatch returns only _id and the first matching element, and omits the field when nothing matches", async () => {
    expect(await coll.find({}, { projection: { arr: { $elemMatch: { a: 2 } } } }).toArray()).toEqual([
      { _id: 1, arr: [{ a: 2, b: 2 }] },
      { _id: 2 },
    ]);
  });

  it("$elemMatch fields come after the other included fields", async () => {
    const [doc] = await coll.find({ _id: 1 }, { projection: { arr: { $elemMatch: { b: { $gt: 2 } } }, name: 1 } }).toArray();
    expect(doc).toEqual({ _id: 1, name: "one", arr: [{ a: 2, b: 3 }] });
    expect(Object.keys(doc ?? {})).toEqual(["_id", "name", "arr"]);
  });

  it("the positional $ returns the first element the query matched", async () => {
    expect(await coll.find({ "arr.a": 2 }, { projection: { "arr.$": 1 } }).toArray()).toEqual([{ _id: 1, arr: [{ a: 2, b: 2 }] }]);
    expect(await coll.find({ "arr.b": { $gte: 3 } }, { projection: { "arr.$": 1, name: 1 } }).toArray()).toEqual([
      { _id: 1, arr: [{ a: 2, b: 3 }], name: "one" },
      { _id: 2, arr: [{ a: 5, b: 5 }], name: "two" },
    ]);
    expect(await coll.findOne({ arr: { $elemMatch: { a: 5 } } }, { projection: { _id: 0, "arr.$": 1 } })).toEqual({
      arr: [{ a: 5, b: 5 }],
    });
  });
});

describe("week-numbering date operators", () => {
  const days = {
    sat: new Date("2024-01-06T12:00:00Z"),
    sun: new Date("2024-01-07T12:00:00Z"),
    newYear2021: new Date("2021-01-01T00:00:00Z"),
    lateDec: new Date("2024-12-30T00:00:00Z"),
    lastDay: new Date("2024-12-31T23:59:59Z"),
  };

  it("$week and %U count Sunday-started weeks from 0; $isoWeek, $isoWeekYear, %V, %G, %j and $dayOfYear as ISO 8601", async () => {
    const coll = ctx().db.collection<TestDoc>("dates");
    await coll.insertMany(Object.entries(days).map(([name, d]) => ({ _id: name, d })));
    const rows = await coll
      .aggregate([
        {
          $project: {
            week: { $week: "$d" },
            isoWeek: { $isoWeek: "$d" },
            isoYear: { $isoWeekYear: "$d" },
            day: { $dayOfYear: "$d" },
            text: { $dateToString: { date: "$d", format: "%U %V %G %j %u %w" } },
          },
        },
      ])
      .toArray();
    const byId = Object.fromEntries(rows.map(({ _id, ...rest }) => [String(_id), rest]));
    expect(byId).toEqual({
      sat: { week: 0, isoWeek: 1, isoYear: 2024, day: 6, text: "00 01 2024 006 6 6" },
      sun: { week: 1, isoWeek: 1, isoYear: 2024, day: 7, text: "01 01 2024 007 7 0" },
      newYear2021: { week: 0, isoWeek: 53, isoYear: 2020, day: 1, text: "00 53 2020 001 5 5" },
      lateDec: { week: 52, isoWeek: 1, isoYear: 2025, day: 365, text: "52 01 2025 365 1 1" },
      lastDay: { week: 52, isoWeek: 1, isoYear: 2025, day: 366, text: "52 01 2025 366 2 2" },
    });
  });
});

describe("bitwise query operators", () => {
  it("match integral numbers only, negative ones as 64-bit two's complement", async () => {
    const coll = ctx().db.collection<TestDoc>("bits");
    await coll.insertMany([
      { _id: "int", n: new Int32(25) },
      { _id: "double", n: new Double(25) },
      { _id: "fraction", n: 25.5 },
      { _id: "negative", n: -1 },
      { _id: "string", n: "25" },
    ]);
    const ids = async (filter: object): Promise<string[]> => (await coll.find(filter).toArray()).map((d) => d._id as string).sort();
    expect(await ids({ n: { $bitsAllSet: [0, 3, 4] } })).toEqual(["double", "int", "negative"]);
    expect(await ids({ n: { $bitsAllSet: 1 } })).toEqual(["double", "int", "negative"]);
    expect(await ids({ n: { $bitsAnySet: [1, 2] } })).toEqual(["negative"]);
    expect(await ids({ n: { $bitsAllClear: [1, 2] } })).toEqual(["double", "int"]);
    expect(await ids({ n: { $bitsAnyClear: [63] } })).toEqual(["double", "int"]);
  });
});
