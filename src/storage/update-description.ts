/**
 * Applies a change stream update event's `updateDescription` to the
 * document as it was before, giving the document as the update left it: what
 * a consumer that keeps documents in memory needs, without `updateLookup`
 * (which reads the document as it is when the event is read, possibly after
 * later changes, so it would mix times).
 *
 * MongoDB describes an update as arrays cut to a new size
 * (`truncatedArrays`), then fields set (`updatedFields`, dotted paths whose
 * numeric steps index arrays, e.g. `acl.1.permission`), then fields removed
 * (`removedFields`). A step is an array index when the value it steps into is
 * an array, else a field name (what `disambiguatedPaths` would spell out;
 * Roster's documents have no numeric field names).
 */
import type { Document } from "mongodb";

/** The `updateDescription` of an update event. */
export interface UpdateDescription {
  readonly updatedFields?: Document;
  readonly removedFields?: readonly string[];
  readonly truncatedArrays?: readonly { readonly field: string; readonly newSize: number }[];
}

/** `before` with `description` applied; `before` must be a copy the caller owns (it is changed in place). */
export function applyUpdateDescription(before: Document, description: UpdateDescription): Document {
  for (const { field, newSize } of description.truncatedArrays ?? []) {
    const array = valueAt(before, field.split("."));
    if (Array.isArray(array)) array.length = Math.min(array.length, newSize);
  }
  for (const [path, value] of Object.entries(description.updatedFields ?? {})) setAt(before, path.split("."), value);
  for (const path of description.removedFields ?? []) removeAt(before, path.split("."));
  return before;
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return (
    typeof value === "object" &&
    value !== null &&
    !(value instanceof Date) &&
    (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype)
  );
}

function step(container: Container, key: string): unknown {
  return Array.isArray(container) ? container[Number(key)] : container[key];
}

function assign(container: Container, key: string, value: unknown): void {
  if (Array.isArray(container)) container[Number(key)] = value;
  else container[key] = value;
}

function valueAt(doc: Document, path: readonly string[]): unknown {
  let at: unknown = doc;
  for (const key of path) {
    if (!isContainer(at)) return undefined;
    at = step(at, key);
  }
  return at;
}

function setAt(doc: Document, path: readonly string[], value: unknown): void {
  let at: Container = doc;
  for (const key of path.slice(0, -1)) {
    let next = step(at, key);
    if (!isContainer(next)) {
      next = {};
      assign(at, key, next);
    }
    at = next as Container;
  }
  assign(at, path.at(-1) ?? "", value);
}

function removeAt(doc: Document, path: readonly string[]): void {
  const parent = valueAt(doc, path.slice(0, -1));
  const key = path.at(-1) ?? "";
  if (!isContainer(parent)) return;
  // $unset of an array element leaves null in its place, as MongoDB does.
  if (Array.isArray(parent)) parent[Number(key)] = null;
  else Reflect.deleteProperty(parent, key);
}
