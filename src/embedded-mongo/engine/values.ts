/**
 * Value semantics shared by the engine and the command layer: MongoDB's
 * comparison order, query matching on typed documents, the promoted view mingo
 * understands, and the defensive copy the engine stores.
 */
import { Binary, Double, Int32, Long, UUID } from "bson";
import type { Document } from "bson";
import { bsonTag } from "./compare.ts";

export { bsonTag, compareKeys, compareValues, keyString, typeRank } from "./compare.ts";
export { bsonTypeName, compileFilter, matches, topLevelFieldsRead } from "./match.ts";
export type { DocPredicate } from "./match.ts";
export { originalOf, PromotedBinary, PromotedTimestamp, toPromoted } from "./promote.ts";
export { fromExpressionView, toExpressionView } from "./expression-view.ts";
export { collatedComparator, collationDocument, foldValue, parseCollation } from "./collation.ts";
export type { Collation } from "./collation.ts";
export { compileJsonSchema } from "./json-schema.ts";
export { compareViewValues, isTruthy, typedAccumulatorOperators, typedExpressionOperators } from "./expression-operators.ts";

/**
 * The BSON value a plain JS number or bigint becomes on the wire (what the bson
 * serializer writes): int32 when it fits, else double; bigint is int64. Storing
 * that form keeps an in-memory engine identical to one restarted from disk.
 */
function numberAsBson(value: number): Int32 | Double {
  return Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff && !Object.is(value, -0)
    ? new Int32(value)
    : new Double(value);
}

function copyValue(value: unknown): unknown {
  if (typeof value === "number") return numberAsBson(value);
  if (typeof value === "bigint") return Long.fromBigInt(value);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return Object.freeze(value.map(copyValue));
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  switch (bsonTag(value)) {
    case undefined: {
      const out: Document = {};
      for (const [k, v] of Object.entries(value)) out[k] = copyValue(v);
      return Object.freeze(out);
    }
    case "Binary": {
      // Binary owns a mutable buffer; UUID is a Binary subclass worth keeping.
      const bin = value as Binary;
      const bytes = Uint8Array.from(bin.buffer.subarray(0, bin.position));
      return bin instanceof UUID ? new UUID(bytes) : new Binary(bytes, bin.sub_type);
    }
    default:
      // The other bson wrappers (ObjectId, Long, Int32, Double, Timestamp, …) are immutable values.
      return value;
  }
}

/**
 * A deep copy of `doc` whose objects and arrays are frozen, so neither the
 * caller's later mutations nor a reader's can reach stored state. Plain JS
 * numbers become the BSON numbers the wire would carry (see `numberAsBson`).
 */
export function freezeCopy(doc: Document): Document {
  return copyValue(doc) as Document;
}
