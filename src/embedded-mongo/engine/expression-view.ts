/**
 * The expression view of a document: what mingo evaluates aggregation
 * expressions, pipeline updates and `$expr` on, with every BSON type kept.
 *
 * A number stays a JS number exactly when the serializer would write that
 * number back as the same BSON value (an Int32, or a Double that is not an
 * integral int32-range value), so mingo's own operators keep working on the
 * common cases; Long, Decimal128 and integral Doubles stay bson wrappers, so
 * a value passed through untouched comes out byte-identical and the typed
 * operators (expression-operators.ts) can compute in its type. Binary and
 * Timestamp become the comparable stand-ins of the query view (promote.ts).
 */
import type { Double } from "bson";
import { bsonTag } from "./compare.ts";
import { PromotedBinary, PromotedTimestamp, standInOf } from "./promote.ts";
import { isInt32Number } from "./typed-numbers.ts";

/** The expression view of a stored value (or of a command's expression, literal values included). */
export function toExpressionView(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(toExpressionView);
  if (value instanceof Date || value instanceof RegExp) return value;
  switch (bsonTag(value)) {
    case undefined: {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toExpressionView(v);
      return out;
    }
    case "Int32":
      return (value as { value: number }).value;
    case "Double": {
      const x = (value as Double).value;
      return isInt32Number(x) ? value : x;
    }
    default:
      // Binary, Timestamp and BSONRegExp become stand-ins; Long, Decimal128, ObjectId, … stay as they are.
      return standInOf(value);
  }
}

/**
 * Back from the expression view to serializable BSON values: the stand-ins
 * become Binary and Timestamp again; JS numbers stay numbers (the serializer
 * writes them as the int32 or double they stand for); wrappers stay.
 */
export function fromExpressionView(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof PromotedBinary) return value.binary;
  if (value instanceof PromotedTimestamp) return value.timestamp;
  if (Array.isArray(value)) return value.map(fromExpressionView);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = fromExpressionView(item);
  return out;
}
