/**
 * Index selection for `Transaction.find`: turns the indexable parts of a
 * filter (equality, `$in`, and range predicates on fields, also inside a
 * top-level `$and` and on the sub-fields an `$elemMatch` names) into key
 * intervals on the best index; for an `$or` whose every branch has a usable
 * index (with the predicates around the `$or` pushed into each branch), into
 * an index union, as MongoDB's planner does. A plan only narrows the
 * candidates; every candidate is still checked against the whole filter, so
 * a plan can never change the answer, only its cost.
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
          case "$elemMatch":
            // An element matching {sub: cond} has its `field.sub` key in a multikey index on that path.
            if (isDocument(operand)) {
              for (const [sub, cond] of Object.entries(operand) as [string, unknown][]) {
                if (!sub.startsWith("$")) addConstraints({ [`${field}.${sub}`]: cond }, out);
              }
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
 * Whether every document a filter with `constraints` admits is in a partial
 * index with the filter `partial`. The one form recognised is
 * `{field: {$exists: true}}`, implied by a bound or by non-null points on
 * that field (MongoDB's planner proves more): the expiry sweeper's
 * `{expireTime: {$lte: now}}` then reads the memberships that expire, not
 * every membership.
 */
function impliesPartialFilter(partial: Document | undefined, constraints: ReadonlyMap<string, FieldConstraint>): boolean {
  const entries = partial === undefined ? [] : Object.entries(partial);
  if (entries.length !== 1) return false;
  const [field, condition] = entries[0] as [string, unknown];
  if (!isOperatorObject(condition) || Object.keys(condition).length !== 1 || condition["$exists"] !== true) return false;
  const c = constraints.get(field);
  if (c === undefined) return false;
  return c.lower !== undefined || c.upper !== undefined || (c.points !== undefined && c.points.every((point) => point !== null));
}

/** Every single-index plan for `filter`, with the heuristic score that ranks them. */
function indexPlans<I extends PlannableIndex>(filter: Document, candidates: readonly I[]): { plan: QueryPlan<I>; score: number }[] {
  const constraints = new Map<string, FieldConstraint>();
  addConstraints(filter, constraints);
  if (constraints.size === 0) return [];
  const out: { plan: QueryPlan<I>; score: number }[] = [];
  for (const candidate of candidates) {
    const index = candidate.def;
    // A partial index may lack matching documents unless the filter implies its own; collated ones hold folded strings.
    if (
      (index.partial !== undefined && !impliesPartialFilter(index.spec.partialFilterExpression, constraints)) ||
      index.collation !== undefined
    ) {
      continue;
    }
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
    const intervals = prefixes.map((prefix) => (range === undefined ? { prefix } : { prefix, range }));
    out.push({ plan: { index: candidate, intervals }, score });
  }
  return out;
}

/**
 * The best single-index plan for `filter` over `indexes` by the heuristic
 * score, or null for a full scan. Partial indexes only when the filter
 * implies theirs (`impliesPartialFilter`); sparse ones not for null lookups.
 */
export function planQuery<I extends PlannableIndex>(filter: Document, candidates: readonly I[]): QueryPlan<I> | null {
  let best: { plan: QueryPlan<I>; score: number } | null = null;
  for (const option of indexPlans(filter, candidates)) if (best === null || option.score > best.score) best = option;
  return best?.plan ?? null;
}

/** A plan for `Transaction.find`: one index's intervals, or the union of branch plans. */
export type FindPlan<I extends PlannableIndex = PlannableIndex> =
  | { readonly kind: "index"; readonly plan: QueryPlan<I> }
  | { readonly kind: "union"; readonly branches: readonly FindPlan<I>[] };

/**
 * Index keys `plan` would examine, counted no further than `cap` (the cost of
 * the best plan so far), so costing a bad plan is never dearer than running
 * the good one. Supplied by the caller, which owns the index entries.
 */
export type PlanCost<I extends PlannableIndex> = (plan: QueryPlan<I>, cap: number) => number;

/** An `$or` among the conjuncts of a filter, with the other conjuncts it is and-ed with. */
interface OrClause {
  readonly branches: readonly Document[];
  readonly rest: readonly Document[];
}

function isDocument(value: unknown): value is Document {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    bsonTag(value) === undefined &&
    !(value instanceof Date) &&
    !(value instanceof RegExp)
  );
}

/** The filter as a list of one-condition documents, with `$and`s flattened. */
function conjuncts(filter: Document, out: Document[] = []): Document[] {
  for (const [key, value] of Object.entries(filter) as [string, unknown][]) {
    if (key === "$and" && Array.isArray(value) && value.every(isDocument)) {
      for (const part of value) conjuncts(part, out);
    } else {
      out.push({ [key]: value });
    }
  }
  return out;
}

/** The `$or`s of `filter`'s own conjuncts (not of the branches of other `$or`s). */
function orClauses(filter: Document, pushdown: readonly Document[]): OrClause[] {
  const parts = conjuncts(filter);
  const out: OrClause[] = [];
  parts.forEach((part, i) => {
    const branches: unknown = part["$or"];
    if (!Array.isArray(branches) || branches.length === 0 || !branches.every(isDocument)) return;
    out.push({ branches: branches, rest: [...pushdown, ...parts.filter((_, j) => j !== i)] });
  });
  return out;
}

/** Upper bound on the plans costed for one find, so a filter with many `$or`s cannot make planning expensive. */
const MAX_PLANS = 64;

/** A plan with the number of index keys it examines. */
export interface Costed<I extends PlannableIndex> {
  readonly plan: FindPlan<I>;
  readonly cost: number;
}

class UnionPlanner<I extends PlannableIndex> {
  #budget = MAX_PLANS;
  constructor(
    private readonly candidates: readonly I[],
    private readonly costOf: PlanCost<I>,
  ) {}

  /** The cheapest plan below `cap` for `filter` and-ed with `pushdown`: a single index, or a union over one of its own `$or`s. */
  best(filter: Document, pushdown: readonly Document[], cap: number): Costed<I> | null {
    const combined = pushdown.length === 0 ? filter : { $and: [...pushdown, filter] };
    let best = this.cheapestSingle(
      indexPlans(combined, this.candidates).map((option) => option.plan),
      cap,
    );
    for (const clause of orClauses(filter, pushdown)) {
      const union = this.union(clause, best?.cost ?? cap);
      if (union !== null) best = union;
    }
    return best;
  }

  /**
   * The single-index plan examining the fewest keys, if below `cap`. Costed
   * in rounds with a growing limit, so finding a plan that examines k keys
   * never walks much more than k keys of any other index.
   */
  cheapestSingle(plans: readonly QueryPlan<I>[], cap: number): Costed<I> | null {
    for (let limit = Math.min(64, cap); ; limit = Math.min(limit * 8, cap)) {
      let best: Costed<I> | null = null;
      for (const plan of plans) {
        if (this.#budget-- <= 0) return best;
        const bound = best?.cost ?? limit;
        const cost = this.costOf(plan, bound);
        if (cost < bound) best = { plan: { kind: "index", plan }, cost };
      }
      if (best !== null || limit >= cap) return best;
    }
  }

  /** A union of the branches' best plans, if every branch has one and together they cost less than `cap`. */
  union(clause: OrClause, cap: number): Costed<I> | null {
    const branches: FindPlan<I>[] = [];
    let total = 0;
    for (const branch of clause.branches) {
      const planned = this.best(branch, clause.rest, cap - total);
      if (planned === null) return null;
      total += planned.cost;
      if (total >= cap) return null;
      branches.push(planned.plan);
    }
    return { plan: { kind: "union", branches }, cost: total };
  }
}

/**
 * The cheapest index union over one of the filter's own `$or`s, examining
 * fewer than `cap` keys, with that number; null when there is none.
 */
export function cheapestUnion<I extends PlannableIndex>(
  filter: Document,
  candidates: readonly I[],
  costOf: PlanCost<I>,
  cap: number,
): Costed<I> | null {
  const clauses = orClauses(filter, []);
  if (clauses.length === 0) return null;
  const planner = new UnionPlanner(candidates, costOf);
  let best: Costed<I> | null = null;
  for (const clause of clauses) {
    const union = planner.union(clause, best?.cost ?? cap);
    if (union !== null) best = union;
  }
  return best;
}

/**
 * The plan `Transaction.find` runs: the heuristic single-index plan, unless
 * the filter has an `$or` every branch of which can use an index and whose
 * union examines fewer keys (then an index union, each branch with the
 * cheapest of its indexes and the conditions around the `$or` pushed down).
 * `fullScan` is the cost of scanning the collection. Null for a full scan.
 */
export function planFind<I extends PlannableIndex>(
  filter: Document,
  candidates: readonly I[],
  costOf: PlanCost<I>,
  fullScan: number,
): FindPlan<I> | null {
  const single = planQuery(filter, candidates);
  const best = cheapestUnion(filter, candidates, costOf, fullScan + 1);
  if (single === null) return best?.plan ?? null;
  if (best === null) return { kind: "index", plan: single };
  // Costed last, against the union's cost, so a poor single-index plan is never walked to its end; a tie keeps the single index.
  return costOf(single, best.cost + 1) <= best.cost ? { kind: "index", plan: single } : best.plan;
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
