/**
 * MongoDB query semantics for typed documents: mingo evaluates the filter on
 * the promoted view of the document (see promote.ts), with `$type` replaced by
 * an implementation that looks at the typed original. Operators mingo does not
 * know, and malformed filters, throw an `EngineError` (2, BadValue) naming the
 * problem instead of silently matching nothing.
 */
import { Context } from "mingo";
import { evalExpr } from "mingo/core";
import * as accumulatorOperators from "mingo/operators/accumulator";
import * as expressionOperators from "mingo/operators/expression";
import * as queryOperators from "mingo/operators/query";
import { Query } from "mingo/query";
import type { Options } from "mingo/types";
import type { Document } from "bson";
import { bsonTag, compareValues, keyString, typeRank } from "./compare.ts";
import { originalOf, PromotedBinary, PromotedTimestamp, toPromoted, toPromotedFields } from "./promote.ts";
import { bsonTypeName } from "./bson-type-name.ts";
import { isTruthy, typedAccumulatorOperators, typedExpressionOperators } from "./expression-operators.ts";
import { toExpressionView } from "./expression-view.ts";
import { compileJsonSchema } from "./json-schema.ts";
import { EngineError } from "./types.ts";
import type { StoredDoc } from "./types.ts";

export { bsonTypeName };

/**
 * A compiled filter. `promoted` gives the document's promoted view where the
 * caller caches one; it is called only by filters that need the view, so a
 * scan with a simple (or empty) filter promotes, and keeps, nothing.
 */
export type DocPredicate = (doc: StoredDoc, promoted?: () => unknown) => boolean;

const TYPE_ALIASES = new Map<string | number, string>([
  ["double", "double"],
  [1, "double"],
  ["string", "string"],
  [2, "string"],
  ["object", "object"],
  [3, "object"],
  ["array", "array"],
  [4, "array"],
  ["binData", "binData"],
  [5, "binData"],
  ["undefined", "undefined"],
  [6, "undefined"],
  ["objectId", "objectId"],
  [7, "objectId"],
  ["bool", "bool"],
  [8, "bool"],
  ["date", "date"],
  [9, "date"],
  ["null", "null"],
  [10, "null"],
  ["regex", "regex"],
  [11, "regex"],
  ["dbPointer", "dbPointer"],
  [12, "dbPointer"],
  ["javascript", "javascript"],
  [13, "javascript"],
  ["symbol", "symbol"],
  [14, "symbol"],
  ["int", "int"],
  [16, "int"],
  ["timestamp", "timestamp"],
  [17, "timestamp"],
  ["long", "long"],
  [18, "long"],
  ["decimal", "decimal"],
  [19, "decimal"],
  ["minKey", "minKey"],
  [-1, "minKey"],
  ["maxKey", "maxKey"],
  [127, "maxKey"],
  ["number", "number"],
]);

const NUMERIC_TYPES = new Set(["double", "int", "long", "decimal"]);

/** Thrown (inside mingo) when `$type` meets a number whose width is lost. */
const AMBIGUOUS = "ambiguous";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    bsonTag(value) === undefined &&
    !(value instanceof Date) &&
    !(value instanceof RegExp) &&
    !(value instanceof PromotedBinary) &&
    !(value instanceof PromotedTimestamp)
  );
}

/** Values a dotted path reaches, MongoDB style (arrays are traversed; a leaf array also yields its elements). */
function valuesAt(node: unknown, path: readonly string[], at: number, out: unknown[]): void {
  if (typeof node === "object" && node !== null) {
    const original = originalOf(node);
    if (original !== undefined) node = original;
  }
  if (at === path.length) {
    out.push(node);
    if (Array.isArray(node)) out.push(...(node as unknown[]));
    return;
  }
  const field = path[at] as string;
  if (Array.isArray(node)) {
    if (/^\d+$/.test(field)) valuesAt(node[Number(field)], path, at + 1, out);
    for (const element of node as unknown[]) {
      if (
        isPlainObject(element) ||
        (typeof element === "object" && element !== null && originalOf(element) !== undefined && !Array.isArray(element))
      ) {
        valuesAt(element, path, at, out);
      }
    }
    return;
  }
  if (isPlainObject(node) && Object.hasOwn(node, field)) valuesAt(node[field], path, at + 1, out);
}

function typeMatches(value: unknown, wanted: ReadonlySet<string>): boolean {
  const name = bsonTypeName(value);
  if (wanted.has(name)) return true;
  return wanted.has("number") && NUMERIC_TYPES.has(name);
}

/** `$type`, evaluated on the typed original of the promoted document. */
function typeOperator(selector: string, value: unknown): (obj: unknown) => boolean {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const wanted = new Set<string>();
  for (const t of list) {
    const name = typeof t === "string" || typeof t === "number" ? TYPE_ALIASES.get(t) : undefined;
    if (name === undefined) throw new EngineError(2, "BadValue", `Unknown type name alias: ${String(t)}`);
    wanted.add(name);
  }
  const path = selector.split(".");
  const widthMatters = [...wanted].some((t) => NUMERIC_TYPES.has(t));
  return (obj: unknown) => {
    const typedRoot = typeof obj === "object" && obj !== null && originalOf(obj) !== undefined;
    const values: unknown[] = [];
    valuesAt(obj, path, 0, values);
    return values.some((v) => {
      if (!typedRoot && widthMatters && typeof v === "number") throw new Error(AMBIGUOUS);
      return typeMatches(v, wanted);
    });
  };
}

/**
 * `$expr`: the expression is evaluated on the expression view of the typed
 * document (expression-view.ts), with the typed operators, so Longs compare
 * exactly and `let` variables are visible. Its operand was left in the
 * expression view by `promoteFilter`.
 */
function exprOperator(_selector: string, expr: unknown, options: Options): (obj: unknown) => boolean {
  return (obj: unknown) => {
    const typed = typeof obj === "object" && obj !== null ? originalOf(obj) : undefined;
    const view = toExpressionView(typed ?? obj) as Record<string, unknown>;
    return isTruthy(evalExpr(view, expr, options));
  };
}

/** The integer a value stands for, if it is one (non-integral numbers never match bit tests). */
function integralBits(value: unknown): bigint | undefined {
  const n = typeof value === "number" ? value : undefined;
  if (n === undefined || !Number.isInteger(n)) return undefined;
  return BigInt.asUintN(64, BigInt(n));
}

function bitMask(selector: string, operand: unknown): bigint {
  const bits = typeof operand === "object" && operand !== null ? toPromoted(operand) : operand;
  if (typeof bits === "number" && Number.isInteger(bits) && bits >= 0) return BigInt(bits);
  if (Array.isArray(bits) && bits.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b < 64)) {
    return (bits as number[]).reduce((mask, b) => mask | (1n << BigInt(b)), 0n);
  }
  throw new EngineError(2, "BadValue", `${selector} takes an Array, a number, or a BinData but received: ${String(bits)}`);
}

/** `$bitsAllSet` and its siblings: only integral numbers (as 64-bit two's complement) can match. */
function bitwiseOperator(test: (bits: bigint, mask: bigint) => boolean): (selector: string, operand: unknown) => (obj: unknown) => boolean {
  return (selector, operand) => {
    const mask = bitMask(selector, operand);
    const path = selector.split(".");
    return (obj) => {
      const values: unknown[] = [];
      valuesAt(obj, path, 0, values);
      return values.some((v) => {
        const bits = integralBits(typeof v === "object" && v !== null ? toPromoted(v) : v);
        return bits !== undefined && test(bits, mask);
      });
    };
  };
}

/** `$jsonSchema` in queries and validators, checked on the typed document. */
function jsonSchemaValidator(schema: Record<string, unknown>): (obj: unknown) => boolean {
  const check = compileJsonSchema(schema);
  return (obj) => {
    const typed = typeof obj === "object" && obj !== null ? originalOf(obj) : undefined;
    return check((typed ?? obj) as Document).length === 0;
  };
}

type ContextOps = NonNullable<Parameters<typeof Context.init>[0]>;

const context = Context.init({
  query: {
    ...queryOperators,
    $type: typeOperator,
    $expr: exprOperator,
    $bitsAllSet: bitwiseOperator((bits, mask) => (bits & mask) === mask),
    $bitsAnySet: bitwiseOperator((bits, mask) => (bits & mask) !== 0n),
    $bitsAllClear: bitwiseOperator((bits, mask) => (bits & mask) === 0n),
    $bitsAnyClear: bitwiseOperator((bits, mask) => (bits & mask) !== mask),
  } as unknown as ContextOps["query"],
  expression: { ...expressionOperators, ...typedExpressionOperators },
  accumulator: { ...accumulatorOperators, ...typedAccumulatorOperators },
} as ContextOps);

/**
 * The query view of a filter for mingo (promote.ts), except that `$expr`
 * operands (at the top and inside `$and`/`$or`/`$nor`) go into the
 * expression view, which keeps Long and Decimal128 literals exact.
 */
function promoteFilter(filter: Document): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filter) as [string, unknown][]) {
    if (key === "$expr") out[key] = toExpressionView(value);
    else if ((key === "$and" || key === "$or" || key === "$nor") && Array.isArray(value)) {
      out[key] = value.map((part: unknown) => (isPlainObject(part) ? promoteFilter(part) : toPromoted(part)));
    } else out[key] = toPromoted(value);
  }
  return out;
}

function badValue(error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message === AMBIGUOUS) {
    return new EngineError(
      2,
      "BadValue",
      "$type with a numeric width (int, long, double, decimal) is not supported on scalar array elements inside $elemMatch",
    );
  }
  return new EngineError(2, "BadValue", `unsupported or invalid query: ${message}`);
}

/** Filter fields MongoDB accepts that have no effect on matching. */
function withoutComment(filter: Document): Document {
  if (!Object.hasOwn(filter, "$comment")) return filter;
  const { $comment: _ignored, ...rest } = filter;
  return rest;
}

const SIMPLE_TAGS = new Set(["Int32", "Double", "Long", "Decimal128", "ObjectId", "Binary", "Timestamp"]);

/** Scalars whose MongoDB equality is exactly `compareValues(...) === 0` (no null, regex, arrays or documents). */
function isSimpleScalar(value: unknown): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "number":
    case "bigint":
      return true;
    case "object":
      if (value === null) return false;
      if (value instanceof Date) return true;
      return SIMPLE_TAGS.has(bsonTag(value) ?? "");
    default:
      return false;
  }
}

/** One condition on one top-level field: the field's value (undefined when missing) and whether it is present. */
type FieldTest = (values: readonly unknown[], present: boolean) => boolean;

function anyEqual(values: readonly unknown[], operands: readonly unknown[]): boolean {
  for (const x of values) for (const v of operands) if (compareValues(x, v) === 0) return true;
  return false;
}

/** Lists longer than this are hashed: a linear `$in` over thousands of values made each match O(list). */
const HASHED_LIST_MIN = 8;

/**
 * `(values) => some value equals some operand`, for `$in`/`$nin`. Long lists
 * are bucketed by `keyString` (equal exactly when `compareValues` says equal),
 * and a bucket hit is still confirmed with `compareValues`.
 */
function equalsAnyOf(operands: readonly unknown[]): (values: readonly unknown[]) => boolean {
  if (operands.length <= HASHED_LIST_MIN) return (values) => anyEqual(values, operands);
  const buckets = new Map<string, unknown[]>();
  for (const v of operands) {
    const k = keyString(v);
    const bucket = buckets.get(k);
    if (bucket === undefined) buckets.set(k, [v]);
    else bucket.push(v);
  }
  return (values) => {
    for (const x of values) {
      const bucket = buckets.get(keyString(x));
      if (bucket !== undefined && anyEqual([x], bucket)) return true;
    }
    return false;
  };
}

/** Some value of the same canonical type (MongoDB's type bracketing) compares as `accept` wants. */
function anyCompared(values: readonly unknown[], operand: unknown, accept: (c: number) => boolean): boolean {
  const rank = typeRank(operand);
  for (const x of values) if (typeRank(x) === rank && accept(compareValues(x, operand))) return true;
  return false;
}

function scalarTest(op: string, operand: unknown): FieldTest | null {
  const list = Array.isArray(operand) ? (operand as unknown[]) : null;
  switch (op) {
    case "$eq":
      return isSimpleScalar(operand) ? (values, present) => present && anyEqual(values, [operand]) : null;
    case "$ne":
      return isSimpleScalar(operand) ? (values, present) => !present || !anyEqual(values, [operand]) : null;
    case "$in": {
      if (list?.every(isSimpleScalar) !== true) return null;
      const inList = equalsAnyOf(list);
      return (values, present) => present && inList(values);
    }
    case "$nin": {
      if (list?.every(isSimpleScalar) !== true) return null;
      const inList = equalsAnyOf(list);
      return (values, present) => !present || !inList(values);
    }
    case "$gt":
      return isSimpleScalar(operand) ? (values, present) => present && anyCompared(values, operand, (c) => c > 0) : null;
    case "$gte":
      return isSimpleScalar(operand) ? (values, present) => present && anyCompared(values, operand, (c) => c >= 0) : null;
    case "$lt":
      return isSimpleScalar(operand) ? (values, present) => present && anyCompared(values, operand, (c) => c < 0) : null;
    case "$lte":
      return isSimpleScalar(operand) ? (values, present) => present && anyCompared(values, operand, (c) => c <= 0) : null;
    case "$exists":
      return typeof operand === "boolean" ? (_values, present) => present === operand : null;
    case "$not": {
      // `{$not: {<op>: v, ...}}`: the documents the operators do not all match, a missing field included.
      if (typeof operand !== "object" || operand === null || Array.isArray(operand) || bsonTag(operand) !== undefined) return null;
      if (operand instanceof Date || operand instanceof RegExp) return null;
      const inner = Object.entries(operand as Document).map(([innerOp, innerOperand]) =>
        innerOp === "$not" ? null : scalarTest(innerOp, innerOperand),
      );
      if (inner.length === 0 || inner.some((test) => test === null)) return null;
      const tests = inner as FieldTest[];
      return (values, present) => !tests.every((test) => test(values, present));
    }
    default:
      return null;
  }
}

/**
 * One condition of a simple filter on a document: true or false when it can
 * tell exactly, undefined when the document needs the full matcher (an array
 * or a BSON value on the way of a dotted path, whose traversal rules mingo
 * keeps).
 */
type DocCheck = (doc: StoredDoc) => boolean | undefined;

/**
 * `checks` combined: all must hold (`decisive` false: false as soon as one
 * fails) or one must (`decisive` true: true as soon as one holds); undefined
 * when no check decided and one could not tell.
 */
function combined(checks: readonly DocCheck[], decisive: boolean): DocCheck {
  if (checks.length === 1) return checks[0] as DocCheck;
  return (doc) => {
    let unknown = false;
    for (const check of checks) {
      const answer = check(doc);
      if (answer === decisive) return decisive;
      if (answer === undefined) unknown = true;
    }
    return unknown ? undefined : !decisive;
  };
}

/** A plain sub-document (what a dotted path descends into without the full matcher's array and BSON rules). */
function isPlainDocument(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && bsonTag(value) === undefined;
}

/**
 * `test` on the value at `field` (`a` or `a.b.c`). A leaf array yields its
 * elements, as on a top-level field. On the way of a dotted path, a missing
 * field, null or a scalar means the path is missing (MongoDB descends only
 * into documents and arrays); an array or any object other than a plain
 * document leaves the document to the full matcher.
 */
function fieldCheck(field: string, test: FieldTest): DocCheck | null {
  const path = field.split(".");
  if (path.some((part) => part === "" || part.startsWith("$"))) return null;
  const last = path.length - 1;
  const leaf = path[last] ?? field;
  return (doc) => {
    let node: Record<string, unknown> = doc;
    for (let i = 0; i < last; i++) {
      const key = path[i] ?? "";
      const next: unknown = Object.hasOwn(node, key) ? node[key] : undefined;
      if (typeof next !== "object" || next === null) return test([undefined], false);
      if (Array.isArray(next) || !isPlainDocument(next)) return undefined;
      node = next;
    }
    const present = Object.hasOwn(node, leaf);
    const actual: unknown = present ? node[leaf] : undefined;
    return test(Array.isArray(actual) ? actual : [actual], present);
  };
}

/**
 * A predicate for the commonest filters: comparisons of fields (top-level or
 * dotted) with scalars (`{_id: x}`, `{email: e, n: {$gte: 1, $lt: 9}}`,
 * `$in`, `$ne`, …), combined with `$and` and `$or`, evaluated exactly with
 * `compareValues` (so Longs beyond 2^53 compare exactly) and without building
 * a mingo query: a change stream's `{$or: [{"ns.coll": {$in: [...]}},
 * {operationType: ...}]}` costs a few property reads per event. MongoDB
 * semantics: an array field matches when one of its elements does, and
 * comparisons only match values of the operand's canonical type. A document
 * the checks cannot tell (see `fieldCheck`) goes to `full`; a filter with
 * anything else returns null (mingo).
 */
function simplePredicate(filter: Document, full: () => DocPredicate): DocPredicate | null {
  const checks: DocCheck[] = [];
  if (!collectSimpleChecks(filter, checks)) return null;
  const check = combined(checks, false);
  return (doc, promoted) => check(doc) ?? full()(doc, promoted);
}

/** A non-empty filter document (a part of `$and`/`$or`). */
function isFilterPart(part: unknown): part is Document {
  return typeof part === "object" && part !== null && !Array.isArray(part) && bsonTag(part) === undefined && Object.keys(part).length > 0;
}

/** Adds the checks of `filter` (its fields, `$and` of such filters, `$or` of them); false if anything is not simple. */
function collectSimpleChecks(filter: Document, checks: DocCheck[]): boolean {
  for (const [field, condition] of Object.entries(filter) as [string, unknown][]) {
    if ((field === "$and" || field === "$or") && Array.isArray(condition) && condition.length > 0) {
      const parts: DocCheck[] = [];
      for (const part of condition as unknown[]) {
        const partChecks: DocCheck[] = [];
        if (!isFilterPart(part) || !collectSimpleChecks(part, partChecks)) return false;
        parts.push(combined(partChecks, false));
      }
      if (field === "$and") checks.push(...parts);
      else checks.push(combined(parts, true));
      continue;
    }
    if (field.startsWith("$")) return false;
    if (isSimpleScalar(condition)) {
      const check = fieldCheck(field, (values, present) => present && anyEqual(values, [condition]));
      if (check === null) return false;
      checks.push(check);
      continue;
    }
    if (
      typeof condition !== "object" ||
      condition === null ||
      Array.isArray(condition) ||
      bsonTag(condition) !== undefined ||
      condition instanceof Date ||
      condition instanceof RegExp
    ) {
      return false;
    }
    const ops = Object.entries(condition) as [string, unknown][];
    if (ops.length === 0) return false;
    for (const [op, operand] of ops) {
      const test = scalarTest(op, operand);
      const check = test === null ? null : fieldCheck(field, test);
      if (check === null) return false;
      checks.push(check);
    }
  }
  return true;
}

/**
 * The top-level fields a filter reads (of `a.b`, `a`), or undefined when it
 * may read the whole document (`$expr`, `$jsonSchema`, or anything else
 * that is not a field or a logical operator over filters).
 */
export function topLevelFieldsRead(filter: Document, into = new Set<string>()): Set<string> | undefined {
  for (const [field, condition] of Object.entries(filter) as [string, unknown][]) {
    if (field === "$and" || field === "$or" || field === "$nor") {
      if (!Array.isArray(condition)) return undefined;
      for (const part of condition as unknown[]) {
        if (!isPlainObject(part) || topLevelFieldsRead(part, into) === undefined) return undefined;
      }
    } else if (field.startsWith("$")) {
      return undefined;
    } else {
      into.add(field.split(".", 1)[0] ?? field);
    }
  }
  return into;
}

/**
 * Compiles a filter once for many documents; `variables` are the command's
 * `let` variables, visible in `$expr` as `$$name`. Throws `EngineError` 2
 * (BadValue) for unknown operators or malformed operands.
 */
export function compileFilter(filter: Document, variables?: Document): DocPredicate {
  const cleaned = withoutComment(filter);
  if (Object.keys(cleaned).length === 0) return () => true;
  let full: DocPredicate | undefined;
  const simple = simplePredicate(cleaned, () => (full ??= mingoPredicate(cleaned, variables)));
  return simple ?? mingoPredicate(cleaned, variables);
}

/** `filter` (without `$comment`) as mingo evaluates it on the promoted view. */
function mingoPredicate(cleaned: Document, variables: Document | undefined): DocPredicate {
  let query: Query;
  try {
    const options =
      variables === undefined
        ? { context, jsonSchemaValidator }
        : { context, jsonSchemaValidator, variables: toExpressionView(variables) as Record<string, unknown> };
    query = new Query(promoteFilter(cleaned), options);
  } catch (error) {
    throw badValue(error);
  }
  // Only the fields the filter reads are promoted: a change-stream event filtered on `ns` need not promote its fullDocument.
  const read = topLevelFieldsRead(cleaned);
  const fields = read === undefined ? undefined : [...read];
  return (doc, promoted) => {
    try {
      return query.test(
        (promoted?.() ?? (fields === undefined ? toPromoted(doc) : toPromotedFields(doc, fields))) as Record<string, unknown>,
      );
    } catch (error) {
      throw badValue(error);
    }
  };
}

/** Whether a typed document matches a filter, with MongoDB query semantics. */
export function matches(doc: StoredDoc, filter: Document, variables?: Document): boolean {
  return compileFilter(filter, variables)(doc);
}
