/**
 * Reading and copying dotted paths in stored documents. Stored documents are
 * immutable (the engine shares them between snapshots), so anything that
 * modifies one works on `cloneDocument` first.
 */
import type { Document } from "bson";

/** A plain BSON sub-document (not an array, not a BSON value wrapper such as ObjectId). */
export function isPlainObject(value: unknown): value is Document {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Deep copy of the document tree; BSON value wrappers are shared (they are never mutated). */
export function cloneValue<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneValue(item)) as T;
  if (isPlainObject(value)) {
    const out: Document = {};
    for (const [key, item] of Object.entries(value) as [string, unknown][]) out[key] = cloneValue(item);
    return out as T;
  }
  return value;
}

export function cloneDocument(doc: Document): Document {
  return cloneValue(doc);
}

/** Array index segment ("0", "12"), as MongoDB path syntax allows. */
export function arrayIndex(segment: string): number | undefined {
  return /^\d+$/.test(segment) ? Number(segment) : undefined;
}

/**
 * Every value reachable at `path`, descending into arrays the way queries do
 * (`a.b` on `{a:[{b:1},{b:2}]}` gives 1 and 2). Missing paths give nothing.
 */
export function collectPathValues(value: unknown, segments: readonly string[], out: unknown[] = []): unknown[] {
  if (segments.length === 0) {
    out.push(value);
    return out;
  }
  const [head, ...rest] = segments;
  if (head === undefined) return out;
  if (Array.isArray(value)) {
    const index = arrayIndex(head);
    if (index !== undefined && index < value.length) collectPathValues(value[index], rest, out);
    for (const item of value) if (isPlainObject(item)) collectPathValues(item, segments, out);
    return out;
  }
  if (isPlainObject(value) && Object.hasOwn(value, head)) collectPathValues(value[head], rest, out);
  return out;
}

/** The value at `path` without array expansion (numeric segments index arrays). */
export function getPath(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const segment of path.split(".")) {
    if (Array.isArray(current)) {
      const index = arrayIndex(segment);
      if (index === undefined) return undefined;
      current = current[index];
    } else if (isPlainObject(current)) {
      if (!Object.hasOwn(current, segment)) return undefined;
      current = current[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** Puts `_id` first, as MongoDB stores it. Returns the same object when already so. */
export function withIdFirst(doc: Document): Document {
  const keys = Object.keys(doc);
  if (keys[0] === "_id" || !keys.includes("_id")) return doc;
  const out: Document = { _id: doc["_id"] as unknown };
  for (const key of keys) if (key !== "_id") out[key] = doc[key] as unknown;
  return out;
}
