/**
 * The "promoted" view of a typed document: what mingo can compare. mingo 7.2.7
 * does not compare Int32/Double/Long wrappers by value (reference §6.2), so
 * numeric wrappers become JS numbers; Binary and Timestamp become small value
 * objects whose string form orders and compares correctly (mingo compares
 * unknown classes through `toString`); BSONRegExp becomes a RegExp.
 *
 * Every promoted object or array remembers the typed original it came from, so
 * `$type` can still tell an int from a long or a double.
 */
import type { Binary, BSONRegExp, Timestamp } from "bson";
import { bsonTag, numericValue } from "./compare.ts";

const originals = new WeakMap<object, unknown>();

/** The typed value a promoted object or array was made from, if any. */
export function originalOf(promoted: object): unknown {
  return originals.get(promoted);
}

/** Binary data in the promoted view: equal when subtype and bytes are equal. */
export class PromotedBinary {
  readonly #text: string;
  constructor(readonly binary: Binary) {
    const bytes = binary.buffer.subarray(0, binary.position);
    this.#text = `${binary.sub_type.toString(16).padStart(2, "0")}:${Buffer.from(bytes).toString("hex")}`;
  }
  toString(): string {
    return this.#text;
  }
}

/** A Timestamp in the promoted view: its string form sorts like the timestamp. */
export class PromotedTimestamp {
  readonly #text: string;
  constructor(readonly timestamp: Timestamp) {
    this.#text = `${timestamp.t.toString().padStart(10, "0")}:${timestamp.i.toString().padStart(10, "0")}`;
  }
  toString(): string {
    return this.#text;
  }
}

/** Turns BSON regex options into JS RegExp flags (JS has no `x` or `l`). */
function regexFromBson(re: BSONRegExp): RegExp {
  const flags = re.options.replace(/[^imsu]/g, "");
  return new RegExp(re.pattern, flags);
}

/**
 * The promoted view of a value or document. Long values beyond 2^53 become the
 * nearest double and Decimal128 goes through a double (documented limits).
 */
export function toPromoted(value: unknown): unknown {
  if (typeof value !== "object" || value === null) {
    return typeof value === "bigint" ? Number(value) : value;
  }
  if (Array.isArray(value)) {
    const out = value.map(toPromoted);
    originals.set(out, value);
    return out;
  }
  if (value instanceof Date || value instanceof RegExp) return value;
  switch (bsonTag(value)) {
    case undefined: {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toPromoted(v);
      originals.set(out, value);
      return out;
    }
    case "Int32":
    case "Double":
    case "Long":
    case "Decimal128":
      return Number(numericValue(value));
    case "BSONSymbol":
      return String((value as { value: unknown }).value);
    default:
      return standInOf(value);
  }
}

/**
 * The promoted view of only `fields` of a document (the top-level fields a
 * filter reads): promoting the rest would be work nothing looks at. Its
 * original is the whole document.
 */
export function toPromotedFields(doc: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) if (Object.hasOwn(doc, field)) out[field] = toPromoted(doc[field]);
  originals.set(out, doc);
  return out;
}

/**
 * What both the query view and the expression view hold for a bson wrapper
 * mingo cannot compare: comparable stand-ins for Binary and Timestamp, a
 * RegExp for a BSONRegExp; any other wrapper itself.
 */
export function standInOf(value: object): unknown {
  switch (bsonTag(value)) {
    case "Binary":
      return new PromotedBinary(value as Binary);
    case "Timestamp":
      return new PromotedTimestamp(value as Timestamp);
    case "BSONRegExp":
      return regexFromBson(value as BSONRegExp);
    default:
      return value;
  }
}
