import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  calculateObjectSize,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
} from "bson";
import { describe, expect, it } from "vitest";
import { documentSize } from "../../engine/bson-size.ts";

describe("documentSize", () => {
  it.each([
    ["empty", {}],
    [
      "scalars",
      { _id: new ObjectId(), s: "text", b: true, n: null, i: new Int32(7), d: new Double(1.5), l: Long.fromNumber(3), at: new Date(0) },
    ],
    ["non-ASCII keys and strings", { ké: "日本語テキスト", emoji: "🙂🙂", [""]: "" }],
    ["nested documents and arrays", { a: { b: { c: [1, 2, [3, { d: "x" }]] } }, list: Array.from({ length: 12 }, (_, i) => new Int32(i)) }],
    [
      "the other types",
      {
        dec: Decimal128.fromString("1.5"),
        ts: new Timestamp({ t: 1, i: 2 }),
        bin: new Binary(Buffer.from([1, 2, 3]), 0),
        uuid: new UUID(),
        re: /a.b/i,
        bre: new BSONRegExp("x", "m"),
        code: new Code("return 1"),
        scoped: new Code("f", { a: 1 }),
        sym: new BSONSymbol("s"),
        ref: new DBRef("c", new ObjectId()),
        min: new MinKey(),
        max: new MaxKey(),
      },
    ],
    ["plain numbers", { small: 5, big: 2 ** 40, frac: 0.5, neg: -0 }],
    ["undefined fields are left out", { a: undefined, b: 1 }],
  ])("equals calculateObjectSize for %s", (_label, doc) => {
    expect(documentSize(doc)).toBe(calculateObjectSize(doc));
  });
});
