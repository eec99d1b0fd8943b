import { Double, Int32, Long, ObjectId, Timestamp, type Document } from "bson";
import { describe, expect, it } from "vitest";
import { CommandError } from "../../errors.ts";
import { applyOperatorUpdate, applyReplacement, buildUpsertDocument } from "../../update/apply-update.ts";

function update(doc: Document, spec: Document, options: { query?: Document; arrayFilters?: Document[] } = {}): Document {
  return applyOperatorUpdate(doc, spec, {
    query: options.query ?? {},
    arrayFilters: options.arrayFilters,
    isInsert: false,
    now: new Date("2026-01-02T03:04:05Z"),
  });
}

function failure(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof CommandError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a CommandError");
}

describe("update operators", () => {
  it("never modifies the stored document", () => {
    const stored = Object.freeze({ _id: 1, a: Object.freeze({ b: 1 }), list: Object.freeze([1, 2]) });
    const out = update(stored, { $set: { "a.b": 2 }, $push: { list: 3 } });
    expect(out).toEqual({ _id: 1, a: { b: 2 }, list: [1, 2, 3] });
    expect(stored).toEqual({ _id: 1, a: { b: 1 }, list: [1, 2] });
  });

  it.each<[string, Document, Document, Document]>([
    [
      "$set creates nested paths, appending new fields",
      { _id: 1, z: 1 },
      { $set: { "a.b.c": 1, y: 2 } },
      { _id: 1, z: 1, a: { b: { c: 1 } }, y: 2 },
    ],
    ["$set indexes into arrays and pads with null", { _id: 1, a: [1] }, { $set: { "a.3": 9 } }, { _id: 1, a: [1, null, null, 9] }],
    [
      "$set reaches into array elements by index",
      { _id: 1, a: [{ b: 1 }, { b: 2 }] },
      { $set: { "a.1.b": 5 } },
      { _id: 1, a: [{ b: 1 }, { b: 5 }] },
    ],
    [
      "$unset removes fields and nulls array elements",
      { _id: 1, a: 1, b: [1, 2], c: 3 },
      { $unset: { a: "", "b.0": 1, missing: 1 } },
      { _id: 1, b: [null, 2], c: 3 },
    ],
    [
      "$rename moves values, nested too",
      { _id: 1, a: { b: 1 }, c: 2 },
      { $rename: { "a.b": "x.y", c: "d" } },
      { _id: 1, a: {}, x: { y: 1 }, d: 2 },
    ],
    [
      "$min and $max compare across numeric types",
      { _id: 1, lo: new Int32(5), hi: new Double(5) },
      { $min: { lo: Long.fromNumber(3) }, $max: { hi: new Int32(4), fresh: 7 } },
      { _id: 1, lo: Long.fromNumber(3), hi: new Double(5), fresh: 7 },
    ],
    [
      "$push with $each, $position, $sort and $slice",
      { _id: 1, a: [5, 1] },
      { $push: { a: { $each: [3, 9], $position: 0, $sort: 1, $slice: 3 } } },
      { _id: 1, a: [1, 3, 5] },
    ],
    ["$push creates a missing array and pushes documents as values", { _id: 1 }, { $push: { a: { k: 1 } } }, { _id: 1, a: [{ k: 1 }] }],
    [
      "$push $sort by embedded field and negative $slice",
      { _id: 1, a: [{ s: 2 }, { s: 1 }] },
      { $push: { a: { $each: [{ s: 3 }], $sort: { s: -1 }, $slice: -2 } } },
      { _id: 1, a: [{ s: 2 }, { s: 1 }] },
    ],
    [
      "$addToSet treats 1, 1.0 and Long(1) as the same value",
      { _id: 1, a: [new Int32(1)] },
      { $addToSet: { a: { $each: [new Double(1), Long.fromNumber(1), 2] } } },
      { _id: 1, a: [new Int32(1), 2] },
    ],
    ["$pull with a condition on scalars", { _id: 1, a: [1, 5, 2, 7] }, { $pull: { a: { $gte: 5 } } }, { _id: 1, a: [1, 2] }],
    [
      "$pull with a query on sub-documents",
      { _id: 1, a: [{ k: 1, v: 1 }, { k: 2 }, { k: 1 }] },
      { $pull: { a: { k: 1 } } },
      { _id: 1, a: [{ k: 2 }] },
    ],
    ["$pull by plain equality", { _id: 1, a: ["x", "y", "x"] }, { $pull: { a: "x" } }, { _id: 1, a: ["y"] }],
    ["$pullAll removes every listed value", { _id: 1, a: [1, 2, 3, 2] }, { $pullAll: { a: [2, 3] } }, { _id: 1, a: [1] }],
    [
      "$pop removes the last or first element",
      { _id: 1, a: [1, 2, 3], b: [1, 2, 3] },
      { $pop: { a: 1, b: -1 } },
      { _id: 1, a: [1, 2], b: [2, 3] },
    ],
    [
      "$currentDate sets dates",
      { _id: 1 },
      { $currentDate: { d: true, e: { $type: "date" } } },
      { _id: 1, d: new Date("2026-01-02T03:04:05Z"), e: new Date("2026-01-02T03:04:05Z") },
    ],
    [
      "$mul on a missing field stores zero of the multiplier's type",
      { _id: 1 },
      { $mul: { a: new Double(2.5), b: Long.fromNumber(3) } },
      { _id: 1, a: new Double(0), b: Long.fromNumber(0) },
    ],
    [
      "$[] updates every element",
      { _id: 1, a: [{ b: 1 }, { b: 2 }] },
      { $inc: { "a.$[].b": new Int32(10) } },
      { _id: 1, a: [{ b: new Int32(11) }, { b: new Int32(12) }] },
    ],
    ["$setOnInsert is ignored when not inserting", { _id: 1 }, { $setOnInsert: { a: 1 }, $set: { b: 1 } }, { _id: 1, b: 1 }],
  ])("%s", (_label, doc, spec, expected) => {
    expect(update(doc, spec)).toEqual(expected);
  });

  it("types $inc results as MongoDB does", () => {
    const out = update(
      { _id: 1, i: new Int32(2147483647), l: Long.fromNumber(1), d: new Double(1), n: new Int32(1) },
      { $inc: { i: new Int32(1), l: new Int32(1), d: new Int32(1), n: new Double(0.5), fresh: Long.fromNumber(4) } },
    );
    expect(out).toEqual({
      _id: 1,
      i: Long.fromNumber(2147483648),
      l: Long.fromNumber(2),
      d: new Double(2),
      n: new Double(1.5),
      fresh: Long.fromNumber(4),
    });
    expect(out["i"]).toBeInstanceOf(Long);
    expect(out["d"]).toBeInstanceOf(Double);
  });

  it("$currentDate with $type timestamp stores a Timestamp", () => {
    const out = update({ _id: 1 }, { $currentDate: { t: { $type: "timestamp" } } });
    expect(out["t"]).toBeInstanceOf(Timestamp);
    expect((out["t"] as Timestamp).t).toBe(Math.floor(Date.parse("2026-01-02T03:04:05Z") / 1000));
  });

  it("resolves the positional $ against the query", () => {
    const doc = {
      _id: 1,
      items: [
        { k: 1, q: 1 },
        { k: 2, q: 1 },
        { k: 2, q: 1 },
      ],
    };
    expect(update(doc, { $set: { "items.$.q": 9 } }, { query: { "items.k": 2 } })).toEqual({
      _id: 1,
      items: [
        { k: 1, q: 1 },
        { k: 2, q: 9 },
        { k: 2, q: 1 },
      ],
    });
    expect(update({ _id: 1, tags: ["a", "b"] }, { $set: { "tags.$": "B" } }, { query: { tags: "b" } })).toEqual({
      _id: 1,
      tags: ["a", "B"],
    });
    expect(failure(() => update(doc, { $set: { "items.$.q": 9 } }, { query: { _id: 1 } }))).toEqual({
      code: 2,
      message: "The positional operator did not find the match needed from the query.",
    });
  });

  it("applies $[<id>] with arrayFilters, nested too", () => {
    const doc = {
      _id: 1,
      grades: [
        { g: 80, tries: [1, 5] },
        { g: 95, tries: [7] },
      ],
    };
    const out = update(
      doc,
      { $set: { "grades.$[hi].top": true }, $inc: { "grades.$[].tries.$[t]": new Int32(100) } },
      { arrayFilters: [{ "hi.g": { $gte: 90 } }, { t: { $gt: 4 } }] },
    );
    expect(out).toEqual({
      _id: 1,
      grades: [
        { g: 80, tries: [1, new Int32(105)] },
        { g: 95, tries: [new Int32(107)], top: true },
      ],
    });
  });

  it.each<[string, Document, Document, number, string, Document[]?]>([
    [
      "unknown modifier",
      { _id: 1 },
      { $frob: { a: 1 } },
      9,
      "Unknown modifier: $frob. Expected a valid update modifier or pipeline-style update specified as an array",
    ],
    ["non-object operator argument", { _id: 1 }, { $set: 1 }, 9, "Modifiers operate on fields but we found type int instead"],
    ["conflicting paths", { _id: 1 }, { $set: { "a.b": 1 }, $inc: { a: 1 } }, 40, "Updating the path 'a.b' would create a conflict at 'a'"],
    [
      "$inc on a string",
      { _id: 1, a: "x" },
      { $inc: { a: 1 } },
      14,
      "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 'a' of non-numeric type string",
    ],
    ["$inc by a string", { _id: 1, a: 1 }, { $inc: { a: "1" } }, 14, 'Cannot increment with non-numeric argument: {a: "1"}'],
    ["$push onto a non-array", { _id: 1, a: 1 }, { $push: { a: 2 } }, 2, "The field 'a' must be an array but is of type int"],
    ["creating a field inside a scalar", { _id: 1, a: 1 }, { $set: { "a.b": 1 } }, 28, "Cannot create field 'b' in element {a: 1}"],
    ["changing _id", { _id: 1 }, { $set: { _id: 2 } }, 66, "Performing an update on the path '_id' would modify the immutable field '_id'"],
    [
      "an unused array filter",
      { _id: 1, a: [1] },
      { $set: { "a.$[x]": 1 } },
      9,
      "The array filter for identifier 'y' was not used in the update",
      [{ x: 1 }, { y: 1 }],
    ],
    [
      "a missing array filter",
      { _id: 1, a: [1] },
      { $set: { "a.$[x]": 1 } },
      2,
      "No array filter found for identifier 'x' in path 'a.$[x]'",
    ],
    ["array updates on a non-array", { _id: 1, a: 1 }, { $set: { "a.$[]": 1 } }, 2, "Cannot apply array updates to non-array element a: 1"],
    [
      "an Int32 overflowing int64 via $mul on Long",
      { _id: 1, a: Long.MAX_VALUE },
      { $mul: { a: new Int32(2) } },
      2,
      "would overflow a 64-bit integer",
    ],
  ])("rejects %s", (_label, doc, spec, code, message, arrayFilters) => {
    const err = failure(() => update(doc, spec, arrayFilters === undefined ? {} : { arrayFilters }));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });
});

describe("replacements and upserts", () => {
  it("keeps _id first and unchanged in replacements", () => {
    expect(applyReplacement({ _id: 7, a: 1 }, { b: 2 })).toEqual({ _id: 7, b: 2 });
    expect(Object.keys(applyReplacement({ _id: 7 }, { b: 2, _id: 7 }))).toEqual(["_id", "b"]);
    expect(() => applyReplacement({ _id: 7 }, { _id: 8 })).toThrow(/immutable/);
    expect(() => applyReplacement({ _id: 7 }, { $set: { a: 1 }, b: 1 })).toThrow(/dollar \(\$\) prefixed field '\$set'/);
  });

  it("builds upserted documents from query equalities and the update", () => {
    const doc = buildUpsertDocument(
      { _id: 5, "a.b": 1, c: { $eq: 2 }, $and: [{ d: 3 }], e: { $gt: 1 }, f: /x/ },
      { $set: { g: 4 }, $setOnInsert: { h: 5 } },
      undefined,
    );
    expect(doc).toEqual({ _id: 5, a: { b: 1 }, c: 2, d: 3, g: 4, h: 5 });
  });

  it("gives upserts without an _id a new ObjectId, first", () => {
    const doc = buildUpsertDocument({ name: "x" }, { $inc: { n: new Int32(1) } }, undefined);
    expect(Object.keys(doc)).toEqual(["_id", "name", "n"]);
    expect(doc["_id"]).toBeInstanceOf(ObjectId);
    const replaced = buildUpsertDocument({ _id: "k", other: 1 }, { v: 1 }, undefined);
    expect(replaced).toEqual({ _id: "k", v: 1 });
  });
});
