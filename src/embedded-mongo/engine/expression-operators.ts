/**
 * The aggregation-expression operators the embedded server registers in
 * mingo, replacing mingo's where MongoDB's answer depends on BSON types. They
 * evaluate on the expression view (expression-view.ts), where a Long,
 * Decimal128 or integral Double is a bson wrapper and other numbers are JS
 * numbers, and they return values in the same view:
 *
 * - arithmetic and accumulators compute in the widest operand type (Long +
 *   Long is a Long, Decimal128 in decimal, int32 overflow widens to long);
 * - comparisons use MongoDB's total order, exactly for Longs;
 * - conversions ($toInt, $toLong, $toDouble, $toDecimal, $convert, …) give
 *   MongoDB's types and its ConversionFailure (241) errors;
 * - truthiness treats every numeric zero as false;
 * - operators that merely take numeric parameters (`$slice`, `$range`,
 *   `$dateAdd`, …) get those as JS numbers, so mingo's own code still works.
 *
 * Errors carry mongod's codes through `EngineError`.
 */
import { Decimal128, Double, Long, ObjectId } from "bson";
import { evalExpr } from "mingo/core";
import * as mingoAccumulators from "mingo/operators/accumulator";
import * as mingoExpressions from "mingo/operators/expression";
import type { AnyObject, Options } from "mingo/types";
import { bsonTypeName } from "./bson-type-name.ts";
import { bsonTag, compareValues } from "./compare.ts";
import { decimalRound } from "./decimal.ts";
import { fromExpressionView } from "./expression-view.ts";
import {
  absNumber,
  combineNumbers,
  divideNumbers,
  int32Of,
  int64Of,
  isZero,
  modNumbers,
  numericKindOf,
  toBigInt,
  toDecimal,
  toDouble,
  viewDouble,
} from "./typed-numbers.ts";
import { EngineError } from "./types.ts";

export type ExpressionOperator = (obj: AnyObject, expr: unknown, options: Options) => unknown;
export type AccumulatorOperator = (collection: AnyObject[], expr: unknown, options: Options) => unknown;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  return value === undefined ? "missing" : bsonTypeName(value);
}

/** MongoDB truthiness: false, null, missing and every numeric zero are false. */
export function isTruthy(value: unknown): boolean {
  if (value === false || value === null || value === undefined) return false;
  if (numericKindOf(value) !== undefined) return !isZero(value);
  return true;
}

/** Expression comparison: MongoDB's order, exact for Longs, with a missing value below null. */
export function compareViewValues(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    if (a === undefined && b === null) return -1;
    if (b === undefined && a === null) return 1;
  }
  return compareValues(fromExpressionView(a), fromExpressionView(b));
}

function evaluate(obj: AnyObject, expr: unknown, options: Options): unknown {
  return evalExpr(obj, expr, options);
}

function argumentList(obj: AnyObject, expr: unknown, options: Options, name: string): unknown[] {
  const args = evaluate(obj, expr, options);
  if (!Array.isArray(expr)) return [args];
  if (!Array.isArray(args)) throw new EngineError(16020, "Location16020", `Expression ${name} takes an array of arguments`);
  return args;
}

function exactlyArgs(obj: AnyObject, expr: unknown, options: Options, name: string, count: number): unknown[] {
  const args = argumentList(obj, expr, options, name);
  if (args.length !== count) {
    throw new EngineError(16020, "Location16020", `Expression ${name} takes exactly ${count} arguments. ${args.length} were passed in.`);
  }
  return args;
}

const isNullish = (v: unknown): boolean => v === null || v === undefined;

// ---- arithmetic ----

const $add: ExpressionOperator = (obj, expr, options) => {
  const args = argumentList(obj, expr, options, "$add");
  let result: unknown = 0;
  let date: Date | undefined;
  for (const arg of args) {
    if (isNullish(arg)) return null;
    if (arg instanceof Date) {
      if (date !== undefined) throw new EngineError(16612, "Location16612", "only one date allowed in an $add expression");
      date = arg;
      continue;
    }
    if (numericKindOf(arg) === undefined) {
      throw new EngineError(16554, "TypeMismatch", `$add only supports numeric or date types, not ${describe(arg)}`);
    }
    result = combineNumbers("add", result, arg);
  }
  return date === undefined ? result : new Date(date.getTime() + Math.round(toDouble(result)));
};

const $subtract: ExpressionOperator = (obj, expr, options) => {
  const [a, b] = exactlyArgs(obj, expr, options, "$subtract", 2);
  if (isNullish(a) || isNullish(b)) return null;
  if (a instanceof Date) {
    if (b instanceof Date) return Long.fromNumber(a.getTime() - b.getTime());
    if (numericKindOf(b) !== undefined) return new Date(a.getTime() - Math.round(toDouble(b)));
  } else if (numericKindOf(a) !== undefined && numericKindOf(b) !== undefined) {
    return combineNumbers("subtract", a, b);
  }
  throw new EngineError(16556, "TypeMismatch", `can't $subtract ${describe(b)} from ${describe(a)}`);
};

const $multiply: ExpressionOperator = (obj, expr, options) => {
  const args = argumentList(obj, expr, options, "$multiply");
  let result: unknown = 1;
  for (const arg of args) {
    if (isNullish(arg)) return null;
    if (numericKindOf(arg) === undefined) {
      throw new EngineError(16555, "TypeMismatch", `$multiply only supports numeric types, not ${describe(arg)}`);
    }
    result = combineNumbers("multiply", result, arg);
  }
  return result;
};

/** `$divide` and `$mod`: two numbers, a zero divisor refused with mongod's code for the operator. */
function division(
  name: "$divide" | "$mod",
  typeCode: number,
  byZero: EngineError,
  compute: (a: unknown, b: unknown) => unknown,
): ExpressionOperator {
  return (obj, expr, options) => {
    const [a, b] = exactlyArgs(obj, expr, options, name, 2);
    if (isNullish(a) || isNullish(b)) return null;
    if (numericKindOf(a) === undefined || numericKindOf(b) === undefined) {
      throw new EngineError(typeCode, "TypeMismatch", `${name} only supports numeric types, not ${describe(a)} and ${describe(b)}`);
    }
    if (isZero(b)) throw byZero;
    return compute(a, b);
  };
}

const $divide = division("$divide", 16609, new EngineError(2, "BadValue", "can't $divide by zero"), divideNumbers);
const $mod = division("$mod", 16611, new EngineError(16610, "Location16610", "can't $mod by zero"), modNumbers);

function unaryNumber(name: string, fn: (value: unknown) => unknown): ExpressionOperator {
  return (obj, expr, options) => {
    const [value] = exactlyArgs(obj, expr, options, name, 1);
    if (isNullish(value)) return null;
    if (numericKindOf(value) === undefined) {
      throw new EngineError(28765, "Location28765", `${name} only supports numeric types, not ${describe(value)}`);
    }
    return fn(value);
  };
}

/** $ceil and $floor: ints and longs are unchanged, doubles stay doubles, decimals stay decimals. */
function integralPart(name: string, direction: 1 | -1): ExpressionOperator {
  return unaryNumber(name, (value) => {
    switch (numericKindOf(value)) {
      case "double":
        return viewDouble(direction === 1 ? Math.ceil(toDouble(value)) : Math.floor(toDouble(value)));
      case "decimal": {
        const truncated = decimalRound(value as Decimal128, 0, "trunc");
        const x = toDouble(value);
        const t = toDouble(truncated);
        if (x === t || (direction === 1 ? x < 0 : x > 0)) return truncated;
        return combineNumbers("add", truncated, Decimal128.fromString(direction === 1 ? "1" : "-1"));
      }
      default:
        return value;
    }
  });
}

/** Half to even, as MongoDB's $round does; `trunc` cuts toward zero. */
function roundBigInt(n: bigint, places: number, mode: "round" | "trunc"): bigint {
  const unit = 10n ** BigInt(places);
  const quotient = n / unit;
  const remainder = n % unit;
  if (mode === "trunc" || remainder === 0n) return quotient * unit;
  const twice = (remainder < 0n ? -remainder : remainder) * 2n;
  const away = twice > unit || (twice === unit && quotient % 2n !== 0n);
  return (away ? quotient + (n < 0n ? -1n : 1n) : quotient) * unit;
}

function roundDouble(x: number, place: number, mode: "round" | "trunc"): number {
  if (!Number.isFinite(x)) return x;
  const scale = 10 ** place;
  const scaled = x * scale;
  if (mode === "trunc") return Math.trunc(scaled) / scale;
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  const rounded = diff > 0.5 || (diff === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return rounded / scale;
}

function rounding(name: "$round" | "$trunc"): ExpressionOperator {
  const mode = name === "$round" ? "round" : "trunc";
  return (obj, expr, options) => {
    const args = argumentList(obj, expr, options, name);
    if (args.length < 1 || args.length > 2) {
      throw new EngineError(
        28667,
        "Location28667",
        `Expression ${name} takes at least 1 argument, and at most 2, but ${args.length} were passed in.`,
      );
    }
    const [value, placeArg = 0] = args;
    if (isNullish(value) || isNullish(placeArg)) return null;
    const place = toDouble(placeArg);
    if (!Number.isInteger(place) || place < -20 || place > 100) {
      throw new EngineError(
        51083,
        "Location51083",
        `cannot apply ${name} with precision value ${String(place)} value must be in [-20, 100]`,
      );
    }
    switch (numericKindOf(value)) {
      case "int":
      case "long": {
        if (place >= 0) return value;
        const n = roundBigInt(toBigInt(value) ?? 0n, -place, mode);
        return numericKindOf(value) === "int" ? (int32Of(n) ?? int64Of(n) ?? viewDouble(Number(n))) : (int64Of(n) ?? viewDouble(Number(n)));
      }
      case "double":
        return viewDouble(roundDouble(toDouble(value), place, mode));
      case "decimal":
        return decimalRound(value as Decimal128, place, mode);
      default:
        throw new EngineError(51081, "Location51081", `${name} only supports numeric types, not ${describe(value)}`);
    }
  };
}

// ---- bitwise ----

function bitwise(name: string, fold: (a: bigint, b: bigint) => bigint, start: bigint): ExpressionOperator {
  return (obj, expr, options) => {
    const args = argumentList(obj, expr, options, name);
    let result = start;
    let long = false;
    for (const arg of args) {
      if (isNullish(arg)) return null;
      const kind = numericKindOf(arg);
      if (kind !== "int" && kind !== "long") {
        throw new EngineError(28766, "Location28766", `${name} only supports int and long operands, not ${describe(arg)}`);
      }
      long ||= kind === "long";
      result = fold(result, toBigInt(arg) ?? 0n);
    }
    return long ? Long.fromBigInt(BigInt.asIntN(64, result)) : Number(BigInt.asIntN(32, result));
  };
}

const $bitNot = unaryNumber("$bitNot", (value) => {
  const kind = numericKindOf(value);
  if (kind !== "int" && kind !== "long")
    throw new EngineError(28765, "Location28765", `$bitNot only supports int and long, not ${describe(value)}`);
  const n = ~(toBigInt(value) ?? 0n);
  return kind === "long" ? Long.fromBigInt(BigInt.asIntN(64, n)) : Number(BigInt.asIntN(32, n));
});

// ---- comparison and truthiness ----

function comparison(name: string, test: (c: number) => boolean | number): ExpressionOperator {
  return (obj, expr, options) => {
    const [a, b] = exactlyArgs(obj, expr, options, name, 2);
    return test(compareViewValues(a, b));
  };
}

const $and: ExpressionOperator = (obj, expr, options) =>
  (Array.isArray(expr) ? expr : [expr]).every((e: unknown) => isTruthy(evaluate(obj, e, options)));

const $or: ExpressionOperator = (obj, expr, options) =>
  (Array.isArray(expr) ? expr : [expr]).some((e: unknown) => isTruthy(evaluate(obj, e, options)));

const $not: ExpressionOperator = (obj, expr, options) => {
  const [value] = exactlyArgs(obj, expr, options, "$not", 1);
  return !isTruthy(value);
};

const $cond: ExpressionOperator = (obj, expr, options) => {
  let parts: unknown[];
  if (Array.isArray(expr)) parts = expr;
  else if (isPlainObject(expr)) parts = [expr["if"], expr["then"], expr["else"]];
  else throw new EngineError(16020, "Location16020", "Expression $cond takes exactly 3 arguments.");
  if (parts.length !== 3)
    throw new EngineError(16020, "Location16020", `Expression $cond takes exactly 3 arguments. ${parts.length} were passed in.`);
  const [ifExpr, thenExpr, elseExpr] = parts;
  return evaluate(obj, isTruthy(evaluate(obj, ifExpr, options)) ? thenExpr : elseExpr, options);
};

const $switch: ExpressionOperator = (obj, expr, options) => {
  if (!isPlainObject(expr) || !Array.isArray(expr["branches"])) {
    throw new EngineError(40060, "Location40060", "$switch requires at least one branch.");
  }
  for (const branch of expr["branches"] as unknown[]) {
    if (!isPlainObject(branch)) throw new EngineError(40061, "Location40061", "$switch expected an object in branches");
    if (isTruthy(evaluate(obj, branch["case"], options))) return evaluate(obj, branch["then"], options);
  }
  if (!Object.hasOwn(expr, "default")) {
    throw new EngineError(40066, "Location40066", "$switch could not find a matching branch for an input, and no default was specified.");
  }
  return evaluate(obj, expr["default"], options);
};

/** Private: MongoDB truthiness as a boolean mingo's own `truthy` reads correctly. */
const TRUTHY = "$_embeddedTruthy";

const truthyOperator: ExpressionOperator = (obj, expr, options) => isTruthy(evaluate(obj, expr, options));

const mingoFilter = mingoExpressions.$filter as ExpressionOperator;

/** mingo's `$filter`, with the condition judged by MongoDB truthiness. */
const $filter: ExpressionOperator = (obj, expr, options) =>
  mingoFilter(obj, isPlainObject(expr) && Object.hasOwn(expr, "cond") ? { ...expr, cond: { [TRUTHY]: expr["cond"] } } : expr, options);

const $in: ExpressionOperator = (obj, expr, options) => {
  const [value, list] = exactlyArgs(obj, expr, options, "$in", 2);
  if (!Array.isArray(list))
    throw new EngineError(40081, "Location40081", `$in requires an array as a second argument, found: ${describe(list)}`);
  return (list as unknown[]).some((item) => compareViewValues(value, item) === 0);
};

// ---- types and conversions ----

function conversionFailure(message: string): EngineError {
  return new EngineError(241, "ConversionFailure", `${message} in $convert with no onError value`);
}

function unsupportedConversion(value: unknown, target: string): EngineError {
  return conversionFailure(`Unsupported conversion from ${describe(value)} to ${target}`);
}

function integerFromString(text: string): bigint {
  if (!/^[+-]?\d+$/.test(text)) throw conversionFailure(`Failed to parse number '${text}'`);
  return BigInt(text);
}

function integerFrom(value: unknown, target: "int" | "long"): bigint {
  if (typeof value === "boolean") return value ? 1n : 0n;
  if (typeof value === "string") return integerFromString(value);
  if (value instanceof Date && target === "long") return BigInt(value.getTime());
  const kind = numericKindOf(value);
  if (kind === undefined) throw unsupportedConversion(value, target);
  if ((kind === "double" || kind === "decimal") && !Number.isFinite(toDouble(value))) {
    throw conversionFailure(`Attempt to convert ${Number.isNaN(toDouble(value)) ? "NaN" : "infinity"} value to integer`);
  }
  return toBigInt(value) ?? 0n;
}

function toIntValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  const n = integerFrom(value, "int");
  const result = int32Of(n);
  if (result === undefined) throw conversionFailure(`Conversion would overflow target type`);
  return result;
}

function toLongValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  const result = int64Of(integerFrom(value, "long"));
  if (result === undefined) throw conversionFailure(`Conversion would overflow target type`);
  return result;
}

function toDoubleValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  if (typeof value === "boolean") return viewDouble(value ? 1 : 0);
  if (value instanceof Date) return viewDouble(value.getTime());
  if (typeof value === "string") {
    const trimmed = value.trim();
    const x = trimmed === "" ? Number.NaN : Number(trimmed);
    if (Number.isNaN(x) && !/^[+-]?nan$/i.test(trimmed)) throw conversionFailure(`Failed to parse number '${value}'`);
    return viewDouble(x);
  }
  if (numericKindOf(value) === undefined) throw unsupportedConversion(value, "double");
  return viewDouble(toDouble(value));
}

function toDecimalValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  if (typeof value === "boolean") return Decimal128.fromString(value ? "1" : "0");
  if (value instanceof Date) return Decimal128.fromString(String(value.getTime()));
  if (typeof value === "string") {
    try {
      return Decimal128.fromString(value.trim());
    } catch {
      throw conversionFailure(`Failed to parse number '${value}'`);
    }
  }
  if (numericKindOf(value) === undefined) throw unsupportedConversion(value, "decimal");
  return toDecimal(value);
}

function toBoolValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  return numericKindOf(value) === undefined ? value !== false : !isZero(value);
}

function formatDouble(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  return String(x);
}

function toStringValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  switch (numericKindOf(value)) {
    case "int":
      return String(value);
    case "double":
      return formatDouble(toDouble(value));
    case "long":
    case "decimal":
      return (value as Long | Decimal128).toString();
    default:
      break;
  }
  if (bsonTag(value) === "ObjectId") return (value as ObjectId).toHexString();
  throw unsupportedConversion(value, "string");
}

function toObjectIdValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  if (bsonTag(value) === "ObjectId") return value;
  if (typeof value === "string" && /^[0-9a-fA-F]{24}$/.test(value)) return new ObjectId(value);
  if (typeof value === "string") throw conversionFailure(`Failed to parse objectId '${value}'`);
  throw unsupportedConversion(value, "objectId");
}

function toDateValue(value: unknown): unknown {
  if (isNullish(value)) return null;
  if (value instanceof Date) return value;
  const kind = numericKindOf(value);
  if (kind === "long" || kind === "double" || kind === "decimal") return new Date(toDouble(value));
  if (typeof value === "string") {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw conversionFailure(`Error parsing date string '${value}'`);
    return date;
  }
  if (bsonTag(value) === "ObjectId") return (value as ObjectId).getTimestamp();
  throw unsupportedConversion(value, "date");
}

const converters: Readonly<Record<string, (value: unknown) => unknown>> = {
  int: toIntValue,
  long: toLongValue,
  double: toDoubleValue,
  decimal: toDecimalValue,
  bool: toBoolValue,
  string: toStringValue,
  objectId: toObjectIdValue,
  date: toDateValue,
};

const typeCodes: Readonly<Record<number, string>> = {
  1: "double",
  2: "string",
  7: "objectId",
  8: "bool",
  9: "date",
  16: "int",
  18: "long",
  19: "decimal",
};

function converter(name: string, convert: (value: unknown) => unknown): ExpressionOperator {
  return (obj, expr, options) => convert(exactlyArgs(obj, expr, options, name, 1)[0]);
}

const $convert: ExpressionOperator = (obj, expr, options) => {
  if (!isPlainObject(expr) || !Object.hasOwn(expr, "input") || !Object.hasOwn(expr, "to")) {
    throw new EngineError(9, "FailedToParse", "$convert requires 'input' and 'to' parameters");
  }
  const input = evaluate(obj, expr["input"], options);
  const to = evaluate(obj, expr["to"], options);
  const target = typeof to === "string" ? to : typeCodes[toDouble(to)];
  const convert = target === undefined ? undefined : converters[target];
  if (convert === undefined) throw new EngineError(2, "BadValue", `Unknown type name: ${String(to)}`);
  if (isNullish(input)) return Object.hasOwn(expr, "onNull") ? evaluate(obj, expr["onNull"], options) : null;
  try {
    return convert(input);
  } catch (err) {
    if (err instanceof EngineError && err.code === 241 && Object.hasOwn(expr, "onError")) return evaluate(obj, expr["onError"], options);
    throw err;
  }
};

const $type: ExpressionOperator = (obj, expr, options) => describe(exactlyArgs(obj, expr, options, "$type", 1)[0]);

const $isNumber: ExpressionOperator = (obj, expr, options) =>
  numericKindOf(exactlyArgs(obj, expr, options, "$isNumber", 1)[0]) !== undefined;

// ---- strings ----

const mingoStrLenBytes: ExpressionOperator = mingoExpressions.$strLenBytes;

/**
 * `$strLenBytes` of a string is its UTF-8 length, counted without copying it:
 * mingo's percent-encodes the string and splits the copy into a string per
 * character, about 1.5 s for a 15 MiB string on a loaded 2-core machine
 * (against milliseconds here). Anything else goes to mingo, which refuses it.
 */
const $strLenBytes: ExpressionOperator = (obj, expr, options) => {
  const value = evaluate(obj, expr, options);
  return typeof value === "string" ? Buffer.byteLength(value, "utf8") : mingoStrLenBytes(obj, expr, options);
};

// ---- dates ----

/** `$week`: weeks start on Sunday; the days before the year's first Sunday are week 0 (strftime %U). */
function weekOfYear(dayOfYear: number, dayOfWeek: number): number {
  return Math.floor((dayOfYear + 6 - (dayOfWeek - 1)) / 7);
}

const mingoDayOfYear = mingoExpressions.$dayOfYear as ExpressionOperator;
const mingoDayOfWeek = mingoExpressions.$dayOfWeek as ExpressionOperator;
const mingoIsoWeek = mingoExpressions.$isoWeek as ExpressionOperator;
const mingoYear = mingoExpressions.$year as ExpressionOperator;
const mingoMonth = mingoExpressions.$month as ExpressionOperator;

const $week: ExpressionOperator = (obj, expr, options) => {
  const doy = mingoDayOfYear(obj, expr, options);
  if (isNullish(doy)) return null;
  return weekOfYear(doy as number, mingoDayOfWeek(obj, expr, options) as number);
};

/** The ISO week-numbering year: the calendar year, minus one in early January's week 52/53, plus one in late December's week 1. */
const $isoWeekYear: ExpressionOperator = (obj, expr, options) => {
  const week = mingoIsoWeek(obj, expr, options);
  if (isNullish(week)) return null;
  const year = mingoYear(obj, expr, options) as number;
  const month = mingoMonth(obj, expr, options) as number;
  if (month === 1 && (week as number) >= 52) return year - 1;
  if (month === 12 && week === 1) return year + 1;
  return year;
};

const mingoDateToString = mingoExpressions.$dateToString as ExpressionOperator;

/**
 * `$dateToString` with `%U` (as `$week`) and `%G` (as `$isoWeekYear`) filled in
 * before mingo formats the rest, whose own versions of the two differ.
 */
const $dateToString: ExpressionOperator = (obj, expr, options) => {
  if (!isPlainObject(expr) || typeof expr["format"] !== "string" || !/%[UG]/.test(expr["format"])) {
    return mingoDateToString(obj, expr, options);
  }
  const dateArg = expr["timezone"] === undefined ? { date: expr["date"] } : { date: expr["date"], timezone: expr["timezone"] };
  const week = $week(obj, dateArg, options);
  if (isNullish(week)) return mingoDateToString(obj, expr, options);
  const isoYear = $isoWeekYear(obj, dateArg, options) as number;
  const format = expr["format"].replace(/%(.)/g, (token: string, symbol: string) => {
    if (symbol === "U") return String(week).padStart(2, "0");
    if (symbol === "G") return String(isoYear).padStart(4, "0");
    return token;
  });
  return mingoDateToString(obj, { ...expr, format }, options);
};

// ---- mingo operators that take numeric parameters ----

function plainNumber(value: unknown): unknown {
  const kind = numericKindOf(value);
  return kind === "long" || kind === "decimal" || value instanceof Double ? toDouble(value) : value;
}

/** A value mingo may re-evaluate as an expression and get back unchanged. */
function asLiteral(value: unknown): unknown {
  if ((typeof value === "string" && value.startsWith("$")) || Array.isArray(value) || isPlainObject(value)) return { $literal: value };
  return value;
}

/**
 * Evaluates the arguments, turns numeric wrappers among them (not inside
 * arrays or documents, which are data) into JS numbers, and hands them to
 * mingo's operator as literals. `keep` names argument positions that are data.
 */
function withNumberParameters(
  operator: ExpressionOperator,
  result: (value: unknown) => unknown = (v) => v,
  keep: readonly number[] = [],
): ExpressionOperator {
  return (obj, expr, options) => {
    const args = evaluate(obj, expr, options);
    let literal: unknown;
    if (Array.isArray(expr) && Array.isArray(args)) {
      literal = (args as unknown[]).map((v, i) => asLiteral(keep.includes(i) ? v : plainNumber(v)));
    } else if (isPlainObject(expr) && isPlainObject(args)) {
      const named: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(args)) named[key] = asLiteral(plainNumber(v));
      literal = named;
    } else {
      literal = asLiteral(plainNumber(args));
    }
    return result(operator(obj, literal, options));
  };
}

/** mingo computes these in doubles, and MongoDB returns a double. */
function asDoubleResult(value: unknown): unknown {
  return typeof value === "number" ? viewDouble(value) : value;
}

function asLongResult(value: unknown): unknown {
  return typeof value === "number" && Number.isInteger(value) ? Long.fromNumber(value) : value;
}

const numericParameterOperators = [
  "$arrayElemAt",
  "$slice",
  "$range",
  "$substr",
  "$substrBytes",
  "$substrCP",
  "$indexOfBytes",
  "$indexOfCP",
  "$firstN",
  "$lastN",
  "$dateAdd",
  "$dateSubtract",
  "$dateFromParts",
  "$dateTrunc",
  "$pow",
] as const;

const doubleResultOperators = [
  "$sqrt",
  "$exp",
  "$ln",
  "$log",
  "$log10",
  "$sin",
  "$cos",
  "$tan",
  "$asin",
  "$acos",
  "$atan",
  "$atan2",
  "$sinh",
  "$cosh",
  "$tanh",
  "$asinh",
  "$acosh",
  "$atanh",
  "$degreesToRadians",
  "$radiansToDegrees",
] as const;

function mingoOperator(name: string): ExpressionOperator | undefined {
  return (mingoExpressions as unknown as Record<string, ExpressionOperator | undefined>)[name];
}

function adapted(): Record<string, ExpressionOperator> {
  const out: Record<string, ExpressionOperator> = {};
  for (const name of numericParameterOperators) {
    const op = mingoOperator(name);
    if (op !== undefined) out[name] = withNumberParameters(op);
  }
  for (const name of doubleResultOperators) {
    const op = mingoOperator(name);
    if (op !== undefined) out[name] = withNumberParameters(op, asDoubleResult);
  }
  const indexOfArray = mingoOperator("$indexOfArray");
  if (indexOfArray !== undefined) out["$indexOfArray"] = withNumberParameters(indexOfArray, (v) => v, [0, 1]);
  const dateDiff = mingoOperator("$dateDiff");
  if (dateDiff !== undefined) out["$dateDiff"] = withNumberParameters(dateDiff, asLongResult);
  return out;
}

// ---- accumulators ----

const push = mingoAccumulators.$push as AccumulatorOperator;

function numbersOf(collection: AnyObject[], expr: unknown, options: Options): unknown[] {
  return (push(collection, expr, options) as unknown[]).filter((v) => numericKindOf(v) !== undefined);
}

const $sum: AccumulatorOperator = (collection, expr, options) => {
  let total: unknown = 0;
  for (const value of numbersOf(collection, expr, options)) total = combineNumbers("add", total, value);
  return total;
};

const $avg: AccumulatorOperator = (collection, expr, options) => {
  const values = numbersOf(collection, expr, options);
  if (values.length === 0) return null;
  let total: unknown = 0;
  for (const value of values) total = combineNumbers("add", total, value);
  if (numericKindOf(total) === "decimal") return divideNumbers(total, Decimal128.fromString(String(values.length)));
  return viewDouble(toDouble(total) / values.length);
};

function extreme(sign: 1 | -1): AccumulatorOperator {
  return (collection, expr, options) => {
    let best: unknown;
    for (const value of push(collection, expr, options) as unknown[]) {
      if (isNullish(value)) continue;
      if (best === undefined || sign * compareViewValues(value, best) > 0) best = value;
    }
    return best ?? null;
  };
}

function standardDeviation(sampled: boolean): AccumulatorOperator {
  return (collection, expr, options) => {
    const values = numbersOf(collection, expr, options).map(toDouble);
    const n = values.length;
    if (n === 0 || (sampled && n === 1)) return null;
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const squares = values.reduce((a, b) => a + (b - mean) * (b - mean), 0);
    return viewDouble(Math.sqrt(squares / (sampled ? n - 1 : n)));
  };
}

/** Typed accumulators; the others are mingo's (they pass values through). */
export const typedAccumulatorOperators: Readonly<Record<string, AccumulatorOperator>> = {
  $sum,
  $avg,
  $max: extreme(1),
  $min: extreme(-1),
  $stdDevPop: standardDeviation(false),
  $stdDevSamp: standardDeviation(true),
};

/** Typed expression operators; the others are mingo's. */
export const typedExpressionOperators: Readonly<Record<string, ExpressionOperator>> = {
  ...adapted(),
  $add,
  $subtract,
  $multiply,
  $divide,
  $mod,
  $abs: unaryNumber("$abs", absNumber),
  $ceil: integralPart("$ceil", 1),
  $floor: integralPart("$floor", -1),
  $round: rounding("$round"),
  $trunc: rounding("$trunc"),
  $bitAnd: bitwise("$bitAnd", (a, b) => a & b, -1n),
  $bitOr: bitwise("$bitOr", (a, b) => a | b, 0n),
  $bitXor: bitwise("$bitXor", (a, b) => a ^ b, 0n),
  $bitNot,
  $cmp: comparison("$cmp", (c) => c),
  $eq: comparison("$eq", (c) => c === 0),
  $ne: comparison("$ne", (c) => c !== 0),
  $gt: comparison("$gt", (c) => c > 0),
  $gte: comparison("$gte", (c) => c >= 0),
  $lt: comparison("$lt", (c) => c < 0),
  $lte: comparison("$lte", (c) => c <= 0),
  $and,
  $or,
  $not,
  $cond,
  $switch,
  $filter,
  [TRUTHY]: truthyOperator,
  $in,
  $toInt: converter("$toInt", toIntValue),
  $toLong: converter("$toLong", toLongValue),
  $toDouble: converter("$toDouble", toDoubleValue),
  $toDecimal: converter("$toDecimal", toDecimalValue),
  $toBool: converter("$toBool", toBoolValue),
  $toString: converter("$toString", toStringValue),
  $toObjectId: converter("$toObjectId", toObjectIdValue),
  $toDate: converter("$toDate", toDateValue),
  $convert,
  $type,
  $isNumber,
  $strLenBytes,
  $week,
  $isoWeekYear,
  $dateToString,
};
