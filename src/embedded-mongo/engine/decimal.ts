/**
 * Decimal128 arithmetic as MongoDB does it: exact on the decimal coefficients
 * (so 0.10 + 0.20 is 0.30, trailing zeros kept as IEEE 754-2008 prescribes),
 * rounded half-even to 34 significant digits only when a result needs more.
 * bson's Decimal128 only parses and prints, so values go through their string
 * form into a (sign, coefficient, exponent) triple of bigints.
 */
import { Decimal128 } from "bson";

/** A finite decimal `coefficient × 10^exponent`; `negative` keeps the sign of zero. */
interface Finite {
  readonly kind: "finite";
  readonly negative: boolean;
  readonly coefficient: bigint;
  readonly exponent: number;
}

type Special = { readonly kind: "nan" } | { readonly kind: "infinity"; readonly negative: boolean };

type Decimal = Finite | Special;

const PRECISION = 34;
const MAX_COEFFICIENT = 10n ** BigInt(PRECISION);

function parse(text: string): Decimal {
  if (/^[+-]?nan$/i.test(text)) return { kind: "nan" };
  if (/^[+-]?inf(inity)?$/i.test(text)) return { kind: "infinity", negative: text.startsWith("-") };
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) throw new RangeError(`not a decimal number: ${text}`);
  const [, sign = "", whole = "", fraction = "", exp = "0"] = match;
  const digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, "") || "0";
  return { kind: "finite", negative: sign === "-", coefficient: BigInt(digits), exponent: Number(exp) - fraction.length };
}

function format(value: Decimal): string {
  if (value.kind === "nan") return "NaN";
  if (value.kind === "infinity") return value.negative ? "-Infinity" : "Infinity";
  return `${value.negative ? "-" : ""}${value.coefficient.toString()}E${value.exponent}`;
}

function digitCount(n: bigint): number {
  return n === 0n ? 1 : n.toString().length;
}

/** Divides by 10^places, rounding half to even. */
function shiftRight(coefficient: bigint, places: number): bigint {
  if (places <= 0) return coefficient;
  const divisor = 10n ** BigInt(places);
  const quotient = coefficient / divisor;
  const remainder = coefficient % divisor;
  const twice = remainder * 2n;
  if (twice > divisor || (twice === divisor && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

/** Rounds a finite result to 34 significant digits. */
function normalize(value: Finite): Finite {
  let { coefficient, exponent } = value;
  const excess = digitCount(coefficient) - PRECISION;
  if (excess > 0) {
    coefficient = shiftRight(coefficient, excess);
    exponent += excess;
    if (coefficient >= MAX_COEFFICIENT) {
      coefficient /= 10n;
      exponent += 1;
    }
  }
  return { kind: "finite", negative: value.negative, coefficient, exponent };
}

function signed(value: Finite): bigint {
  return value.negative ? -value.coefficient : value.coefficient;
}

function fromSigned(n: bigint, exponent: number, negativeZero: boolean): Finite {
  return normalize({ kind: "finite", negative: n < 0n || (n === 0n && negativeZero), coefficient: n < 0n ? -n : n, exponent });
}

function toDecimal128(value: Decimal): Decimal128 {
  return Decimal128.fromString(format(value));
}

function of(value: Decimal128): Decimal {
  return parse(value.toString());
}

export function decimalAdd(a: Decimal128, b: Decimal128): Decimal128 {
  const x = of(a);
  const y = of(b);
  if (x.kind === "nan" || y.kind === "nan") return toDecimal128({ kind: "nan" });
  if (x.kind === "infinity" || y.kind === "infinity") {
    if (x.kind === "infinity" && y.kind === "infinity" && x.negative !== y.negative) return toDecimal128({ kind: "nan" });
    return toDecimal128(x.kind === "infinity" ? x : y);
  }
  const exponent = Math.min(x.exponent, y.exponent);
  const sum = signed(x) * 10n ** BigInt(x.exponent - exponent) + signed(y) * 10n ** BigInt(y.exponent - exponent);
  return toDecimal128(fromSigned(sum, exponent, x.negative && y.negative));
}

export function decimalNegate(a: Decimal128): Decimal128 {
  const x = of(a);
  if (x.kind === "nan") return a;
  return toDecimal128({ ...x, negative: !x.negative });
}

export function decimalMultiply(a: Decimal128, b: Decimal128): Decimal128 {
  const x = of(a);
  const y = of(b);
  if (x.kind === "nan" || y.kind === "nan") return toDecimal128({ kind: "nan" });
  const negative = (x.kind === "finite" ? x.negative : x.negative) !== (y.kind === "finite" ? y.negative : y.negative);
  if (x.kind === "infinity" || y.kind === "infinity") {
    const zero = (x.kind === "finite" && x.coefficient === 0n) || (y.kind === "finite" && y.coefficient === 0n);
    return toDecimal128(zero ? { kind: "nan" } : { kind: "infinity", negative });
  }
  return toDecimal128(
    normalize({ kind: "finite", negative, coefficient: x.coefficient * y.coefficient, exponent: x.exponent + y.exponent }),
  );
}

/** Division; the caller refuses a zero divisor (MongoDB's error, not IEEE's infinity). */
export function decimalDivide(a: Decimal128, b: Decimal128): Decimal128 {
  const x = of(a);
  const y = of(b);
  if (x.kind === "nan" || y.kind === "nan") return toDecimal128({ kind: "nan" });
  const negative = x.negative !== y.negative;
  if (x.kind === "infinity") return toDecimal128(y.kind === "infinity" ? { kind: "nan" } : { kind: "infinity", negative });
  if (y.kind === "infinity") return toDecimal128({ kind: "finite", negative, coefficient: 0n, exponent: 0 });
  const preferred = x.exponent - y.exponent;
  if (x.coefficient === 0n) return toDecimal128({ kind: "finite", negative, coefficient: 0n, exponent: preferred });
  // Scale the dividend so the quotient has at least 35 digits, then divide exactly or round.
  const scale = Math.max(0, PRECISION + 1 + digitCount(y.coefficient) - digitCount(x.coefficient));
  const dividend = x.coefficient * 10n ** BigInt(scale);
  let quotient = dividend / y.coefficient;
  let exponent = preferred - scale;
  if (dividend % y.coefficient === 0n) {
    // Exact: drop trailing zeros back towards the preferred exponent.
    while (exponent < preferred && quotient % 10n === 0n) {
      quotient /= 10n;
      exponent += 1;
    }
    return toDecimal128(normalize({ kind: "finite", negative, coefficient: quotient, exponent }));
  }
  // Inexact: one sticky digit makes the half-even rounding in normalize see "more than half".
  quotient = quotient * 10n + 1n;
  exponent -= 1;
  return toDecimal128(normalize({ kind: "finite", negative, coefficient: quotient, exponent }));
}

/** Truncated remainder with the dividend's sign (fmod), exact. */
export function decimalMod(a: Decimal128, b: Decimal128): Decimal128 {
  const x = of(a);
  const y = of(b);
  if (x.kind !== "finite" || y.kind !== "finite") return toDecimal128({ kind: "nan" });
  const exponent = Math.min(x.exponent, y.exponent);
  const n = x.coefficient * 10n ** BigInt(x.exponent - exponent);
  const d = y.coefficient * 10n ** BigInt(y.exponent - exponent);
  return toDecimal128(normalize({ kind: "finite", negative: x.negative, coefficient: n % d, exponent }));
}

export function decimalIsZero(a: Decimal128): boolean {
  const x = of(a);
  return x.kind === "finite" && x.coefficient === 0n;
}

export function decimalIsNegative(a: Decimal128): boolean {
  const x = of(a);
  return x.kind !== "nan" && x.negative;
}

/** Rounds (half to even) or truncates to `place` decimal places (negative: tens, hundreds, …). */
export function decimalRound(a: Decimal128, place: number, mode: "round" | "trunc"): Decimal128 {
  const x = of(a);
  if (x.kind !== "finite" || x.exponent >= -place) return a;
  const places = -place - x.exponent;
  const coefficient = mode === "round" ? shiftRight(x.coefficient, places) : x.coefficient / 10n ** BigInt(places);
  return toDecimal128(normalize({ kind: "finite", negative: x.negative, coefficient, exponent: -place }));
}

/** The integer part (toward zero) as a bigint, or undefined for NaN and infinities. */
export function decimalToBigInt(a: Decimal128): bigint | undefined {
  const x = of(a);
  if (x.kind !== "finite") return undefined;
  const n = x.exponent >= 0 ? x.coefficient * 10n ** BigInt(x.exponent) : x.coefficient / 10n ** BigInt(-x.exponent);
  return x.negative ? -n : n;
}

export function decimalFromBigInt(n: bigint): Decimal128 {
  return Decimal128.fromString(n.toString());
}

/**
 * A double as MongoDB turns it into a Decimal128 (arithmetic with a decimal,
 * `$toDecimal`): rounded to 15 significant digits, so 2.5 becomes 2.50000000000000.
 */
export function decimalFromDouble(x: number): Decimal128 {
  if (Number.isNaN(x)) return Decimal128.fromString("NaN");
  if (!Number.isFinite(x)) return Decimal128.fromString(x > 0 ? "Infinity" : "-Infinity");
  return Decimal128.fromString(x.toPrecision(15).replace("e", "E"));
}

export function decimalToDouble(a: Decimal128): number {
  return Number(a.toString());
}
