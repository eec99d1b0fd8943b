/**
 * MongoDB's numeric types and the arithmetic of aggregation expressions on
 * them: the result has the widest operand type (int < long < double <
 * decimal), int overflows into long and long into double, and Decimal128 is
 * computed in decimal. Values are those of the expression view (see
 * expression-view.ts): a JS number stands for the BSON type the serializer
 * gives it (int32 when integral and in range, else double), wrappers stand
 * for the rest (Long, Decimal128, and integral Doubles).
 */
import { Double, Long } from "bson";
import type { Decimal128, Int32 } from "bson";
import { bsonTag } from "./compare.ts";
import {
  decimalAdd,
  decimalDivide,
  decimalFromBigInt,
  decimalFromDouble,
  decimalIsNegative,
  decimalIsZero,
  decimalMod,
  decimalMultiply,
  decimalNegate,
  decimalToBigInt,
  decimalToDouble,
} from "./decimal.ts";

export type NumericKind = "int" | "long" | "double" | "decimal";

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Whether the serializer writes this JS number as an int32. */
export function isInt32Number(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX && !Object.is(n, -0);
}

/** The BSON numeric type a value stands for, or undefined when it is not a number. */
export function numericKindOf(value: unknown): NumericKind | undefined {
  if (typeof value === "number") return isInt32Number(value) ? "int" : "double";
  if (typeof value === "bigint") return "long";
  switch (bsonTag(value)) {
    case "Int32":
      return "int";
    case "Double":
      return "double";
    case "Long":
      return "long";
    case "Decimal128":
      return "decimal";
    default:
      return undefined;
  }
}

const RANK: Readonly<Record<NumericKind, number>> = { int: 0, long: 1, double: 2, decimal: 3 };

export function widerKind(a: NumericKind, b: NumericKind): NumericKind {
  return RANK[a] >= RANK[b] ? a : b;
}

/** A double in the expression view: a JS number unless that would read back as an int32. */
export function viewDouble(x: number): number | Double {
  return isInt32Number(x) ? new Double(x) : x;
}

/** An int64 result: int64 when it fits, else a double (MongoDB's overflow rule). */
function viewLongOrDouble(n: bigint): Long | number | Double {
  return n >= INT64_MIN && n <= INT64_MAX ? Long.fromBigInt(n) : viewDouble(Number(n));
}

/** An int32 result: int32 when it fits, else long, else double. */
function viewIntOrWider(n: bigint): number | Long | Double {
  return n >= BigInt(INT32_MIN) && n <= BigInt(INT32_MAX) ? Number(n) : viewLongOrDouble(n);
}

export function toDouble(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  switch (bsonTag(value)) {
    case "Int32":
    case "Double":
      return (value as Int32 | Double).value;
    case "Long":
      return (value as Long).toNumber();
    case "Decimal128":
      return decimalToDouble(value as Decimal128);
    default:
      return Number.NaN;
  }
}

/** The value as an integer bigint (doubles and decimals truncated toward zero). */
export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (Long.isLong(value)) return value.toBigInt();
  if (bsonTag(value) === "Decimal128") return decimalToBigInt(value as Decimal128);
  const x = toDouble(value);
  return Number.isFinite(x) ? BigInt(Math.trunc(x)) : undefined;
}

export function toDecimal(value: unknown): Decimal128 {
  switch (numericKindOf(value)) {
    case "decimal":
      return value as Decimal128;
    case "int":
    case "long":
      return decimalFromBigInt(toBigInt(value) ?? 0n);
    default:
      return decimalFromDouble(toDouble(value));
  }
}

type Operation = "add" | "subtract" | "multiply";

function integerOp(op: Operation, x: bigint, y: bigint): bigint {
  return op === "add" ? x + y : op === "subtract" ? x - y : x * y;
}

function doubleOp(op: Operation, x: number, y: number): number {
  return op === "add" ? x + y : op === "subtract" ? x - y : x * y;
}

function decimalOp(op: Operation, x: Decimal128, y: Decimal128): Decimal128 {
  if (op === "add") return decimalAdd(x, y);
  if (op === "subtract") return decimalAdd(x, decimalNegate(y));
  return decimalMultiply(x, y);
}

/** `a op b` for two numbers, in the wider type, with MongoDB's overflow widening. */
export function combineNumbers(op: Operation, a: unknown, b: unknown): unknown {
  const ka = numericKindOf(a);
  const kb = numericKindOf(b);
  if (ka === undefined || kb === undefined) throw new TypeError(`${op} needs numbers`);
  switch (widerKind(ka, kb)) {
    case "int":
      return viewIntOrWider(integerOp(op, toBigInt(a) ?? 0n, toBigInt(b) ?? 0n));
    case "long":
      return viewLongOrDouble(integerOp(op, toBigInt(a) ?? 0n, toBigInt(b) ?? 0n));
    case "double":
      return viewDouble(doubleOp(op, toDouble(a), toDouble(b)));
    case "decimal":
      return decimalOp(op, toDecimal(a), toDecimal(b));
  }
}

export function isZero(value: unknown): boolean {
  if (numericKindOf(value) === "decimal") return decimalIsZero(value as Decimal128);
  return toDouble(value) === 0;
}

/** `a / b`: a double, or a decimal when either is one. The caller refuses a zero divisor. */
export function divideNumbers(a: unknown, b: unknown): unknown {
  if (numericKindOf(a) === "decimal" || numericKindOf(b) === "decimal") return decimalDivide(toDecimal(a), toDecimal(b));
  return viewDouble(toDouble(a) / toDouble(b));
}

/** Truncated remainder in the wider type. The caller refuses a zero divisor. */
export function modNumbers(a: unknown, b: unknown): unknown {
  const kind = widerKind(numericKindOf(a) ?? "double", numericKindOf(b) ?? "double");
  switch (kind) {
    case "int":
    case "long": {
      const r = (toBigInt(a) ?? 0n) % (toBigInt(b) ?? 1n);
      return kind === "int" ? Number(r) : Long.fromBigInt(r);
    }
    case "double":
      return viewDouble(toDouble(a) % toDouble(b));
    case "decimal":
      return decimalMod(toDecimal(a), toDecimal(b));
  }
}

export function absNumber(value: unknown): unknown {
  switch (numericKindOf(value)) {
    case "int":
      return viewIntOrWider(BigInt(Math.abs(value as number)));
    case "long": {
      const n = toBigInt(value) ?? 0n;
      return viewLongOrDouble(n < 0n ? -n : n);
    }
    case "decimal":
      return decimalIsNegative(value as Decimal128) ? decimalNegate(value as Decimal128) : value;
    default:
      return viewDouble(Math.abs(toDouble(value)));
  }
}

/** An int32 in the expression view when it fits, else undefined. */
export function int32Of(n: bigint): number | undefined {
  return n >= BigInt(INT32_MIN) && n <= BigInt(INT32_MAX) ? Number(n) : undefined;
}

/** An int64 in the expression view when it fits, else undefined. */
export function int64Of(n: bigint): Long | undefined {
  return n >= INT64_MIN && n <= INT64_MAX ? Long.fromBigInt(n) : undefined;
}
