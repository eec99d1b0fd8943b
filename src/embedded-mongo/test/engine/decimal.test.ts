/**
 * Decimal128 arithmetic: exact on the coefficients with IEEE 754-2008's
 * preferred exponents, rounded half-even to 34 digits only when needed, and
 * MongoDB's 15-digit conversion of doubles.
 */
import { Decimal128 } from "bson";
import { describe, expect, it } from "vitest";
import {
  decimalAdd,
  decimalDivide,
  decimalFromDouble,
  decimalMod,
  decimalMultiply,
  decimalRound,
  decimalToBigInt,
} from "../../engine/decimal.ts";

const d = (s: string): Decimal128 => Decimal128.fromString(s);

describe("Decimal128 arithmetic", () => {
  it("adds and multiplies exactly, keeping trailing zeros", () => {
    expect(decimalAdd(d("0.10"), d("0.20")).toString()).toBe("0.30");
    expect(decimalAdd(d("1"), d("-1")).toString()).toBe("0");
    expect(decimalMultiply(d("1.5"), d("2")).toString()).toBe("3.0");
    expect(decimalAdd(d("9999999999999999999999999999999999"), d("1")).toString()).toBe("1.000000000000000000000000000000000E+34");
  });

  it("divides exactly when it can, else rounds half-even to 34 digits", () => {
    expect(decimalDivide(d("6"), d("2")).toString()).toBe("3");
    expect(decimalDivide(d("10"), d("4")).toString()).toBe("2.5");
    expect(decimalDivide(d("1.00"), d("4")).toString()).toBe("0.25");
    expect(decimalDivide(d("1"), d("3")).toString()).toBe("0.3333333333333333333333333333333333");
    expect(decimalDivide(d("2"), d("3")).toString()).toBe("0.6666666666666666666666666666666667");
  });

  it("takes remainders with the dividend's sign, rounds half to even and truncates toward zero", () => {
    expect(decimalMod(d("7.5"), d("2")).toString()).toBe("1.5");
    expect(decimalMod(d("-7"), d("2")).toString()).toBe("-1");
    expect(decimalRound(d("2.345"), 2, "round").toString()).toBe("2.34");
    expect(decimalRound(d("2.355"), 2, "round").toString()).toBe("2.36");
    expect(decimalRound(d("2.359"), 2, "trunc").toString()).toBe("2.35");
    expect(decimalToBigInt(d("-12.9"))).toBe(-12n);
  });

  it("converts doubles with 15 significant digits, as MongoDB does", () => {
    expect(decimalFromDouble(2.5).toString()).toBe("2.50000000000000");
    expect(decimalFromDouble(0.1).toString()).toBe("0.100000000000000");
    expect(decimalFromDouble(1e20).toString()).toBe("1.00000000000000E+20");
  });
});
