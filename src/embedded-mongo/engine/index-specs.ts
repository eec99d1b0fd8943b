/**
 * Rules for index specifications, shared by DDL outside transactions (the
 * engine) and inside them (a transaction creating indexes on a collection it
 * creates): validation, the private stored copy, and how a requested index
 * relates to the existing ones (same, name clash, same key under another name).
 */
import { compareValues } from "./compare.ts";
import { EngineError } from "./types.ts";
import type { IndexSpec } from "./types.ts";
import { freezeCopy } from "./values.ts";

function sameKey(a: IndexSpec, b: IndexSpec): boolean {
  return (
    a.key.length === b.key.length &&
    a.key.every(([f, d], i) => {
      const other = b.key[i];
      return other !== undefined && other[0] === f && other[1] === d;
    })
  );
}

function sameSpec(a: IndexSpec, b: IndexSpec): boolean {
  return (
    sameKey(a, b) &&
    (a.unique ?? false) === (b.unique ?? false) &&
    (a.sparse ?? false) === (b.sparse ?? false) &&
    compareValues(a.partialFilterExpression ?? null, b.partialFilterExpression ?? null) === 0 &&
    compareValues(a.collation ?? null, b.collation ?? null) === 0
  );
}

/** A private copy of a spec, with its filter in stored (BSON-typed) form, so replay yields the same spec. */
function normalizeSpec(spec: IndexSpec): IndexSpec {
  const out: { -readonly [K in keyof IndexSpec]: IndexSpec[K] } = {
    name: spec.name,
    key: spec.key.map(([field, direction]) => [field, direction] as const),
  };
  if (spec.unique !== undefined) out.unique = spec.unique;
  if (spec.sparse !== undefined) out.sparse = spec.sparse;
  if (spec.partialFilterExpression !== undefined) out.partialFilterExpression = freezeCopy(spec.partialFilterExpression);
  if (spec.collation !== undefined) out.collation = freezeCopy(spec.collation);
  return out;
}

function validateSpec(spec: IndexSpec): void {
  if (spec.name.length === 0) throw new EngineError(67, "CannotCreateIndex", "index name cannot be empty");
  if (spec.key.length === 0) throw new EngineError(67, "CannotCreateIndex", "index key pattern cannot be empty");
  const fields = new Set<string>();
  for (const [field, declared] of spec.key) {
    // The command layer passes what the client sent; the type says 1 | -1, the wire may not.
    const direction: number = declared;
    if (field.length === 0 || field.startsWith("$") || field.split(".").some((p) => p.length === 0)) {
      throw new EngineError(67, "CannotCreateIndex", `bad index key pattern field: '${field}'`);
    }
    if (direction !== 1 && direction !== -1) {
      throw new EngineError(67, "CannotCreateIndex", `bad index key pattern: direction of '${field}' must be 1 or -1`);
    }
    if (fields.has(field)) throw new EngineError(67, "CannotCreateIndex", `duplicate field '${field}' in index key pattern`);
    fields.add(field);
  }
  if (spec.name === "_id_" && !(spec.key.length === 1 && spec.key[0]?.[0] === "_id")) {
    throw new EngineError(67, "CannotCreateIndex", "the index name _id_ is reserved for the _id index");
  }
}

/**
 * Validates `requested` against the indexes that exist (or are being added):
 * returns its stored copy when it is new, null when an identical index exists
 * (a no-op, as in MongoDB); throws 86 for a name clash, 85 for the same key
 * under another name.
 */
export function admitSpec(requested: IndexSpec, existing: readonly IndexSpec[]): IndexSpec | null {
  validateSpec(requested);
  const spec = normalizeSpec(requested);
  const byName = existing.find((s) => s.name === spec.name);
  if (byName !== undefined) {
    if (sameSpec(byName, spec)) return null;
    throw new EngineError(
      86,
      "IndexKeySpecsConflict",
      `An existing index has the same name as the requested index. Requested index: ${spec.name}`,
    );
  }
  const byKey = existing.find((s) => sameSpec(s, spec));
  if (byKey !== undefined) {
    throw new EngineError(85, "IndexOptionsConflict", `Index already exists with a different name: ${byKey.name}`);
  }
  return spec;
}
