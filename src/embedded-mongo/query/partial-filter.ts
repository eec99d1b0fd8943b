/**
 * The expressions MongoDB allows in a `partialFilterExpression`: equality,
 * `$exists: true`, `$gt`/`$gte`/`$lt`/`$lte`, `$type`, `$in`, and `$and`/`$or`
 * at the top level. Anything else (`$ne`, `$regex`, `$exists: false`,
 * `$not`, …) is refused with 67 CannotCreateIndex, as mongod does.
 */
import type { Document } from "bson";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";

const allowedOperators = new Set(["$eq", "$gt", "$gte", "$lt", "$lte", "$type", "$in", "$exists"]);

function unsupported(what: string, filter: Document): never {
  throw commandError(
    "CannotCreateIndex",
    `Expression not supported in partial index: ${what} (in partialFilterExpression ${describeValue(filter)})`,
  );
}

function validateField(field: string, condition: unknown, filter: Document): void {
  if (condition instanceof RegExp || (isPlainObject(condition) && condition["_bsontype"] === "BSONRegExp"))
    unsupported(`${field} $regex`, filter);
  if (!isPlainObject(condition) || !Object.keys(condition).some((k) => k.startsWith("$"))) return;
  for (const [op, operand] of Object.entries(condition) as [string, unknown][]) {
    if (!allowedOperators.has(op)) unsupported(`${field} ${op}`, filter);
    if (op === "$exists" && operand !== true && !(typeof operand === "number" && operand !== 0))
      unsupported(`${field} $exists: false`, filter);
    if (
      (op === "$eq" || op === "$in") &&
      (operand instanceof RegExp || (Array.isArray(operand) && operand.some((v) => v instanceof RegExp)))
    ) {
      unsupported(`${field} ${op} with a regular expression`, filter);
    }
  }
}

export function validatePartialFilter(filter: Document): void {
  for (const [key, value] of Object.entries(filter) as [string, unknown][]) {
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(value)) unsupported(key, filter);
      for (const part of value as unknown[]) {
        if (!isPlainObject(part)) unsupported(key, filter);
        for (const [field, condition] of Object.entries(part) as [string, unknown][]) {
          if (field.startsWith("$")) unsupported(`${field} inside ${key}`, filter);
          validateField(field, condition, filter);
        }
      }
      continue;
    }
    if (key.startsWith("$")) unsupported(key, filter);
    validateField(key, value, filter);
  }
}
