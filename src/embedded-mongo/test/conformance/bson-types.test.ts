/**
 * BSON type fidelity: every type survives a round trip with its exact BSON
 * type, numbers of different types compare by value, null and missing follow
 * MongoDB's rules, and sorting follows MongoDB's cross-type comparison order.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Binary, Decimal128, Double, Int32, Long, ObjectId, UUID, type Collection, type Document } from "mongodb";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("bson");

function bsonType(value: unknown): string {
  if (value !== null && typeof value === "object" && "_bsontype" in value) return String(value._bsontype);
  return typeof value;
}

describe("round trip", () => {
  const oid = new ObjectId();
  const uuid = new UUID();
  const date = new Date("2024-02-29T12:34:56.789Z");
  const bytes = Buffer.from([0, 1, 2, 254, 255]);
  let coll: Collection<TestDoc>;

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("roundtrip");
    await coll.insertOne({
      _id: 1,
      i32: new Int32(42),
      negI32: new Int32(-7),
      long: Long.fromString("9007199254740993"),
      smallLong: Long.fromNumber(5),
      dbl: new Double(1),
      frac: new Double(2.5),
      date,
      oid,
      bin: new Binary(bytes, Binary.SUBTYPE_DEFAULT),
      uuid,
      str: "héllo ✓",
      bool: true,
      nul: null,
      nested: { a: [1, { b: [2, 3] }, []], empty: {} },
      mixed: [new Int32(1), new Double(1), Long.fromNumber(1), "one", null, { one: 1 }],
    });
  });

  it("keeps Int32, Long and Double apart (promoteValues: false)", async () => {
    const doc = await coll.findOne({ _id: 1 }, { promoteValues: false });
    expect(doc).not.toBeNull();
    const d = doc as Document;
    expect(bsonType(d["i32"])).toBe("Int32");
    expect((d["i32"] as Int32).value).toBe(42);
    expect((d["negI32"] as Int32).value).toBe(-7);
    expect(bsonType(d["long"])).toBe("Long");
    expect((d["long"] as Long).toString()).toBe("9007199254740993");
    expect(bsonType(d["smallLong"])).toBe("Long");
    expect((d["smallLong"] as Long).toNumber()).toBe(5);
    expect(bsonType(d["dbl"])).toBe("Double");
    expect((d["dbl"] as Double).value).toBe(1);
    expect(bsonType(d["frac"])).toBe("Double");
    expect((d["frac"] as Double).value).toBe(2.5);
    expect((d["mixed"] as unknown[]).map(bsonType)).toEqual(["Int32", "Double", "Long", "string", "object", "object"]);
  });

  it("returns a Long above 2^53 exactly (useBigInt64)", async () => {
    const doc = await coll.findOne({ _id: 1 }, { useBigInt64: true, projection: { long: 1, smallLong: 1 } });
    expect(doc).toEqual({ _id: 1, long: 9007199254740993n, smallLong: 5n });
  });

  it("keeps dates, ObjectIds, binaries, UUIDs, strings, booleans, null and nesting", async () => {
    const doc = (await coll.findOne({ _id: 1 })) as Document;
    expect(doc["date"]).toBeInstanceOf(Date);
    expect((doc["date"] as Date).getTime()).toBe(date.getTime());
    expect(doc["oid"]).toBeInstanceOf(ObjectId);
    expect((doc["oid"] as ObjectId).equals(oid)).toBe(true);
    const bin = doc["bin"] as Binary;
    expect(bin).toBeInstanceOf(Binary);
    expect(bin.sub_type).toBe(Binary.SUBTYPE_DEFAULT);
    expect(Buffer.from(bin.buffer).equals(bytes)).toBe(true);
    const storedUuid = doc["uuid"] as Binary;
    expect(storedUuid.sub_type).toBe(Binary.SUBTYPE_UUID);
    expect(storedUuid.toUUID().equals(uuid)).toBe(true);
    expect(doc["str"]).toBe("héllo ✓");
    expect(doc["bool"]).toBe(true);
    expect(doc).toHaveProperty("nul", null);
    expect(doc["nested"]).toEqual({ a: [1, { b: [2, 3] }, []], empty: {} });
    expect(Object.keys(doc)).toEqual([
      "_id",
      "i32",
      "negI32",
      "long",
      "smallLong",
      "dbl",
      "frac",
      "date",
      "oid",
      "bin",
      "uuid",
      "str",
      "bool",
      "nul",
      "nested",
      "mixed",
    ]);
  });

  it("matches ObjectId, Date, UUID and Binary values in queries", async () => {
    expect(await coll.countDocuments({ oid })).toBe(1);
    expect(await coll.countDocuments({ oid: new ObjectId() })).toBe(0);
    expect(await coll.countDocuments({ date: new Date(date.getTime()) })).toBe(1);
    expect(await coll.countDocuments({ date: { $gt: new Date(date.getTime() - 1) } })).toBe(1);
    expect(await coll.countDocuments({ uuid })).toBe(1);
    expect(await coll.countDocuments({ bin: new Binary(bytes) })).toBe(1);
  });

  it("keeps Decimal128 exactly, including trailing zeros", async () => {
    const decimals = ctx().db.collection<TestDoc>("decimals");
    await decimals.insertOne({ _id: 1, d: Decimal128.fromString("1.10") });
    const doc = (await decimals.findOne({ _id: 1 })) as Document;
    expect(doc["d"]).toBeInstanceOf(Decimal128);
    expect((doc["d"] as Decimal128).toString()).toBe("1.10");
    expect(await decimals.countDocuments({ d: Decimal128.fromString("1.1") })).toBe(1);
    expect(await decimals.countDocuments({ d: { $gt: 1 } })).toBe(1);
  });
});

describe("numeric types in queries and updates", () => {
  let coll: Collection<TestDoc>;

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("numbers");
    await coll.insertMany([
      { _id: "int", n: new Int32(5) },
      { _id: "long", n: Long.fromNumber(5) },
      { _id: "double", n: new Double(5) },
      { _id: "frac", n: new Double(5.5) },
      { _id: "string", n: "5" },
      { _id: "big1", n: Long.fromString("9007199254740992") },
      { _id: "big2", n: Long.fromString("9007199254740993") },
    ]);
  });

  async function ids(filter: Document): Promise<string[]> {
    return (await coll.find(filter).toArray()).map((d) => d._id as string).sort();
  }

  it("{n: 5} matches Int32, Long and Double 5, whatever the type of the query value", async () => {
    const fives = ["double", "int", "long"];
    expect(await ids({ n: 5 })).toEqual(fives);
    expect(await ids({ n: Long.fromNumber(5) })).toEqual(fives);
    expect(await ids({ n: new Double(5) })).toEqual(fives);
    expect(await ids({ n: { $in: [5] } })).toEqual(fives);
    expect(await ids({ n: { $gt: 4, $lt: 6 } })).toEqual(["double", "frac", "int", "long"]);
    expect(await ids({ n: "5" })).toEqual(["string"]);
  });

  it("compares Longs above 2^53 exactly", async () => {
    expect(await ids({ n: Long.fromString("9007199254740993") })).toEqual(["big2"]);
    expect(await ids({ n: { $gt: Long.fromString("9007199254740992") } })).toEqual(["big2"]);
    const sorted = await coll
      .find({ _id: { $in: ["big1", "big2"] } })
      .sort({ n: -1 })
      .toArray();
    expect(sorted.map((d) => d._id)).toEqual(["big2", "big1"]);
  });

  it("$type tells the numeric types apart", async () => {
    expect(await ids({ n: { $type: "int" } })).toEqual(["int"]);
    expect(await ids({ n: { $type: "long" } })).toEqual(["big1", "big2", "long"]);
    expect(await ids({ n: { $type: "double" } })).toEqual(["double", "frac"]);
    expect(await ids({ n: { $type: "number" } })).toEqual(["big1", "big2", "double", "frac", "int", "long"]);
    expect(await ids({ n: { $type: "string" } })).toEqual(["string"]);
  });

  it("updates keep or promote numeric types as MongoDB does", async () => {
    const upd = ctx().db.collection<TestDoc>("numeric_updates");
    await upd.insertOne({ _id: 1, i: new Int32(1), l: Long.fromNumber(1), d: new Double(1), max: new Int32(2147483647) });
    await upd.updateOne({ _id: 1 }, { $inc: { i: 1, l: 1, d: 1, max: 1 }, $set: { setDouble: new Double(3) } });
    const doc = (await upd.findOne({ _id: 1 }, { promoteValues: false })) as Document;
    expect(bsonType(doc["i"])).toBe("Int32");
    expect(bsonType(doc["l"])).toBe("Long");
    expect(bsonType(doc["d"])).toBe("Double");
    expect(bsonType(doc["setDouble"])).toBe("Double");
    // Int32 overflow under $inc is promoted to a Long, not wrapped.
    expect(bsonType(doc["max"])).toBe("Long");
    expect((doc["max"] as Long).toString()).toBe("2147483648");
    expect(await upd.countDocuments({ setDouble: { $type: "double" } })).toBe(1);
  });
});

describe("null and missing", () => {
  let coll: Collection<TestDoc>;

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("nulls");
    await coll.insertMany([{ _id: 1, a: null }, { _id: 2 }, { _id: 3, a: 1 }, { _id: 4, a: [1, null] }, { _id: 5, a: { b: null } }]);
  });

  async function ids(filter: Document): Promise<unknown[]> {
    return (await coll.find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);
  }

  it("{a: null} matches null, missing and arrays holding null", async () => {
    expect(await ids({ a: null })).toEqual([1, 2, 4]);
    expect(await ids({ a: { $ne: null } })).toEqual([3, 5]);
  });

  it("$exists tells missing from null", async () => {
    expect(await ids({ a: { $exists: false } })).toEqual([2]);
    expect(await ids({ a: { $exists: true } })).toEqual([1, 3, 4, 5]);
    expect(await ids({ a: { $type: "null" } })).toEqual([1, 4]);
    expect(await ids({ "a.b": null, _id: { $ne: 4 } })).toEqual([1, 2, 3, 5]);
    expect(await ids({ "a.b": { $exists: true } })).toEqual([5]);
  });
});

describe("sort order across types", () => {
  let coll: Collection<TestDoc>;
  const oid = new ObjectId();

  beforeAll(async () => {
    coll = ctx().db.collection<TestDoc>("mixed_sort");
    await coll.insertMany([
      { _id: 13, v: new Date("2020-01-01T00:00:00Z") },
      { _id: 12, v: true },
      { _id: 11, v: false },
      { _id: 10, v: oid },
      { _id: 9, v: new Binary(Buffer.from([1])) },
      { _id: 8, v: { x: 1 } },
      { _id: 7, v: "b" },
      { _id: 6, v: "abc" },
      { _id: 5, v: Long.fromNumber(10) },
      { _id: 4, v: new Double(2.5) },
      { _id: 3, v: new Int32(3) },
      { _id: 2 },
      { _id: 1, v: null },
    ]);
  });

  it("null/missing < numbers < strings < objects < binary < ObjectId < booleans < dates", async () => {
    const ascending = await coll.find().sort({ v: 1, _id: 1 }).toArray();
    expect(ascending.map((d) => d._id)).toEqual([1, 2, 4, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const descending = await coll.find().sort({ v: -1, _id: 1 }).toArray();
    expect(descending.map((d) => d._id)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 3, 4, 1, 2]);
  });

  it("expressions compare whole arrays as their own type: objects < arrays < binary", async () => {
    const compared = await coll.aggregate([{ $sort: { _id: 1 } }, { $project: { cmp: { $cmp: ["$v", { $literal: [0] }] } } }]).toArray();
    expect(compared.map((d): unknown[] => [d._id, d["cmp"]])).toEqual([
      [1, -1],
      [2, -1],
      [3, -1],
      [4, -1],
      [5, -1],
      [6, -1],
      [7, -1],
      [8, -1],
      [9, 1],
      [10, 1],
      [11, 1],
      [12, 1],
      [13, 1],
    ]);
  });

  it("range operators only compare within a type bracket", async () => {
    const gt = await coll
      .find({ v: { $gt: 1 } })
      .sort({ _id: 1 })
      .toArray();
    expect(gt.map((d) => d._id)).toEqual([3, 4, 5]);
    const lt = await coll
      .find({ v: { $lt: "zzz" } })
      .sort({ _id: 1 })
      .toArray();
    expect(lt.map((d) => d._id)).toEqual([6, 7]);
  });

  it("arrays sort by their smallest element ascending and largest descending", async () => {
    // Arrays never sort as a type of their own in find: MongoDB sorts on their elements.
    const arrays = ctx().db.collection<TestDoc>("array_sort");
    await arrays.insertMany([
      { _id: "a", v: [5, 1] },
      { _id: "b", v: 3 },
      { _id: "c", v: [2, 9] },
    ]);
    expect((await arrays.find().sort({ v: 1 }).toArray()).map((d) => d._id)).toEqual(["a", "c", "b"]);
    expect((await arrays.find().sort({ v: -1 }).toArray()).map((d) => d._id)).toEqual(["c", "a", "b"]);
  });
});
