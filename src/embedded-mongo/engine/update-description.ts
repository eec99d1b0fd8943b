/**
 * The `updateDescription` of an update change event, as MongoDB's document
 * diff reports it: the dotted paths whose value changed or appeared, the paths
 * removed, and arrays cut shorter (`truncatedArrays`). Embedded documents
 * present on both sides are diffed field by field, arrays element by element
 * (unless no element stays, then the array is reported whole). Paths with an
 * array index or a numeric field name also come spelled out, for
 * `disambiguatedPaths`.
 */
import { Int32, type Document } from "bson";
import { bsonTag, keyString } from "./compare.ts";
import { bsonTypeName } from "./match.ts";

function isPlainObject(value: unknown): value is Document {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    bsonTag(value) === undefined &&
    !(value instanceof Date) &&
    !(value instanceof RegExp)
  );
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

/** A path as its components: field names, and array indices as numbers. */
type PathParts = readonly (string | number)[];

interface Description {
  readonly updatedFields: Document;
  readonly removedFields: string[];
  readonly truncatedArrays: Document[];
  /** Paths that need their components spelled out (an array index, or a field named like one). */
  readonly disambiguatedPaths: Document;
}

function record(out: Description, parts: PathParts, kind: "updated" | "removed", value?: unknown): void {
  const path = parts.join(".");
  if (kind === "updated") out.updatedFields[path] = value;
  else out.removedFields.push(path);
  if (parts.some((p) => typeof p === "number" || /^\d+$/.test(p))) out.disambiguatedPaths[path] = [...parts];
}

function diffValue(old: unknown, value: unknown, parts: PathParts, out: Description): void {
  if (sameValue(old, value)) return;
  if (isPlainObject(old) && isPlainObject(value) && Object.keys(value).length > 0) diffDocument(old, value, parts, out);
  else if (Array.isArray(old) && Array.isArray(value) && elementwise(old, value)) diffArray(old, value, parts, out);
  else record(out, parts, "updated", value);
}

function diffDocument(before: Document, after: Document, prefix: PathParts, out: Description): void {
  for (const [k, v] of Object.entries(after) as [string, unknown][]) {
    if (!Object.hasOwn(before, k)) record(out, [...prefix, k], "updated", v);
    else diffValue(before[k], v, [...prefix, k], out);
  }
  for (const k of Object.keys(before)) if (!Object.hasOwn(after, k)) record(out, [...prefix, k], "removed");
}

/**
 * Whether an array's change is described element by element (as MongoDB's
 * diff does) rather than as the whole new array: when some element stays or
 * is itself diffed (documents or arrays on both sides). When every element is
 * replaced, the elements would say more than the array, and MongoDB sends the array.
 */
function elementwise(before: readonly unknown[], after: readonly unknown[]): boolean {
  const shared = Math.min(before.length, after.length);
  for (let i = 0; i < shared; i++) {
    const [old, value] = [before[i], after[i]];
    if (sameValue(old, value)) return true;
    if ((isPlainObject(old) && isPlainObject(value)) || (Array.isArray(old) && Array.isArray(value))) return true;
  }
  return false;
}

/** Changed elements by index, elements appended, and a shorter array as `truncatedArrays`. */
function diffArray(before: readonly unknown[], after: readonly unknown[], parts: PathParts, out: Description): void {
  for (let i = 0; i < after.length; i++) {
    if (i < before.length) diffValue(before[i], after[i], [...parts, i], out);
    else record(out, [...parts, i], "updated", after[i]);
  }
  if (after.length < before.length) out.truncatedArrays.push({ field: parts.join("."), newSize: new Int32(after.length) });
}

export function describeUpdate(before: Document, after: Document): Description {
  const out: Description = { updatedFields: {}, removedFields: [], truncatedArrays: [], disambiguatedPaths: {} };
  diffDocument(before, after, [], out);
  return out;
}
