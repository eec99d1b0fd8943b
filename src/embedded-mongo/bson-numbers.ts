/**
 * Numeric BSON values as the command layer sees them (deserialized with
 * `promoteValues: false`: Int32, Double, Long, Decimal128 wrappers), and the
 * type-preserving arithmetic of `$inc`/`$mul`: the engine's typed arithmetic
 * (engine/typed-numbers.ts: widest type, Int32 overflow to Long, Decimal128
 * in decimal), except that where an aggregation expression would overflow a
 * Long into a double, `$inc`/`$mul` fail, as mongod's do.
 */
import { Decimal128, Double, Int32, Long } from "bson";
import { combineNumbers, isInt32Number, numericKindOf, toDouble, widerKind } from "./engine/typed-numbers.ts";
import type { NumericKind } from "./engine/typed-numbers.ts";

export type { NumericKind };

/** The BSON numeric type of `value`, or undefined when it is not a number. */
export const numericKind = numericKindOf;

export function isNumeric(value: unknown): boolean {
  return numericKindOf(value) !== undefined;
}

/** The value as a JS number (Long may lose precision beyond 2^53), or undefined. */
export function toNumber(value: unknown): number | undefined {
  return numericKindOf(value) === undefined ? undefined : toDouble(value);
}

/** Thrown for arithmetic MongoDB would refuse (int64 overflow). */
export class ArithmeticError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArithmeticError";
  }
}

/** A stored value: a JS number becomes the Int32 or Double it stands for. */
function stored(value: unknown): Int32 | Long | Double | Decimal128 {
  if (typeof value === "number") return isInt32Number(value) ? new Int32(value) : new Double(value);
  return value as Long | Double | Decimal128;
}

function combine(a: unknown, b: unknown, op: "$inc" | "$mul"): Int32 | Long | Double | Decimal128 {
  const ka = numericKindOf(a);
  const kb = numericKindOf(b);
  if (ka === undefined || kb === undefined) throw new ArithmeticError(`${op} needs numeric operands`);
  const result = combineNumbers(op === "$inc" ? "add" : "multiply", a, b);
  const kind = widerKind(ka, kb);
  if ((kind === "int" || kind === "long") && numericKindOf(result) === "double") {
    throw new ArithmeticError(`${op} would overflow a 64-bit integer`);
  }
  return stored(result);
}

export function addNumbers(a: unknown, b: unknown): Int32 | Long | Double | Decimal128 {
  return combine(a, b, "$inc");
}

export function multiplyNumbers(a: unknown, b: unknown): Int32 | Long | Double | Decimal128 {
  return combine(a, b, "$mul");
}

/** Zero of the same BSON type as `like` ($mul on a missing field). */
export function zeroLike(like: unknown): Int32 | Long | Double | Decimal128 {
  switch (numericKindOf(like)) {
    case "long":
      return Long.fromInt(0);
    case "double":
      return new Double(0);
    case "decimal":
      return Decimal128.fromString("0");
    default:
      return new Int32(0);
  }
}
