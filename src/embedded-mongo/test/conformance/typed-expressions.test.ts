/**
 * BSON numeric types through computed values: aggregation expressions,
 * accumulators, `$group` keys, `$expr` and pipeline-style updates keep the
 * types MongoDB gives them (Long + Long is a Long, int32 overflow widens to
 * long, Decimal128 is computed in decimal) and untouched values byte for byte.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { BSON, Decimal128, Double, Int32, Long, type Collection, type Document } from "mongodb";
import { expectServerError, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("typed_expr");

/** `Long(5)`, `Int32(5)`, `Double(5)`, `Decimal128(0.30)`: type and exact value in one string. */
function typed(value: unknown): string {
  if (value instanceof Long) return `Long(${value.toString()})`;
  if (value instanceof Int32) return `Int32(${value.value})`;
  if (value instanceof Double) return `Double(${value.value})`;
  if (value instanceof Decimal128) return `Decimal128(${value.toString()})`;
  return JSON.stringify(value);
}

const big = Long.fromString("9007199254740993");
const numbers = {
  _id: 1,
  i: new Int32(5),
  imax: new Int32(2147483647),
  l: big,
  l2: Long.fromNumber(3),
  lmax: Long.MAX_VALUE,
  d: new Double(2.5),
  d1: new Double(1),
  dec1: Decimal128.fromString("0.10"),
  dec2: Decimal128.fromString("0.20"),
  when: new Date("2024-03-01T00:00:00.000Z"),
  earlier: new Date("2024-02-29T00:00:00.000Z"),
  name: "x",
};

let coll: Collection<TestDoc>;

beforeAll(async () => {
  coll = ctx().db.collection<TestDoc>("numbers");
  await coll.insertOne(numbers);
});

/** Runs `expressions` as a $project on the one document (plain driver options, for error replies). */
function project(expressions: Record<string, unknown>): Promise<Document[]> {
  return coll.aggregate([{ $match: { _id: 1 } }, { $project: expressions }]).toArray();
}

/** Evaluates each expression on the one document and returns the typed results. */
async function evaluate(expressions: Record<string, unknown>): Promise<Record<string, string>> {
  const [doc] = await coll
    .aggregate([{ $match: { _id: 1 } }, { $project: { _id: 0, ...expressions } }], { promoteValues: false })
    .toArray();
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc ?? {})) out[key] = typed(value);
  return out;
}

describe("arithmetic keeps MongoDB's result types", () => {
  it("$add: Long + Long is an exact Long, int32 overflow widens to Long, long overflow to double, doubles and decimals win", async () => {
    expect(
      await evaluate({
        longs: { $add: ["$l", "$l2"] },
        intOverflow: { $add: ["$imax", 1] },
        longOverflow: { $add: ["$lmax", Long.fromNumber(1)] },
        ints: { $add: ["$i", 1] },
        intDouble: { $add: ["$i", "$d"] },
        intIntegralDouble: { $add: ["$i", "$d1"] },
        decimal: { $add: ["$dec1", "$dec2"] },
        decimalInt: { $add: ["$dec1", 1] },
        date: { $add: ["$when", Long.fromNumber(1000)] },
      }),
    ).toEqual({
      longs: "Long(9007199254740996)",
      intOverflow: "Long(2147483648)",
      longOverflow: "Double(9223372036854776000)",
      ints: "Int32(6)",
      intDouble: "Double(7.5)",
      intIntegralDouble: "Double(6)",
      decimal: "Decimal128(0.30)",
      decimalInt: "Decimal128(1.10)",
      date: JSON.stringify(new Date("2024-03-01T00:00:01.000Z")),
    });
  });

  it("$subtract, $multiply, $divide, $mod and $abs", async () => {
    expect(
      await evaluate({
        subLong: { $subtract: ["$l", 1] },
        subInts: { $subtract: ["$i", 7] },
        subDates: { $subtract: ["$when", "$earlier"] },
        mulOverflow: { $multiply: ["$imax", 2] },
        mulLong: { $multiply: ["$l2", "$l2"] },
        mulDecimal: { $multiply: ["$dec1", 2] },
        divInts: { $divide: [10, 4] },
        divIntegral: { $divide: [10, 2] },
        divDecimal: { $divide: ["$dec1", 2] },
        modLong: { $mod: ["$l", 10] },
        modInts: { $mod: [7, 3] },
        modDouble: { $mod: [7.5, 2] },
        absLong: { $abs: Long.fromNumber(-5) },
        absDouble: { $abs: -2.5 },
      }),
    ).toEqual({
      subLong: "Long(9007199254740992)",
      subInts: "Int32(-2)",
      subDates: "Long(86400000)",
      mulOverflow: "Long(4294967294)",
      mulLong: "Long(9)",
      mulDecimal: "Decimal128(0.20)",
      divInts: "Double(2.5)",
      divIntegral: "Double(5)",
      divDecimal: "Decimal128(0.05)",
      modLong: "Long(3)",
      modInts: "Int32(1)",
      modDouble: "Double(1.5)",
      absLong: "Long(5)",
      absDouble: "Double(2.5)",
    });
  });

  it("refuses division and modulo by zero with MongoDB's codes", async () => {
    expect((await expectServerError(project({ x: { $divide: ["$i", 0] } }))).code).toBe(2);
    expect((await expectServerError(project({ x: { $mod: ["$i", 0] } }))).code).toBe(16610);
  });

  it("conversions: $toInt, $toLong, $toDouble, $toDecimal and $convert", async () => {
    expect(
      await evaluate({
        toLongString: { $toLong: "9007199254740993" },
        toLongDouble: { $toLong: 2.9 },
        toIntDouble: { $toInt: -2.9 },
        toIntString: { $toInt: "12" },
        toIntLong: { $toInt: "$l2" },
        toDoubleLong: { $toDouble: "$l2" },
        toDoubleDecimal: { $toDouble: "$dec1" },
        toDecimalDouble: { $toDecimal: 2.5 },
        toDecimalLong: { $toDecimal: "$l" },
        toDecimalInt: { $toDecimal: "$i" },
        convertDecimal: { $convert: { input: "$i", to: "decimal" } },
        convertFailed: { $convert: { input: "$l", to: "int", onError: "too big" } },
        convertNull: { $convert: { input: "$missing", to: "long", onNull: "none" } },
      }),
    ).toEqual({
      toLongString: "Long(9007199254740993)",
      toLongDouble: "Long(2)",
      toIntDouble: "Int32(-2)",
      toIntString: "Int32(12)",
      toIntLong: "Int32(3)",
      toDoubleLong: "Double(3)",
      toDoubleDecimal: "Double(0.1)",
      toDecimalDouble: "Decimal128(2.50000000000000)",
      toDecimalLong: "Decimal128(9007199254740993)",
      toDecimalInt: "Decimal128(5)",
      convertDecimal: "Decimal128(5)",
      convertFailed: '"too big"',
      convertNull: '"none"',
    });
    const overflow = await expectServerError(project({ x: { $toInt: "$l" } }));
    expect(overflow.code).toBe(241);
    expect(overflow.codeName).toBe("ConversionFailure");
  });
});

describe("comparisons on Longs are exact", () => {
  it("$expr in find and in $match tells 2^53 from 2^53 + 1", async () => {
    expect(await coll.countDocuments({ $expr: { $eq: ["$l", Long.fromString("9007199254740992")] } })).toBe(0);
    expect(await coll.countDocuments({ $expr: { $eq: ["$l", Long.fromString("9007199254740993")] } })).toBe(1);
    expect(await coll.countDocuments({ $expr: { $gt: ["$l", Long.fromString("9007199254740992")] } })).toBe(1);
    expect(await coll.find({ $expr: { $lt: ["$l", Long.fromString("9007199254740993")] } }).toArray()).toEqual([]);
    expect(
      await evaluate({
        eq: { $eq: ["$l", Long.fromString("9007199254740992")] },
        cmp: { $cmp: ["$l", Long.fromString("9007199254740992")] },
      }),
    ).toEqual({ eq: "false", cmp: "Int32(1)" });
  });
});

describe("accumulators and $group keys keep types", () => {
  let sales: Collection<TestDoc>;

  beforeAll(async () => {
    sales = ctx().db.collection<TestDoc>("sales");
    await sales.insertMany([
      { _id: 1, k: "dec", v: Decimal128.fromString("0.10") },
      { _id: 2, k: "dec", v: Decimal128.fromString("0.20") },
      { _id: 3, k: "int", v: new Int32(2) },
      { _id: 4, k: "int", v: new Int32(4) },
      { _id: 5, k: "long", v: big },
      { _id: 6, k: "long", v: new Int32(1) },
      { _id: 7, k: "mixed", v: new Int32(1) },
      { _id: 8, k: "mixed", v: new Double(0.5) },
      { _id: 9, k: "overflow", v: new Int32(2147483647) },
      { _id: 10, k: "overflow", v: new Int32(1) },
    ]);
  });

  async function byKey(accumulator: string): Promise<Record<string, string>> {
    const rows = await sales.aggregate([{ $group: { _id: "$k", r: { [accumulator]: "$v" } } }], { promoteValues: false }).toArray();
    return Object.fromEntries(rows.map((row) => [String(row["_id"]), typed(row["r"])]));
  }

  it("$sum: decimal in decimal, ints as int, int overflow to long, with a Long as Long, with a double as double", async () => {
    expect(await byKey("$sum")).toEqual({
      dec: "Decimal128(0.30)",
      int: "Int32(6)",
      long: "Long(9007199254740994)",
      mixed: "Double(1.5)",
      overflow: "Long(2147483648)",
    });
  });

  it("$avg is a double (a decimal for decimals); $min and $max return the typed values", async () => {
    expect(await byKey("$avg")).toEqual({
      dec: "Decimal128(0.15)",
      int: "Double(3)",
      long: "Double(4503599627370497)",
      mixed: "Double(0.75)",
      overflow: "Double(1073741824)",
    });
    expect((await byKey("$max"))["long"]).toBe("Long(9007199254740993)");
    expect((await byKey("$min"))["dec"]).toBe("Decimal128(0.10)");
  });

  it("$group on a Long key keeps it exact; Int32 5, Long 5 and Double 5 are one group", async () => {
    const rows = await sales
      .aggregate([{ $match: { k: "long" } }, { $group: { _id: "$v", n: { $sum: 1 } } }, { $sort: { _id: -1 } }], { promoteValues: false })
      .toArray();
    expect(rows.map((row) => [typed(row["_id"]), typed(row["n"])])).toEqual([
      ["Long(9007199254740993)", "Int32(1)"],
      ["Int32(1)", "Int32(1)"],
    ]);
    const fives = ctx().db.collection<TestDoc>("fives");
    await fives.insertMany([
      { _id: 1, v: new Int32(5) },
      { _id: 2, v: Long.fromNumber(5) },
      { _id: 3, v: new Double(5) },
    ]);
    const groups = await fives.aggregate([{ $group: { _id: "$v", n: { $sum: 1 } } }]).toArray();
    expect(groups).toHaveLength(1);
    expect(groups[0]?.["n"]).toBe(3);
  });
});

describe("pipeline-style updates", () => {
  function bsonOf(value: unknown): Buffer {
    return Buffer.from(BSON.serialize({ v: value }));
  }

  it("leave untouched fields byte-identical and compute in MongoDB's types", async () => {
    const docs = ctx().db.collection<TestDoc>("pipeline_updates");
    await docs.insertOne({ ...numbers, nested: { l: big, d1: new Double(1), list: [big, new Double(2)] } });
    const before = (await docs.findOne({ _id: 1 }, { promoteValues: false })) as Document;
    await docs.updateOne({ _id: 1 }, [{ $set: { name: "y" } }]);
    const after = (await docs.findOne({ _id: 1 }, { promoteValues: false })) as Document;
    expect(after["name"]).toBe("y");
    for (const field of Object.keys(before).filter((f) => f !== "name")) {
      expect(bsonOf(after[field]).equals(bsonOf(before[field])), field).toBe(true);
    }
    await docs.updateOne({ _id: 1 }, [
      { $set: { l: { $add: ["$l", 1] }, dec1: { $add: ["$dec1", "$dec2"] }, i: { $multiply: ["$i", 2] }, half: { $divide: ["$i", 2] } } },
    ]);
    const computed = (await docs.findOne({ _id: 1 }, { promoteValues: false })) as Document;
    expect([computed["l"], computed["dec1"], computed["i"], computed["half"]].map(typed)).toEqual([
      "Long(9007199254740994)",
      "Decimal128(0.30)",
      "Int32(10)",
      "Double(2.5)",
    ]);
  });

  it("$inc and $mul compute Decimal128 in decimal and widen int32 overflow to Long", async () => {
    const docs = ctx().db.collection<TestDoc>("operator_updates");
    await docs.insertOne({ _id: 1, dec: Decimal128.fromString("0.10"), m: Decimal128.fromString("0.10"), i: new Int32(2147483647) });
    await docs.updateOne({ _id: 1 }, { $inc: { dec: Decimal128.fromString("0.05"), i: 1 }, $mul: { m: 3 } });
    const doc = (await docs.findOne({ _id: 1 }, { promoteValues: false })) as Document;
    expect([doc["dec"], doc["m"], doc["i"]].map(typed)).toEqual(["Decimal128(0.15)", "Decimal128(0.30)", "Long(2147483648)"]);
  });

  it("$group, $project and $addFields pass values through untouched", async () => {
    const [doc] = await coll
      .aggregate([{ $addFields: { copy: "$l", alsoD1: "$d1" } }, { $project: { _id: 0, l: 1, copy: 1, alsoD1: 1, dec1: 1 } }], {
        promoteValues: false,
      })
      .toArray();
    expect(Object.fromEntries(Object.entries(doc ?? {}).map(([k, v]) => [k, typed(v)]))).toEqual({
      l: "Long(9007199254740993)",
      dec1: "Decimal128(0.10)",
      copy: "Long(9007199254740993)",
      alsoD1: "Double(1)",
    });
  });
});
