/**
 * Resolves an update path such as `a.$[x].b` or `items.$.qty` to the concrete
 * (parent, key) slots it names in a document being updated, creating missing
 * intermediate objects when the operator writes.
 */
import type { Document } from "bson";
import { matches } from "../bson-values.ts";
import { arrayIndex, getPath, isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";

export type Container = Document | unknown[];

/** One slot an operator reads and writes: `parent[key]`. */
export interface Slot {
  readonly parent: Container;
  readonly key: string;
  /** The concrete dotted path (positional segments replaced by indexes). */
  readonly path: string;
}

/** What positional segments (`$`, `$[]`, `$[id]`) resolve against. */
export interface PositionalContext {
  /** The document as it was before the update (for `$`, which the query matched). */
  readonly original: Document;
  readonly query: Document;
  readonly arrayFilters: ReadonlyMap<string, Document>;
  /** Identifiers of `arrayFilters` that some path used. */
  readonly usedFilters: Set<string>;
}

export function readSlot(slot: Slot): unknown {
  const { parent, key } = slot;
  if (Array.isArray(parent)) {
    const index = arrayIndex(key);
    return index === undefined ? undefined : parent[index];
  }
  return Object.hasOwn(parent, key) ? parent[key] : undefined;
}

export function writeSlot(slot: Slot, value: unknown): void {
  const { parent, key } = slot;
  if (Array.isArray(parent)) {
    const index = arrayIndex(key);
    if (index === undefined) {
      throw commandError(
        "PathNotViable",
        `Cannot create field '${key}' in element {${slot.path.split(".").slice(0, -1).join(".")}: ${describeValue(parent)}}`,
      );
    }
    while (parent.length < index) parent.push(null);
    parent[index] = value;
    return;
  }
  parent[key] = value;
}

/** `$unset` semantics: array elements become null, fields disappear. */
export function removeSlot(slot: Slot): void {
  const { parent, key } = slot;
  if (Array.isArray(parent)) {
    const index = arrayIndex(key);
    if (index !== undefined && index < parent.length) parent[index] = null;
    return;
  }
  if (Object.hasOwn(parent, key)) Reflect.deleteProperty(parent, key);
}

function isPositional(segment: string): boolean {
  return segment === "$" || segment.startsWith("$[");
}

/** Whether some condition of the query (also inside $and/$or/$nor) is on `prefix` or below it. */
function queryConstrains(query: unknown, prefix: string): boolean {
  if (!isPlainObject(query)) return false;
  return Object.entries(query).some(([key, value]: [string, unknown]) => {
    if (key === "$and" || key === "$or" || key === "$nor")
      return Array.isArray(value) && value.some((part) => queryConstrains(part, prefix));
    return key === prefix || key.startsWith(`${prefix}.`);
  });
}

/**
 * Index of the first element of the array at `prefix` whose presence makes
 * the query match (probed by matching the document with that element alone);
 * undefined when the query does not constrain the array or nothing matches.
 * The `$` of updates and of find projections.
 */
export function matchedArrayIndex(doc: Document, prefix: string, query: Document): number | undefined {
  const array = getPath(doc, prefix);
  if (!Array.isArray(array) || !queryConstrains(query, prefix)) return undefined;
  for (let i = 0; i < array.length; i++) {
    const probe = replaceAtPath(doc, prefix.split("."), [array[i]]) as Document;
    if (matches(probe, query)) return i;
  }
  return undefined;
}

function positionalIndex(prefix: string, ctx: PositionalContext): number {
  const index = matchedArrayIndex(ctx.original, prefix, ctx.query);
  if (index === undefined) throw commandError("BadValue", "The positional operator did not find the match needed from the query.");
  return index;
}

/** A shallow-copied document with the value at `segments` replaced (for positional probing). */
function replaceAtPath(doc: unknown, segments: readonly string[], value: unknown): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (Array.isArray(doc)) {
    const copy: unknown[] = [...(doc as unknown[])];
    const index = arrayIndex(head) ?? 0;
    copy[index] = rest.length === 0 ? value : replaceAtPath(copy[index], rest, value);
    return copy;
  }
  const source = isPlainObject(doc) ? doc : {};
  return { ...source, [head]: rest.length === 0 ? value : replaceAtPath(source[head] as unknown, rest, value) };
}

function arrayFilterFor(segment: string, path: string, ctx: PositionalContext): [string, Document] {
  const id = segment.slice(2, -1);
  const filter = ctx.arrayFilters.get(id);
  if (filter === undefined) throw commandError("BadValue", `No array filter found for identifier '${id}' in path '${path}'`);
  ctx.usedFilters.add(id);
  return [id, filter];
}

/** Element indexes of `array` selected by a `$[]`/`$[id]`/`$` segment. */
function selectIndexes(array: unknown[], segment: string, prefix: string, path: string, ctx: PositionalContext): number[] {
  if (segment === "$") return [positionalIndex(prefix, ctx)];
  if (segment === "$[]") return array.map((_, i) => i);
  const [id, filter] = arrayFilterFor(segment, path, ctx);
  const out: number[] = [];
  array.forEach((element, i) => {
    if (matches({ [id]: element }, filter)) out.push(i);
  });
  return out;
}

/**
 * All slots `path` names in `root`. With `create`, missing intermediate
 * objects are created (as `$set` does); without, missing paths yield no slots.
 */
export function resolveSlots(root: Document, path: string, create: boolean, ctx: PositionalContext): Slot[] {
  const segments = path.split(".");
  if (segments.some((s) => s === "")) throw commandError("BadValue", `An update path cannot contain an empty field name: '${path}'`);
  const out: Slot[] = [];

  const walk = (container: Container, i: number, concrete: string[]): void => {
    const segment = segments[i] ?? "";
    const last = i === segments.length - 1;
    const prefix = concrete.join(".");
    if (isPositional(segment)) {
      if (!Array.isArray(container)) {
        if (segment === "$") throw commandError("BadValue", "The positional operator did not find the match needed from the query.");
        throw commandError("BadValue", `Cannot apply array updates to non-array element ${prefix}: ${describeValue(container)}`);
      }
      for (const index of selectIndexes(container, segment, prefix, path, ctx)) {
        step(container, String(index), i, last, concrete);
      }
      return;
    }
    step(container, segment, i, last, concrete);
  };

  const step = (container: Container, key: string, i: number, last: boolean, concrete: string[]): void => {
    const here = [...concrete, key];
    if (last) {
      if (Array.isArray(container) && arrayIndex(key) === undefined) {
        if (!create) return;
        throw commandError("PathNotViable", `Cannot create field '${key}' in element {${concrete.join(".")}: ${describeValue(container)}}`);
      }
      out.push({ parent: container, key, path: here.join(".") });
      return;
    }
    const slot: Slot = { parent: container, key, path: here.join(".") };
    if (Array.isArray(container) && arrayIndex(key) === undefined) {
      if (!create) return;
      throw commandError("PathNotViable", `Cannot create field '${key}' in element {${concrete.join(".")}: ${describeValue(container)}}`);
    }
    let child = readSlot(slot);
    const nextSegment = segments[i + 1] ?? "";
    if (child === undefined) {
      if (isPositional(nextSegment)) {
        throw commandError("BadValue", `The path '${here.join(".")}' must exist in the document in order to apply array updates.`);
      }
      if (!create) return;
      child = {};
      writeSlot(slot, child);
    }
    if (Array.isArray(child) || isPlainObject(child)) {
      walk(child, i + 1, here);
      return;
    }
    if (isPositional(nextSegment)) {
      throw commandError("BadValue", `Cannot apply array updates to non-array element ${here.join(".")}: ${describeValue(child)}`);
    }
    if (!create) return;
    throw commandError("PathNotViable", `Cannot create field '${nextSegment}' in element {${key}: ${describeValue(child)}}`);
  };

  walk(root, 0, []);
  return out;
}
