/**
 * Applies an update document (operators or a replacement) to a stored
 * document, returning a new document. Validation errors carry the codes and
 * messages mongod uses (FailedToParse for unknown modifiers, 40 for conflicting
 * paths, 66 for `_id` changes).
 */
import { BSON, ObjectId, Timestamp, type Document } from "bson";
import { cloneDocument, getPath, isPlainObject, withIdFirst } from "../document-paths.ts";
import { bsonTypeName, describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";
import { updateOperators } from "./update-operators.ts";
import { readSlot, removeSlot, resolveSlots, writeSlot, type PositionalContext } from "./update-paths.ts";

export interface UpdateOptions {
  /** The statement's query; `$` resolves against it. */
  readonly query: Document;
  readonly arrayFilters?: readonly Document[] | undefined;
  /** True when the update builds a new document for an upsert ($setOnInsert applies). */
  readonly isInsert: boolean;
  readonly now?: Date;
}

/** `{$set: …}` style (true) versus a replacement document (false). */
export function isOperatorUpdate(update: Document): boolean {
  const first = Object.keys(update)[0];
  return first?.startsWith("$") ?? false;
}

let timestampCounter = 0;
function nextTimestamp(now: Date): Timestamp {
  timestampCounter = (timestampCounter + 1) % 0xffffffff;
  return new Timestamp({ t: Math.floor(now.getTime() / 1000), i: timestampCounter });
}

function parseArrayFilters(arrayFilters: readonly Document[] | undefined): Map<string, Document> {
  const out = new Map<string, Document>();
  for (const filter of arrayFilters ?? []) {
    if (!isPlainObject(filter)) throw commandError("FailedToParse", "Each array filter must be an object");
    let id: string | undefined;
    for (const key of Object.keys(filter)) {
      const top = key.split(".")[0] ?? "";
      if (!/^[a-z][a-zA-Z0-9]*$/.test(top)) {
        throw commandError(
          "BadValue",
          `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${top}'`,
        );
      }
      if (id !== undefined && id !== top)
        throw commandError(
          "FailedToParse",
          `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${id}' and '${top}'`,
        );
      id = top;
    }
    if (id === undefined) throw commandError("FailedToParse", "Cannot use an expression without a top-level field name in arrayFilters");
    if (out.has(id)) throw commandError("FailedToParse", `Found multiple array filters with the same top-level field name ${id}`);
    out.set(id, filter);
  }
  return out;
}

/** Paths in the form used for conflict checks: positional segments kept as written. */
function checkConflicts(paths: readonly string[]): void {
  const sorted = [...paths].sort();
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] ?? "";
    const b = sorted[i] ?? "";
    if (a === b || b.startsWith(`${a}.`)) {
      throw commandError("ConflictingUpdateOperators", `Updating the path '${b}' would create a conflict at '${a}'`);
    }
  }
}

function sameBson(a: unknown, b: unknown): boolean {
  return Buffer.from(BSON.serialize({ v: a })).equals(Buffer.from(BSON.serialize({ v: b })));
}

/** Validates the operator update document before touching any document. */
export function validateOperatorUpdate(update: Document): void {
  const paths: string[] = [];
  for (const [op, arg] of Object.entries(update)) {
    if (!op.startsWith("$")) {
      throw commandError(
        "FailedToParse",
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (op !== "$rename" && !(op in updateOperators)) {
      throw commandError(
        "FailedToParse",
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!isPlainObject(arg)) {
      throw commandError(
        "FailedToParse",
        `Modifiers operate on fields but we found type ${bsonTypeName(arg)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${describeValue(arg)}}`,
      );
    }
    for (const [path, value] of Object.entries(arg)) {
      if (path === "") throw commandError("BadValue", `An empty update path is not valid.`);
      paths.push(path);
      if (op === "$rename") {
        if (typeof value !== "string")
          throw commandError("BadValue", `The 'to' field for $rename must be a string: ${path}: ${describeValue(value)}`);
        if (value === path) throw commandError("BadValue", `The source and target field for $rename must differ: ${path}: "${value}"`);
        if (path.includes("$") || value.includes("$"))
          throw commandError("BadValue", `The source and target field for $rename may not be dynamic: ${path}: "${value}"`);
        paths.push(value);
      }
    }
  }
  checkConflicts(paths);
}

/**
 * Applies operators to a copy of `doc`. `doc` is never modified. Throws
 * CommandError for invalid updates or impossible paths.
 */
export function applyOperatorUpdate(doc: Document, update: Document, options: UpdateOptions): Document {
  validateOperatorUpdate(update);
  const out = cloneDocument(doc);
  const now = options.now ?? new Date();
  const positional: PositionalContext = {
    original: doc,
    query: options.query,
    arrayFilters: parseArrayFilters(options.arrayFilters),
    usedFilters: new Set(),
  };
  const ctx = { id: doc["_id"] as unknown, now, nextTimestamp: () => nextTimestamp(now) };
  for (const [op, arg] of Object.entries(update)) {
    const fields = arg as Document;
    if (op === "$setOnInsert" && !options.isInsert) continue;
    if (op === "$rename") {
      for (const [from, to] of Object.entries(fields)) applyRename(out, from, to as string, positional);
      continue;
    }
    const spec = updateOperators[op];
    if (spec === undefined) throw commandError("FailedToParse", `Unknown modifier: ${op}`);
    for (const [path, value] of Object.entries(fields)) {
      for (const slot of resolveSlots(out, path, spec.create, positional)) spec.apply(slot, value, ctx);
    }
  }
  for (const id of positional.arrayFilters.keys()) {
    if (!positional.usedFilters.has(id))
      throw commandError("FailedToParse", `The array filter for identifier '${id}' was not used in the update ${describeValue(update)}`);
  }
  if (Object.hasOwn(doc, "_id") && !sameBson(doc["_id"], out["_id"])) {
    throw commandError("ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'");
  }
  return withIdFirst(out);
}

function applyRename(doc: Document, from: string, to: string, positional: PositionalContext): void {
  if (from.split(".").length > 1) {
    // A source inside an array element is not allowed.
    const parts = from.split(".");
    for (let i = 1; i < parts.length; i++) {
      if (Array.isArray(getPath(doc, parts.slice(0, i).join(".")))) {
        throw commandError(
          "BadValue",
          `The source field cannot be an array element, '${from}' in doc with ${parts.slice(0, i).join(".")} being an array`,
        );
      }
    }
  }
  const [source] = resolveSlots(doc, from, false, positional);
  if (source === undefined) return;
  const value = readSlot(source);
  if (value === undefined) return;
  const toParts = to.split(".");
  for (let i = 1; i < toParts.length; i++) {
    if (Array.isArray(getPath(doc, toParts.slice(0, i).join(".")))) {
      throw commandError(
        "BadValue",
        `The destination field cannot be an array element, '${to}' in doc with ${toParts.slice(0, i).join(".")} being an array`,
      );
    }
  }
  removeSlot(source);
  for (const slot of resolveSlots(doc, to, true, positional)) writeSlot(slot, value);
}

/** Validates a replacement document (no `$`-prefixed top-level fields). */
export function validateReplacement(replacement: Document): void {
  for (const key of Object.keys(replacement)) {
    if (key.startsWith("$")) {
      throw commandError(
        "BadValue",
        `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
  }
}

/** The stored form of a replacement: `_id` kept from the old document, first. */
export function applyReplacement(doc: Document, replacement: Document): Document {
  validateReplacement(replacement);
  const out = cloneDocument(replacement);
  if (Object.hasOwn(out, "_id")) {
    if (Object.hasOwn(doc, "_id") && !sameBson(doc["_id"], out["_id"])) {
      throw commandError(
        "ImmutableField",
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${describeValue(out["_id"])}`,
      );
    }
    return withIdFirst(out);
  }
  if (!Object.hasOwn(doc, "_id")) return out;
  return { _id: doc["_id"] as unknown, ...out };
}

/** Equality fields of a query (`{a: 1}`, `{a: {$eq: 1}}`, inside `$and`) that seed an upserted document. */
function seedFromQuery(query: Document, into: Document, positional: PositionalContext): void {
  for (const [key, value] of Object.entries(query)) {
    if (key === "$and" && Array.isArray(value)) {
      for (const part of value) if (isPlainObject(part)) seedFromQuery(part, into, positional);
      continue;
    }
    if (key.startsWith("$")) continue;
    let equal: unknown;
    if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith("$"))) {
      if (!Object.hasOwn(value, "$eq")) continue;
      equal = value["$eq"];
    } else if (value instanceof RegExp) {
      continue;
    } else {
      equal = value;
    }
    for (const slot of resolveSlots(into, key, true, positional)) writeSlot(slot, cloneDocument({ v: equal })["v"]);
  }
}

/**
 * The document an upsert inserts: query equality fields plus the update
 * (operators with `$setOnInsert`), or the replacement with the query's `_id`.
 * A missing `_id` gets a new ObjectId, placed first.
 */
export function buildUpsertDocument(query: Document, update: Document, arrayFilters: readonly Document[] | undefined): Document {
  let doc: Document;
  if (isOperatorUpdate(update)) {
    const seed: Document = {};
    const positional: PositionalContext = { original: {}, query, arrayFilters: new Map(), usedFilters: new Set() };
    seedFromQuery(query, seed, positional);
    doc = applyOperatorUpdate(seed, update, { query, arrayFilters, isInsert: true });
  } else {
    doc = cloneDocument(update);
    validateReplacement(doc);
    const queryId: unknown = query["_id"];
    if (
      !Object.hasOwn(doc, "_id") &&
      queryId !== undefined &&
      !(isPlainObject(queryId) && Object.keys(queryId).some((k) => k.startsWith("$")))
    ) {
      doc = { _id: queryId, ...doc };
    }
  }
  if (!Object.hasOwn(doc, "_id")) doc = { _id: new ObjectId(), ...doc };
  return withIdFirst(doc);
}

export { sameBson };
