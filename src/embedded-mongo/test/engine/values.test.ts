import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } from "bson";
import { describe, expect, it } from "vitest";
import { EngineError } from "../../engine/index.ts";
import { compareValues, keyString, matches, toPromoted } from "../../engine/values.ts";

describe("compareValues", () => {
  it("orders values of different types the way MongoDB does", () => {
    const ascending: unknown[] = [
      new MinKey(),
      null,
      new Int32(-3),
      2.5,
      Long.fromNumber(7),
      "",
      "b",
      { a: 1 },
      [1],
      new Binary(Buffer.from([1]), 0),
      new ObjectId("000000000000000000000001"),
      false,
      true,
      new Date(0),
      new Timestamp({ t: 1, i: 1 }),
      /re/,
      new MaxKey(),
    ];
    for (let i = 0; i + 1 < ascending.length; i++) {
      expect(compareValues(ascending[i], ascending[i + 1]), `${i}`).toBe(-1);
      expect(compareValues(ascending[i + 1], ascending[i]), `${i}`).toBe(1);
    }
  });

  it("compares numbers by value whatever their BSON width", () => {
    expect(compareValues(new Int32(5), Long.fromNumber(5))).toBe(0);
    expect(compareValues(new Double(5), 5)).toBe(0);
    expect(compareValues(new Decimal128("5"), new Int32(5))).toBe(0);
    expect(compareValues(new Int32(4), new Double(4.5))).toBe(-1);
    // Beyond 2^53 a Long is compared exactly, not through a rounded double.
    expect(compareValues(Long.fromString("9007199254740993"), 9007199254740992)).toBe(1);
    expect(compareValues(Number.NaN, Number.NEGATIVE_INFINITY)).toBe(-1);
  });

  it("treats null, undefined and missing alike", () => {
    expect(compareValues(null, undefined)).toBe(0);
  });

  it("compares embedded documents field by field, respecting field order", () => {
    expect(compareValues({ a: 1, b: 2 }, { a: 1, b: 3 })).toBe(-1);
    expect(compareValues({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(-1);
    expect(compareValues({ a: 1 }, { a: 1, b: 0 })).toBe(-1);
  });

  it("compares strings by code point (UTF-8 byte order)", () => {
    // U+FF5E is one UTF-16 unit; U+1F600 is a surrogate pair that sorts after it in UTF-8.
    expect(compareValues("\uff5e", "\u{1f600}")).toBe(-1);
  });

  it("gives equal values equal key strings, across numeric widths", () => {
    expect(keyString(new Int32(5))).toBe(keyString(Long.fromNumber(5)));
    expect(keyString(new Double(5))).toBe(keyString(5));
    expect(keyString(5)).not.toBe(keyString("5"));
    expect(keyString({ a: 1, b: 2 })).not.toBe(keyString({ b: 2, a: 1 }));
    const id = new UUID();
    expect(keyString(id)).toBe(keyString(new Binary(id.buffer.subarray(0, 16), 4)));
  });
});

describe("matches", () => {
  it("compares numeric wrappers by value (pitfall 6.2)", () => {
    expect(matches({ n: new Int32(5) }, { n: 5 })).toBe(true);
    expect(matches({ n: Long.fromNumber(5) }, { n: new Int32(5) })).toBe(true);
    expect(matches({ n: new Double(1.5) }, { n: { $gt: 1, $lt: 2 } })).toBe(true);
    expect(matches({ n: new Double(1.5) }, { n: { $in: [1.5] } })).toBe(true);
    expect(matches({ n: new Int32(5) }, { n: 6 })).toBe(false);
  });

  it("tells BSON types apart with $type", () => {
    expect(matches({ n: Long.fromNumber(5) }, { n: { $type: "long" } })).toBe(true);
    expect(matches({ n: new Int32(5) }, { n: { $type: "long" } })).toBe(false);
    expect(matches({ n: new Double(5) }, { n: { $type: "double" } })).toBe(true);
    expect(matches({ n: new Double(5) }, { n: { $type: "number" } })).toBe(true);
    expect(matches({ a: [{ b: new Int32(1) }] }, { "a.b": { $type: 16 } })).toBe(true);
    expect(matches({ o: new ObjectId() }, { o: { $type: "objectId" } })).toBe(true);
    expect(matches({ u: new UUID() }, { u: { $type: "binData" } })).toBe(true);
    expect(matches({ a: null }, { a: { $type: "null" } })).toBe(true);
    expect(matches({}, { a: { $type: "null" } })).toBe(false);
  });

  it("matches null against missing fields but $exists tells them apart", () => {
    expect(matches({}, { a: null })).toBe(true);
    expect(matches({ a: null }, { a: { $exists: true } })).toBe(true);
    expect(matches({}, { a: { $exists: true } })).toBe(false);
  });

  it("compares binary data by subtype and bytes", () => {
    const id = new UUID();
    expect(matches({ u: id }, { u: new Binary(id.buffer.subarray(0, 16), 4) })).toBe(true);
    expect(matches({ u: id }, { u: new Binary(id.buffer.subarray(0, 16), 3) })).toBe(false);
    expect(matches({ u: id }, { u: { $in: [new UUID(id.toHexString())] } })).toBe(true);
  });

  it("orders timestamps correctly", () => {
    expect(matches({ ts: new Timestamp({ t: 10, i: 1 }) }, { ts: { $gt: new Timestamp({ t: 9, i: 5 }) } })).toBe(true);
    expect(matches({ ts: new Timestamp({ t: 10, i: 1 }) }, { ts: { $gt: new Timestamp({ t: 100, i: 0 }) } })).toBe(false);
  });

  it("accepts BSON regular expressions and $comment", () => {
    expect(matches({ s: "Abc" }, { s: new BSONRegExp("^a", "i") })).toBe(true);
    expect(matches({ a: 1 }, { $comment: "why", a: 1 })).toBe(true);
  });

  it("answers logical filters over dotted paths as over the whole document, and $expr and $jsonSchema see every field", () => {
    const event = {
      operationType: "insert",
      ns: { db: "roster", coll: "memberships" },
      fullDocument: { _id: "m1", tags: [{ k: new Int32(1) }, { k: Long.fromNumber(2) }] },
    };
    const graph = { $or: [{ "ns.coll": { $in: ["groups", "memberships"] } }, { operationType: { $in: ["dropDatabase", "invalidate"] } }] };
    expect(matches(event, graph)).toBe(true);
    expect(matches({ ...event, ns: { db: "roster", coll: "other" } }, graph)).toBe(false);
    expect(matches({ operationType: "dropDatabase", ns: { db: "roster" } }, graph)).toBe(true);
    expect(matches(event, { $nor: [{ "fullDocument.tags.k": 2 }] })).toBe(false);
    expect(matches(event, { $and: [{ "fullDocument.tags.k": { $type: "long" } }, { "ns.db": "roster" }] })).toBe(true);
    expect(matches(event, { $or: [{ missing: { $exists: true } }, { "fullDocument._id": "m1" }] })).toBe(true);
    expect(matches(event, { $or: [{ "ns.coll": "other" }, { $expr: { $eq: ["$fullDocument._id", "m1"] } }] })).toBe(true);
    expect(matches(event, { $jsonSchema: { required: ["fullDocument", "ns"] } })).toBe(true);
  });

  it("rejects unsupported operators with BadValue naming the operator", () => {
    const attempt = (filter: object): unknown => {
      try {
        matches({ a: 1 }, filter);
        return null;
      } catch (error) {
        return error;
      }
    };
    for (const [filter, name] of [
      [{ a: { $foo: 1 } }, "$foo"],
      [{ $foo: [{ a: 1 }] }, "$foo"],
      [{ $text: { $search: "x" } }, "$text"],
      [{ a: { $near: [0, 0] } }, "$near"],
      [{ $where: "this.a == 1" }, "$where"],
      [{ a: { $type: "nosuch" } }, "nosuch"],
    ] as const) {
      const error = attempt(filter);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe(2);
      expect((error as EngineError).codeName).toBe("BadValue");
      expect((error as EngineError).message).toContain(name);
    }
  });
});

describe("toPromoted", () => {
  it("turns numeric wrappers into numbers and keeps other values", () => {
    const id = new ObjectId();
    const date = new Date(5);
    expect(toPromoted({ a: new Int32(1), b: [Long.fromNumber(2), new Double(2.5)], id, date })).toEqual({
      a: 1,
      b: [2, 2.5],
      id,
      date,
    });
  });
});

describe("scalar comparisons (evaluated without mingo)", () => {
  const values: unknown[] = [
    undefined,
    null,
    0,
    5,
    new Int32(5),
    Long.fromNumber(5),
    new Double(5.5),
    7,
    "5",
    "x",
    true,
    new Date(5),
    new ObjectId("000000000000000000000005"),
    [1, 5],
    [],
    ["x", 9],
    { n: 5 },
  ];
  const docs = values.map((v, i) => (v === undefined ? { _id: i } : { _id: i, a: v }));
  const filters = [
    { a: 5 },
    { a: { $eq: 5.5 } },
    { a: { $ne: 5 } },
    { a: { $gt: 4 } },
    { a: { $gte: 5, $lt: 7 } },
    { a: { $lte: "5" } },
    { a: { $in: [5, "x"] } },
    { a: { $nin: [5, true] } },
    { a: { $gt: new Date(1) } },
    { a: "x", _id: { $lt: 100 } },
    { $and: [{ a: { $gt: 4 } }, { a: { $lt: 7 } }] },
    { a: { $exists: true } },
    { a: { $exists: false } },
    { a: { $not: { $gt: 4 } } },
  ];
  // The expected answers, written out per MongoDB semantics (array fields match through any element).
  const expected: Record<string, number[]> = {
    '{"a":5}': [3, 4, 5, 13],
    '{"a":{"$eq":5.5}}': [6],
    '{"a":{"$ne":5}}': [0, 1, 2, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16],
    '{"a":{"$gt":4}}': [3, 4, 5, 6, 7, 13, 15],
    '{"a":{"$gte":5,"$lt":7}}': [3, 4, 5, 6, 13],
    '{"a":{"$lte":"5"}}': [8],
    '{"a":{"$in":[5,"x"]}}': [3, 4, 5, 9, 13, 15],
    '{"a":{"$nin":[5,true]}}': [0, 1, 2, 6, 7, 8, 9, 11, 12, 14, 15, 16],
    '{"a":{"$gt":"1970-01-01T00:00:00.001Z"}}': [11],
    '{"a":"x","_id":{"$lt":100}}': [9, 15],
    '{"$and":[{"a":{"$gt":4}},{"a":{"$lt":7}}]}': [3, 4, 5, 6, 13],
    '{"a":{"$exists":true}}': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    '{"a":{"$exists":false}}': [0],
    '{"a":{"$not":{"$gt":4}}}': [0, 1, 2, 8, 9, 10, 11, 12, 14, 16],
  };

  it.each(filters)("%j", (filter) => {
    const got = docs.filter((d) => matches(d, filter)).map((d) => d._id);
    expect(got).toEqual(expected[JSON.stringify(filter)]);
  });

  it("$exists and $not keep a filter on the exact path: strings compare by code point beside them", () => {
    // U+1F600 sorts after U+FF5E by code point (MongoDB's UTF-8 byte order), before it by UTF-16 unit.
    const doc = { m: "user:a\u{1F600}", at: new Date(10) };
    expect(matches(doc, { m: { $gt: "user:a\uFF5E" }, status: { $exists: false }, at: { $not: { $lte: new Date(5) } } })).toBe(true);
    expect(matches(doc, { m: { $gt: "user:a\uFF5E" }, at: { $not: { $lte: new Date(10) } } })).toBe(false);
  });

  it("long $in and $nin lists (hashed) give the same answers as short ones", () => {
    // Padding of values that match none of the documents pushes the lists past the hashed threshold.
    const padding = Array.from({ length: 50 }, (_, i) => `pad-${i}`);
    for (const filter of filters) {
      const field = (filter as { a?: unknown }).a;
      if (typeof field !== "object" || field === null) continue;
      const op = Object.keys(field)[0];
      if (op !== "$in" && op !== "$nin") continue;
      const list = (field as Record<string, unknown[]>)[op] ?? [];
      const long = { a: { [op]: [...padding, ...list, ...padding] } };
      const got = docs.filter((d) => matches(d, long)).map((d) => d._id);
      expect(got).toEqual(expected[JSON.stringify(filter)]);
    }
  });

  it("a long $in matches numbers by value whatever their width, and nothing else", () => {
    const list = [...Array.from({ length: 100 }, (_, i) => new Int32(i * 2)), Long.fromString("9007199254740993"), new Double(0.5)];
    expect(matches({ n: 4 }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: new Double(198) }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: Long.fromNumber(10) }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: 0.5 }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: -0 }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: 3 }, { n: { $in: list } })).toBe(false);
    expect(matches({ n: "4" }, { n: { $in: list } })).toBe(false);
    expect(matches({ n: Long.fromString("9007199254740993") }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: Long.fromString("9007199254740992") }, { n: { $in: list } })).toBe(false);
    expect(matches({ n: [1, 3, 6] }, { n: { $in: list } })).toBe(true);
    expect(matches({ n: [1, 3] }, { n: { $nin: list } })).toBe(true);
    expect(matches({}, { n: { $nin: list } })).toBe(true);
    expect(matches({}, { n: { $in: list } })).toBe(false);
  });

  /** `filter` with its field `a` renamed `path` (in `$and` parts too); operands untouched. */
  const onPath = (filter: Record<string, unknown>, path: string): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(filter).map(([key, value]) =>
        key === "$and" ? [key, (value as Record<string, unknown>[]).map((part) => onPath(part, path))] : [key === "a" ? path : key, value],
      ),
    );

  it.each(filters)("%j on a dotted path through sub-documents, alone and as an $or branch", (filter) => {
    const nested = docs.map((d) => ("a" in d ? { _id: d._id, o: { p: { a: d.a } } } : { _id: d._id, o: { p: {} } }));
    const want = expected[JSON.stringify(filter)] ?? [];
    const dotted = onPath(filter, "o.p.a");
    expect(nested.filter((d) => matches(d, dotted)).map((d) => d._id)).toEqual(want);
    expect(nested.filter((d) => matches(d, { $or: [dotted, { _id: -1 }] })).map((d) => d._id)).toEqual(want);
    expect(nested.filter((d) => matches(d, { $or: [{ _id: 0 }, dotted] })).map((d) => d._id)).toEqual(
      [...new Set([0, ...want])].sort((x, y) => x - y),
    );
  });

  it("dotted paths through arrays, BSON values, scalars and null, and $or over them, answer as the full matcher does", () => {
    const ways: unknown[] = [
      undefined,
      null,
      5,
      "x",
      new Date(5),
      new ObjectId("000000000000000000000005"),
      [],
      [{ a: 5 }],
      [{ a: 6 }, { a: 5 }],
      { a: [5, 7] },
      { a: 5 },
      { 0: { a: 5 } },
    ];
    const shaped = ways.map((o, i) => (o === undefined ? { _id: i } : { _id: i, o }));
    const dottedFilters = [
      { "o.a": 5 },
      { "o.a": { $ne: 5 } },
      { "o.a": { $gt: 4 } },
      { "o.a": { $exists: true } },
      { "o.a": { $exists: false } },
      { "o.a": { $in: [5, 7] } },
      { "o.a": { $nin: [5] } },
      { "o.0.a": 5 },
      { $or: [{ "o.a": 5 }, { _id: 1 }] },
      { $or: [{ "o.a": 6 }, { "o.a": { $exists: false } }] },
      { $and: [{ "o.a": { $gt: 4 } }, { $or: [{ _id: { $lt: 9 } }, { "o.a": 7 }] }] },
    ];
    // With an `$expr` beside it the filter is not simple: mingo alone answers it.
    const full = (filter: Record<string, unknown>) => ({ ...filter, $expr: true });
    for (const filter of dottedFilters) {
      const got = shaped.filter((d) => matches(d, filter)).map((d) => d._id);
      expect(got, JSON.stringify(filter)).toEqual(shaped.filter((d) => matches(d, full(filter))).map((d) => d._id));
    }
    // A few answers written out: arrays on the way are traversed, a scalar, null or a date on the way is a missing path.
    const ids = (filter: Record<string, unknown>): unknown[] => shaped.filter((d) => matches(d, filter)).map((d) => d._id);
    expect(ids({ "o.a": 5 })).toEqual([7, 8, 9, 10]);
    expect(ids({ "o.a": { $exists: false } })).toEqual([0, 1, 2, 3, 4, 5, 6, 11]);
    expect(ids({ "o.0.a": 5 })).toEqual([7, 11]);
    expect(ids({ $or: [{ "o.a": 6 }, { _id: 11 }] })).toEqual([8, 11]);
  });

  it("compares Longs beyond 2^53 exactly", () => {
    const doc = { n: Long.fromString("9007199254740993") };
    expect(matches(doc, { n: { $gt: Long.fromString("9007199254740992") } })).toBe(true);
    expect(matches(doc, { n: Long.fromString("9007199254740992") })).toBe(false);
    expect(matches(doc, { n: { $in: [Long.fromString("9007199254740993")] } })).toBe(true);
    expect(
      matches(doc, { $and: [{ n: { $lt: Long.fromString("9007199254740994") } }, { n: { $gt: Long.fromString("9007199254740992") } }] }),
    ).toBe(true);
  });
});
