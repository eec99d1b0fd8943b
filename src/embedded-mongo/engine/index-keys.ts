/**
 * What an index stores for a document: its key tuples. Arrays fan out (a
 * multikey index holds one key per element), a missing field indexes as null
 * unless the index is sparse, and a partial index holds only documents that
 * match its filter.
 */
import type { Document } from "bson";
import { bsonTag, keyString } from "./compare.ts";
import { foldValue, parseCollation } from "./collation.ts";
import type { Collation } from "./collation.ts";
import { compileFilter } from "./match.ts";
import type { DocPredicate } from "./match.ts";
import { EngineError } from "./types.ts";
import type { IndexSpec, Namespace, StoredDoc } from "./types.ts";

/** A compiled index definition. */
export interface IndexDef {
  readonly spec: IndexSpec;
  readonly fields: readonly string[];
  readonly paths: readonly (readonly string[])[];
  readonly unique: boolean;
  readonly sparse: boolean;
  readonly partial: DocPredicate | undefined;
  /** Set for an index with a collation: its string key components are folded (collation.ts). */
  readonly collation: Collation | undefined;
}

export function compileIndex(spec: IndexSpec): IndexDef {
  const fields = spec.key.map(([field]) => field);
  return {
    spec,
    fields,
    paths: fields.map((f) => f.split(".")),
    unique: spec.unique === true,
    sparse: spec.sparse === true,
    partial: spec.partialFilterExpression === undefined ? undefined : compileFilter(spec.partialFilterExpression),
    collation: parseCollation(spec.collation),
  };
}

const MISSING = Symbol("missing");

function isTraversable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    bsonTag(value) === undefined &&
    !(value instanceof Date) &&
    !(value instanceof RegExp)
  );
}

function collect(node: unknown, path: readonly string[], at: number, out: unknown[], viaArray: { hit: boolean }): void {
  if (at === path.length) {
    if (Array.isArray(node)) {
      viaArray.hit = true;
      if (node.length === 0) out.push(null);
      else out.push(...(node as unknown[]));
    } else {
      out.push(node);
    }
    return;
  }
  const field = path[at] as string;
  if (Array.isArray(node)) {
    viaArray.hit = true;
    if (/^\d+$/.test(field)) {
      const element: unknown = node[Number(field)];
      if (element !== undefined) collect(element, path, at + 1, out, viaArray);
      return;
    }
    for (const element of node as unknown[]) {
      if (isTraversable(element) || Array.isArray(element)) collect(element, path, at, out, viaArray);
      else out.push(MISSING);
    }
    return;
  }
  if (isTraversable(node) && Object.hasOwn(node, field)) {
    collect(node[field], path, at + 1, out, viaArray);
    return;
  }
  out.push(MISSING);
}

/** Distinct values (by index equality) of one indexed path; MISSING when absent. */
function fieldValues(doc: StoredDoc, path: readonly string[]): { values: unknown[]; multi: boolean } {
  const raw: unknown[] = [];
  const viaArray = { hit: false };
  collect(doc, path, 0, raw, viaArray);
  if (raw.length === 1) return { values: raw, multi: viaArray.hit };
  const seen = new Set<string>();
  const values: unknown[] = [];
  for (const v of raw) {
    const k = v === MISSING ? "\u0000missing" : keyString(v);
    if (!seen.has(k)) {
      seen.add(k);
      values.push(v);
    }
  }
  // A field present in some array elements: the absent ones index as null only if nothing else does.
  const present = values.filter((v) => v !== MISSING);
  return { values: present.length > 0 ? present : [MISSING], multi: viaArray.hit };
}

/**
 * The common case without the general walk's allocations: every indexed field
 * is a top-level one holding no array, so the document has exactly one key.
 * Undefined when that is not so (the general walk decides then).
 */
function topLevelKey(def: IndexDef, doc: StoredDoc): unknown[][] | null | undefined {
  // A `_bsontype` field makes the document look like a bson wrapper to the general walk: leave it to that.
  if (Object.hasOwn(doc, "_bsontype")) return undefined;
  const paths = def.paths;
  const key: unknown[] = new Array<unknown>(paths.length);
  let anyPresent = false;
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i] as readonly string[];
    if (path.length !== 1) return undefined;
    const field = path[0] as string;
    if (!Object.hasOwn(doc, field)) {
      key[i] = null;
      continue;
    }
    const value: unknown = doc[field];
    if (Array.isArray(value)) return undefined;
    key[i] = value;
    anyPresent = true;
  }
  return def.sparse && !anyPresent ? null : [key];
}

/**
 * The key tuples `doc` has in index `def`, or null when the index does not hold
 * the document (sparse and every field missing, or outside the partial filter).
 * Throws 171 for parallel arrays, as MongoDB does. Sets `seen.multikey` when
 * an indexed field holds an array.
 */
export function indexKeys(def: IndexDef, doc: StoredDoc, ns: Namespace, seen?: { multikey: boolean }): unknown[][] | null {
  const keys = rawIndexKeys(def, doc, ns, seen);
  const collation = def.collation;
  if (keys === null || collation === undefined) return keys;
  return keys.map((key) => key.map((v) => foldValue(collation, v)));
}

function rawIndexKeys(def: IndexDef, doc: StoredDoc, ns: Namespace, seen?: { multikey: boolean }): unknown[][] | null {
  if (def.partial !== undefined && !def.partial(doc)) return null;
  const simple = topLevelKey(def, doc);
  if (simple !== undefined) return simple;
  const perField: unknown[][] = [];
  let anyPresent = false;
  let multiField: string | undefined;
  for (let i = 0; i < def.paths.length; i++) {
    const { values, multi } = fieldValues(doc, def.paths[i] as readonly string[]);
    if (values.length > 1 || multi) {
      if (multiField !== undefined && values.length > 1) {
        throw new EngineError(
          171,
          "CannotIndexParallelArrays",
          `cannot index parallel arrays [${def.fields[i] ?? ""}] [${multiField}] in ${ns}`,
        );
      }
      if (values.length > 1) multiField = def.fields[i];
      if (seen !== undefined) seen.multikey = true;
    }
    if (values.some((v) => v !== MISSING)) anyPresent = true;
    perField.push(values.map((v) => (v === MISSING ? null : v)));
  }
  if (def.sparse && !anyPresent) return null;
  let keys: unknown[][] = [[]];
  for (const values of perField) {
    const next: unknown[][] = [];
    for (const prefix of keys) for (const v of values) next.push([...prefix, v]);
    keys = next;
  }
  return keys;
}

/** A string equal for equal key tuples (for unique-key intents). */
export function tupleKeyString(key: readonly unknown[]): string {
  return key.map(keyString).join("\u0001");
}

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (Array.isArray(value)) return `[ ${value.map(formatValue).join(", ")} ]`;
  switch (bsonTag(value)) {
    case undefined: {
      const entries = Object.entries(value as Document).map(([k, v]) => `${k}: ${formatValue(v)}`);
      return `{ ${entries.join(", ")} }`;
    }
    case "ObjectId":
      return `ObjectId('${(value as { toHexString(): string }).toHexString()}')`;
    case "Int32":
    case "Double":
      return String((value as { value: number }).value);
    case "Long":
    case "Decimal128":
      return (value as { toString(): string }).toString();
    default:
      return keyString(value);
  }
}

/** EngineError 11000 with MongoDB's message, keyPattern and keyValue. */
export function duplicateKeyError(ns: Namespace, def: IndexDef, key: readonly unknown[]): EngineError {
  const keyPattern: Document = {};
  const keyValue: Document = {};
  def.spec.key.forEach(([field, direction], i) => {
    keyPattern[field] = direction;
    keyValue[field] = key[i] ?? null;
  });
  const shown = def.fields.map((f, i) => `${f}: ${formatValue(key[i])}`).join(", ");
  return new EngineError(
    11000,
    "DuplicateKey",
    `E11000 duplicate key error collection: ${ns} index: ${def.spec.name} dup key: { ${shown} }`,
    { keyPattern, keyValue },
  );
}
