/**
 * Index selection for `Transaction.find`: turns the indexable parts of a filter
 * (equality, `$in`, and range predicates on top-level fields, also inside a
 * top-level `$and`) into key intervals on the best index. The plan only narrows
 * the candidates; every candidate is still checked against the whole filter,
 * so a plan can never change the answer, only its cost.
 */
import type { Document } from "bson";
import { bsonTag, comparePrefix, compareValues, keyString, typeRank } from "./compare.ts";
import type { IndexDef } from "./index-keys.ts";

interface Bound {
  readonly value: unknown;
  readonly inclusive: boolean;
}

interface FieldConstraint {
  points?: unknown[];
  lower?: Bound;
  upper?: Bound;
}

/** A contiguous run of index keys: an equality prefix, then an optional range on the next field. */
export interface KeyInterval {
  readonly prefix: readonly unknown[];
  readonly range?: { readonly rank: number; readonly lower?: Bound; readonly upper?: Bound };
}

/** What the planner needs to know about an index. */
export interface PlannableIndex {
  readonly def: IndexDef;
  /** True once an indexed field held an array: bounds on one field are then not intersected. */
  readonly multikey: boolean;
}

export interface QueryPlan<I extends PlannableIndex = PlannableIndex> {
  readonly index: I;
  readonly intervals: readonly KeyInterval[];
}

/**
 * Bound on the point combinations (the cross product of several `$in`s) a plan
 * materialises. One field's own list is always usable whatever its length: its
 * intervals are linear in the query, while falling back to a shorter prefix made
 * `{groupId, member: {$in: [2,000 members]}}` scan the whole group every time.
 */
const MAX_POINTS = 100_000;

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || bsonTag(value) !== undefined) return false;
  if (value instanceof Date || value instanceof RegExp) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith("$"));
}

/** Values usable as exact index points: no regexes, arrays or operator documents. */
function isPointValue(value: unknown): boolean {
  if (value === undefined || Array.isArray(value) || value instanceof RegExp) return false;
  const tag = bsonTag(value);
  if (tag === "BSONRegExp" || tag === "MinKey" || tag === "MaxKey") return false;
  return !isOperatorObject(value);
}

function mergePoints(existing: unknown[] | undefined, next: unknown[]): unknown[] {
  if (existing === undefined) return next;
  const keep = new Set(next.map(keyString));
  return existing.filter((v) => keep.has(keyString(v)));
}

function tighterLower(a: Bound | undefined, b: Bound): Bound {
  if (a === undefined || typeRank(a.value) !== typeRank(b.value)) return a ?? b;
  const c = compareValues(a.value, b.value);
  return c > 0 || (c === 0 && !a.inclusive) ? a : b;
}

function tighterUpper(a: Bound | undefined, b: Bound): Bound {
  if (a === undefined || typeRank(a.value) !== typeRank(b.value)) return a ?? b;
  const c = compareValues(a.value, b.value);
  return c < 0 || (c === 0 && !a.inclusive) ? a : b;
}

function addConstraints(filter: Document, out: Map<string, FieldConstraint>): void {
  for (const [field, condition] of Object.entries(filter)) {
    if (field === "$and" && Array.isArray(condition)) {
      for (const part of condition as unknown[]) {
        if (typeof part === "object" && part !== null && !Array.isArray(part)) addConstraints(part, out);
      }
      continue;
    }
    if (field.startsWith("$")) continue;
    const c = out.get(field) ?? {};
    if (isOperatorObject(condition)) {
      for (const [op, operand] of Object.entries(condition)) {
        switch (op) {
          case "$eq":
            if (isPointValue(operand)) c.points = mergePoints(c.points, [operand]);
            break;
          case "$in":
            if (Array.isArray(operand) && (operand as unknown[]).every(isPointValue)) {
              c.points = mergePoints(c.points, operand as unknown[]);
            }
            break;
          case "$gt":
          case "$gte":
            if (isPointValue(operand) && operand !== null) {
              c.lower = tighterLower(c.lower, { value: operand, inclusive: op === "$gte" });
            }
            break;
          case "$lt":
          case "$lte":
            if (isPointValue(operand) && operand !== null) {
              c.upper = tighterUpper(c.upper, { value: operand, inclusive: op === "$lte" });
            }
            break;
          default:
            break;
        }
      }
    } else if (isPointValue(condition)) {
      c.points = mergePoints(c.points, [condition]);
    }
    if (c.points !== undefined || c.lower !== undefined || c.upper !== undefined) out.set(field, c);
  }
}

function rangeOf(c: FieldConstraint, multikey: boolean): KeyInterval["range"] | undefined {
  const { lower } = c;
  // On a multikey index {$gt: 1, $lt: 6} may be met by two different elements: scan one side only.
  const upper = multikey && lower !== undefined ? undefined : c.upper;
  if (lower === undefined && upper === undefined) return undefined;
  // MongoDB's type bracketing: {$gt: 5} only ever matches numbers.
  if (lower !== undefined && upper !== undefined && typeRank(lower.value) !== typeRank(upper.value)) {
    return { rank: typeRank(lower.value), lower };
  }
  const rank = typeRank((lower ?? upper)?.value);
  return { rank, ...(lower === undefined ? {} : { lower }), ...(upper === undefined ? {} : { upper }) };
}

/**
 * The cheapest plan for `filter` over `indexes`, or null for a full scan.
 * Partial indexes are never used; sparse ones not for null lookups.
 */
export function planQuery<I extends PlannableIndex>(filter: Document, candidates: readonly I[]): QueryPlan<I> | null {
  const constraints = new Map<string, FieldConstraint>();
  addConstraints(filter, constraints);
  if (constraints.size === 0) return null;
  let best: { plan: QueryPlan<I>; score: number } | null = null;
  for (const candidate of candidates) {
    const index = candidate.def;
    if (index.partial !== undefined) continue;
    let prefixes: unknown[][] = [[]];
    let range: KeyInterval["range"] | undefined;
    let eqFields = 0;
    for (const field of index.fields) {
      const c = constraints.get(field);
      if (c === undefined) break;
      if (c.points !== undefined) {
        if (index.sparse && c.points.some((p) => p === null)) break;
        if (prefixes.length > 1 && prefixes.length * c.points.length > MAX_POINTS) break;
        const next: unknown[][] = [];
        for (const prefix of prefixes) for (const p of c.points) next.push([...prefix, p]);
        prefixes = next;
        eqFields++;
        continue;
      }
      range = rangeOf(c, candidate.multikey);
      break;
    }
    if (eqFields === 0 && range === undefined) continue;
    let score = eqFields * 4 + (range === undefined ? 0 : 1);
    if (index.unique && eqFields === index.fields.length) score += 2;
    if (index.spec.name === "_id_") score += 1;
    if (best === null || score > best.score) {
      const intervals = prefixes.map((prefix) => (range === undefined ? { prefix } : { prefix, range }));
      best = { plan: { index: candidate, intervals }, score };
    }
  }
  return best?.plan ?? null;
}

/** Whether key `key` is at or after the start of `interval`. */
export function atOrAfterStart(key: readonly unknown[], interval: KeyInterval): boolean {
  const n = interval.prefix.length;
  const c = comparePrefix(key, interval.prefix, n);
  if (c !== 0) return c > 0;
  const range = interval.range;
  if (range === undefined) return true;
  const v = key[n];
  if (range.lower === undefined) return typeRank(v) >= range.rank;
  const cmp = compareValues(v, range.lower.value);
  return range.lower.inclusive ? cmp >= 0 : cmp > 0;
}

/** Whether key `key` (at or after the start) is past the end of `interval`. */
export function pastEnd(key: readonly unknown[], interval: KeyInterval): boolean {
  const n = interval.prefix.length;
  if (comparePrefix(key, interval.prefix, n) !== 0) return true;
  const range = interval.range;
  if (range === undefined) return false;
  const v = key[n];
  if (typeRank(v) > range.rank) return true;
  if (range.upper === undefined) return false;
  const cmp = compareValues(v, range.upper.value);
  return range.upper.inclusive ? cmp > 0 : cmp >= 0;
}
