/**
 * Numeric BSON values as the command layer sees them (deserialized with
 * `promoteValues: false`: Int32, Double, Long, Decimal128 wrappers), and the
 * type-preserving arithmetic of `$inc`/`$mul`: Int32 stays Int32 until it
 * overflows (then Long), Long stays Long, anything with a Double is Double.
 */
import { Decimal128, Double, Int32, Long } from "bson";

export type NumericKind = "int" | "long" | "double" | "decimal";

const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** The BSON numeric type of `value`, or undefined when it is not a number. */
export function numericKind(value: unknown): NumericKind | undefined {
  if (value instanceof Int32) return "int";
  if (value instanceof Double) return "double";
  if (Long.isLong(value)) return "long";
  if (value instanceof Decimal128) return "decimal";
  if (typeof value === "number") return Number.isInteger(value) && value >= int32Min && value <= int32Max ? "int" : "double";
  if (typeof value === "bigint") return "long";
  return undefined;
}

export function isNumeric(value: unknown): boolean {
  return numericKind(value) !== undefined;
}

/** The value as a JS number (Long may lose precision beyond 2^53), or undefined. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  if (Long.isLong(value)) return value.toNumber();
  if (value instanceof Decimal128) return Number(value.toString());
  if (typeof value === "bigint") return Number(value);
  return undefined;
}

function toBigInt(value: unknown): bigint {
  if (Long.isLong(value)) return value.toBigInt();
  if (typeof value === "bigint") return value;
  const n = toNumber(value) ?? 0;
  return BigInt(Math.trunc(n));
}

const rank: Record<NumericKind, number> = { int: 0, long: 1, double: 2, decimal: 3 };

function wider(a: NumericKind, b: NumericKind): NumericKind {
  return rank[a] >= rank[b] ? a : b;
}

/** Thrown for arithmetic MongoDB would refuse (int64 overflow, Decimal128). */
export class ArithmeticError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArithmeticError";
  }
}

function fromBigInt(result: bigint, kind: "int" | "long", op: string): Int32 | Long {
  if (kind === "int" && result >= BigInt(int32Min) && result <= BigInt(int32Max)) return new Int32(Number(result));
  if (result < int64Min || result > int64Max) throw new ArithmeticError(`${op} would overflow a 64-bit integer`);
  return Long.fromBigInt(result);
}

function combine(a: unknown, b: unknown, op: "$inc" | "$mul"): Int32 | Long | Double {
  const ka = numericKind(a);
  const kb = numericKind(b);
  if (ka === undefined || kb === undefined) throw new ArithmeticError(`${op} needs numeric operands`);
  const kind = wider(ka, kb);
  if (kind === "decimal") throw new ArithmeticError(`${op} on Decimal128 values is not supported by the embedded server`);
  if (kind === "double") {
    const x = toNumber(a) ?? 0;
    const y = toNumber(b) ?? 0;
    return new Double(op === "$inc" ? x + y : x * y);
  }
  const x = toBigInt(a);
  const y = toBigInt(b);
  return fromBigInt(op === "$inc" ? x + y : x * y, kind, op);
}

export function addNumbers(a: unknown, b: unknown): Int32 | Long | Double {
  return combine(a, b, "$inc");
}

export function multiplyNumbers(a: unknown, b: unknown): Int32 | Long | Double {
  return combine(a, b, "$mul");
}

/** Zero of the same BSON type as `like` ($mul on a missing field). */
export function zeroLike(like: unknown): Int32 | Long | Double {
  const kind = numericKind(like);
  if (kind === "long") return Long.fromInt(0);
  if (kind === "double") return new Double(0);
  if (kind === "decimal") throw new ArithmeticError("$mul on Decimal128 values is not supported by the embedded server");
  return new Int32(0);
}
