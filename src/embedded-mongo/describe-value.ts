/** Short, shell-like rendering of values for error messages. */
import { EJSON } from "bson";

const maxLength = 200;

export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "missing" : EJSON.stringify(value, { relaxed: true });
  } catch {
    text = String(value);
  }
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

/** The BSON type alias MongoDB uses in messages ("int", "string", "object", …). */
export function bsonTypeName(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "double";
  if (typeof value === "bigint") return "long";
  if (value instanceof Date) return "date";
  if (value instanceof RegExp) return "regex";
  if (typeof value === "object") {
    const bsontype = (value as { _bsontype?: unknown })._bsontype;
    if (typeof bsontype === "string") {
      const names: Record<string, string> = {
        Int32: "int",
        Double: "double",
        Long: "long",
        Decimal128: "decimal",
        ObjectId: "objectId",
        Binary: "binData",
        Timestamp: "timestamp",
        BSONRegExp: "regex",
        MinKey: "minKey",
        MaxKey: "maxKey",
        Code: "javascript",
        BSONSymbol: "symbol",
      };
      return names[bsontype] ?? bsontype;
    }
    return "object";
  }
  return typeof value;
}
