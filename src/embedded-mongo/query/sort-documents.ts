/**
 * `sort` for find and findAndModify, on unpromoted documents: MongoDB's
 * cross-type order, missing fields as null, arrays by their smallest
 * (ascending) or largest (descending) element.
 */
import type { Document } from "bson";
import { collatedComparator, compareValues, type Collation } from "../bson-values.ts";
import { toNumber } from "../bson-numbers.ts";
import { collectPathValues, isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";

export type SortSpec =
  | { readonly kind: "fields"; readonly fields: readonly (readonly [segments: string[], direction: 1 | -1])[] }
  | { readonly kind: "natural"; readonly direction: 1 | -1 };

export function parseSort(spec: unknown): SortSpec | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec)) throw commandError("TypeMismatch", `Expected field sort to be of type object, got ${describeValue(spec)}`);
  const entries = Object.entries(spec);
  if (entries.length === 0) return undefined;
  const fields: [string[], 1 | -1][] = [];
  for (const [field, value] of entries) {
    if (isPlainObject(value)) {
      throw commandError("BadValue", `$sort by ${describeValue(value)} on '${field}' is not supported by the embedded server`);
    }
    const direction = toNumber(value);
    if (direction !== 1 && direction !== -1) {
      throw commandError("BadValue", "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
    }
    if (field === "$natural") {
      if (entries.length > 1) throw commandError("BadValue", "$natural sort cannot be combined with other fields");
      return { kind: "natural", direction };
    }
    fields.push([field.split("."), direction]);
  }
  return { kind: "fields", fields };
}

function sortKey(doc: Document, segments: string[], direction: 1 | -1, compare: (a: unknown, b: unknown) => number): unknown {
  const values = collectPathValues(doc, segments).flatMap((v) =>
    Array.isArray(v) ? (v.length === 0 ? [undefined] : (v as unknown[])) : [v],
  );
  if (values.length === 0) return null;
  let best: unknown = values[0] ?? null;
  for (const value of values.slice(1)) {
    const c = compare(value ?? null, best ?? null);
    if ((direction === 1 && c < 0) || (direction === -1 && c > 0)) best = value;
  }
  return best ?? null;
}

/** A stable sorted copy; strings compare under `collation` when one is given. */
export function sortDocuments(docs: readonly Document[], spec: SortSpec | undefined, collation?: Collation): Document[] {
  if (spec === undefined) return [...docs];
  if (spec.kind === "natural") return spec.direction === 1 ? [...docs] : [...docs].reverse();
  const compare = collation === undefined ? compareValues : collatedComparator(collation);
  const keyed = docs.map((doc) => ({ doc, keys: spec.fields.map(([segments, direction]) => sortKey(doc, segments, direction, compare)) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < spec.fields.length; i++) {
      const direction = spec.fields[i]?.[1] ?? 1;
      const c = compare(a.keys[i], b.keys[i]);
      if (c !== 0) return direction * c;
    }
    return 0;
  });
  return keyed.map((k) => k.doc);
}
