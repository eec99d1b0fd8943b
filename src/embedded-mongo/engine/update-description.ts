/**
 * The `updateDescription` of an update change event: the dotted paths whose
 * value changed or appeared, and the paths removed. Embedded documents present
 * on both sides are diffed field by field; anything else (arrays included) is
 * reported whole, so `truncatedArrays` is always empty.
 */
import type { Document } from "bson";
import { bsonTag, keyString } from "./compare.ts";
import { bsonTypeName } from "./match.ts";

function isPlainObject(value: unknown): value is Document {
  return typeof value === "object" && value !== null && !Array.isArray(value) && bsonTag(value) === undefined &&
    !(value instanceof Date) && !(value instanceof RegExp);
}

/** Equal including the BSON type (Int32(1) differs from Double(1) here). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (bsonTypeName(a) !== bsonTypeName(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => kb[i] === k && sameValue(a[k], b[k]));
  }
  return keyString(a) === keyString(b);
}

function diff(before: Document, after: Document, prefix: string, updated: Document, removed: string[]): void {
  for (const [k, v] of Object.entries(after) as [string, unknown][]) {
    const path = prefix + k;
    if (!Object.hasOwn(before, k)) {
      updated[path] = v;
      continue;
    }
    const old: unknown = before[k];
    if (sameValue(old, v)) continue;
    if (isPlainObject(old) && isPlainObject(v) && Object.keys(v).length > 0) diff(old, v, `${path}.`, updated, removed);
    else updated[path] = v;
  }
  for (const k of Object.keys(before)) if (!Object.hasOwn(after, k)) removed.push(prefix + k);
}

export function describeUpdate(before: Document, after: Document): {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: Document[];
} {
  const updatedFields: Document = {};
  const removedFields: string[] = [];
  diff(before, after, "", updatedFields, removedFields);
  return { updatedFields, removedFields, truncatedArrays: [] };
}
