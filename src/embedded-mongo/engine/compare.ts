/**
 * MongoDB's total order over BSON values, and a string form of a value whose
 * equality is exactly `compareValues(a, b) === 0`. Both work on the typed values
 * the engine stores (Int32, Double, Long, Decimal128, …) as well as on plain JS
 * numbers, bigints, strings, Dates and RegExps.
 */
import type { Binary, BSONRegExp, Decimal128, Long, ObjectId, Timestamp } from "bson";

/** The `_bsontype` tag of a bson wrapper, or undefined for plain JS values. */
export function bsonTag(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === "string" ? tag : undefined;
}

/**
 * Canonical type rank, as MongoDB orders types when comparing values of
 * different types (numbers of every width share one rank, as do string and
 * symbol; null, undefined and a missing field share one too).
 */
export function typeRank(value: unknown): number {
  if (value === null || value === undefined) return 5;
  switch (typeof value) {
    case "number":
    case "bigint":
      return 10;
    case "string":
      return 15;
    case "boolean":
      return 40;
    case "object":
      break;
    default:
      return 200;
  }
  if (Array.isArray(value)) return 25;
  if (value instanceof Date) return 45;
  if (value instanceof RegExp) return 50;
  switch (bsonTag(value)) {
    case undefined:
      return 20;
    case "MinKey":
      return 1;
    case "Int32":
    case "Double":
    case "Long":
    case "Decimal128":
      return 10;
    case "BSONSymbol":
      return 15;
    case "Binary":
      return 30;
    case "ObjectId":
      return 35;
    case "Timestamp":
      return 47;
    case "BSONRegExp":
      return 50;
    case "DBRef":
      return 55;
    case "Code":
      return 60;
    case "MaxKey":
      return 100;
    default:
      return 20;
  }
}

/** Rank of the numeric type bracket (for range scans). */
export const NUMBER_RANK = 10;

/**
 * The numeric value of a number-like value: a JS number, or a bigint when a
 * Long does not fit a double exactly. Decimal128 goes through a double (lossy
 * beyond 15 significant digits; a documented limit).
 */
export function numericValue(value: unknown): number | bigint {
  if (typeof value === "number" || typeof value === "bigint") return value;
  switch (bsonTag(value)) {
    case "Int32":
    case "Double":
      return (value as { value: number }).value;
    case "Long": {
      const long = value as Long;
      const n = long.toNumber();
      return Number.isSafeInteger(n) ? n : long.toBigInt();
    }
    case "Decimal128":
      return Number((value as Decimal128).toString());
    default:
      return Number.NaN;
  }
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === "number" && typeof b === "number") {
    const aNaN = Number.isNaN(a);
    const bNaN = Number.isNaN(b);
    if (aNaN || bNaN) return aNaN && bNaN ? 0 : aNaN ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number") return compareDoubleToBigint(a, b as bigint);
  return -compareDoubleToBigint(b as number, a);
}

/** Exact comparison of a double with a bigint (no rounding of the bigint). */
function compareDoubleToBigint(x: number, y: bigint): number {
  if (Number.isNaN(x)) return -1;
  if (x === Number.POSITIVE_INFINITY) return 1;
  if (x === Number.NEGATIVE_INFINITY) return -1;
  const whole = Math.trunc(x);
  const big = BigInt(whole);
  if (big !== y) return big < y ? -1 : 1;
  const fraction = x - whole;
  return fraction > 0 ? 1 : fraction < 0 ? -1 : 0;
}

/**
 * Compares strings by Unicode code point, which is the order of their UTF-8
 * bytes (MongoDB's binary comparison), unlike JS `<` on UTF-16 code units.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca < cb ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function stringValue(value: unknown): string {
  return typeof value === "string" ? value : String((value as { value: unknown }).value);
}

function binaryBytes(value: Binary): Uint8Array {
  return value.buffer.subarray(0, value.position);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function regexParts(value: unknown): [string, string] {
  if (value instanceof RegExp) return [value.source, value.flags];
  const re = value as BSONRegExp;
  return [re.pattern, re.options];
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

/**
 * MongoDB's comparison order across BSON types: MinKey < null/undefined/missing
 * < numbers (by value, whatever their width) < strings < objects < arrays <
 * BinData < ObjectId < booleans < Dates < Timestamps < RegExps < MaxKey.
 * Objects compare field by field (type, then name, then value); arrays element
 * by element. Returns -1, 0 or 1.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case 5:
    case 100:
      return 0;
    case 10:
      return compareNumbers(numericValue(a), numericValue(b));
    case 15:
      return compareStrings(stringValue(a), stringValue(b));
    case 20:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case 25:
      return compareArrays(a as unknown[], b as unknown[]);
    case 30: {
      const x = a as Binary;
      const y = b as Binary;
      const bx = binaryBytes(x);
      const by = binaryBytes(y);
      if (bx.length !== by.length) return bx.length < by.length ? -1 : 1;
      if (x.sub_type !== y.sub_type) return x.sub_type < y.sub_type ? -1 : 1;
      return compareBytes(bx, by);
    }
    case 35:
      return compareObjectIds(a as ObjectId, b as ObjectId);
    case 40:
      return a === b ? 0 : a === false ? -1 : 1;
    case 45: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return compareNumbers(x, y);
    }
    case 47: {
      const x = a as Timestamp;
      const y = b as Timestamp;
      if (x.t !== y.t) return x.t < y.t ? -1 : 1;
      return x.i < y.i ? -1 : x.i > y.i ? 1 : 0;
    }
    case 50: {
      const [pa, fa] = regexParts(a);
      const [pb, fb] = regexParts(b);
      return compareStrings(pa, pb) || compareStrings(fa, fb);
    }
    default:
      return compareStrings(keyString(a), keyString(b));
  }
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const fa = ka[i] as string;
    const fb = kb[i] as string;
    const va = a[fa];
    const vb = b[fb];
    const ra = typeRank(va);
    const rb = typeRank(vb);
    if (ra !== rb) return ra < rb ? -1 : 1;
    const byName = compareStrings(fa, fb);
    if (byName !== 0) return byName;
    const byValue = compareValues(va, vb);
    if (byValue !== 0) return byValue;
  }
  return ka.length < kb.length ? -1 : ka.length > kb.length ? 1 : 0;
}

function compareArrays(a: readonly unknown[], b: readonly unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** bson 7 keeps an ObjectId as four 24-bit integers; comparing them avoids building hex strings. */
interface PackedObjectId {
  readonly i0?: unknown;
  readonly i1?: unknown;
  readonly i2?: unknown;
  readonly i3?: unknown;
}

function compareObjectIds(a: ObjectId, b: ObjectId): number {
  const x = a as unknown as PackedObjectId;
  const y = b as unknown as PackedObjectId;
  if (
    typeof x.i0 === "number" &&
    typeof x.i1 === "number" &&
    typeof x.i2 === "number" &&
    typeof x.i3 === "number" &&
    typeof y.i0 === "number" &&
    typeof y.i1 === "number" &&
    typeof y.i2 === "number" &&
    typeof y.i3 === "number"
  ) {
    if (x.i0 !== y.i0) return x.i0 < y.i0 ? -1 : 1;
    if (x.i1 !== y.i1) return x.i1 < y.i1 ? -1 : 1;
    if (x.i2 !== y.i2) return x.i2 < y.i2 ? -1 : 1;
    return x.i3 < y.i3 ? -1 : x.i3 > y.i3 ? 1 : 0;
  }
  return sign(compareStrings(a.toHexString(), b.toHexString()));
}

/** Compares index keys (tuples of values) component by component. */
export function compareKeys(a: readonly unknown[], b: readonly unknown[]): number {
  return compareArrays(a, b);
}

/** Compares the first `n` components of two keys (both at least that long, or shorter ones sort first). */
export function comparePrefix(a: readonly unknown[], b: readonly unknown[], n: number): number {
  for (let i = 0; i < n; i++) {
    if (i >= a.length || i >= b.length) return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function numberKey(value: number | bigint): string {
  if (typeof value === "bigint") return value.toString();
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return BigInt(value).toString();
  return String(value);
}

/**
 * A string that is equal for two values exactly when `compareValues` says they
 * are equal (so `Int32(5)`, `Long(5)` and `5.0` share one), for hash maps of
 * `_id`s and unique-index keys.
 */
export function keyString(value: unknown): string {
  switch (typeRank(value)) {
    case 1:
      return "-";
    case 5:
      return "z";
    case 10:
      return `n${numberKey(numericValue(value))}`;
    case 15:
      return `s${JSON.stringify(stringValue(value))}`;
    case 20: {
      const obj = value as Record<string, unknown>;
      const parts = Object.keys(obj).map((k) => `${JSON.stringify(k)}:${keyString(obj[k])}`);
      return `{${parts.join(",")}}`;
    }
    case 25:
      return `[${(value as unknown[]).map(keyString).join(",")}]`;
    case 30: {
      const bin = value as Binary;
      return `b${bin.sub_type}:${hex(binaryBytes(bin))}`;
    }
    case 35:
      return `o${(value as ObjectId).toHexString()}`;
    case 40:
      return value === true ? "t" : "f";
    case 45:
      return `d${(value as Date).getTime()}`;
    case 47: {
      const ts = value as Timestamp;
      return `T${ts.t}:${ts.i}`;
    }
    case 50: {
      const [p, f] = regexParts(value);
      return `r${JSON.stringify(p)}/${f}`;
    }
    case 100:
      return "+";
    default: {
      const tag = bsonTag(value) ?? typeof value;
      return `x${tag}:${JSON.stringify(String(value))}`;
    }
  }
}
