/** The `$type` names of BSON values, for typed, promoted and expression-view values alike. */
import { bsonTag } from "./compare.ts";
import { PromotedBinary, PromotedTimestamp } from "./promote.ts";
import { numericKindOf } from "./typed-numbers.ts";

/** The BSON type name of a typed value (the names `$type` accepts). */
export function bsonTypeName(value: unknown): string {
  if (value === null) return "null";
  // Numbers and numeric wrappers (a plain JS number: what the serializer writes for it).
  const numeric = numericKindOf(value);
  if (numeric !== undefined) return numeric;
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "object":
      break;
    default:
      return "javascript";
  }
  if (Array.isArray(value)) return "array";
  if (value instanceof Date) return "date";
  if (value instanceof RegExp) return "regex";
  if (value instanceof PromotedBinary) return "binData";
  if (value instanceof PromotedTimestamp) return "timestamp";
  switch (bsonTag(value)) {
    case undefined:
      return "object";
    case "Binary":
      return "binData";
    case "ObjectId":
      return "objectId";
    case "Timestamp":
      return "timestamp";
    case "BSONRegExp":
      return "regex";
    case "BSONSymbol":
      return "symbol";
    case "MinKey":
      return "minKey";
    case "MaxKey":
      return "maxKey";
    case "Code":
      return "javascript";
    case "DBRef":
      return "object";
    default:
      return "object";
  }
}
