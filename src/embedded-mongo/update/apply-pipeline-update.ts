/**
 * Pipeline-style updates (`u` is an array of $set/$addFields, $unset,
 * $project, $replaceRoot/$replaceWith stages). The stages run in mingo on the
 * promoted document; every value that comes out equal to the stored one keeps
 * its stored BSON type, so only computed values lose the Int32/Long/Double
 * distinction.
 */
import type { Document } from "bson";
import { compareValues, demoteValue, promoteDocument } from "../bson-values.ts";
import { isPlainObject, withIdFirst } from "../document-paths.ts";
import { commandError } from "../errors.ts";
import { mingoErrorToCommandError } from "../query/mingo-errors.ts";
import { createAggregator } from "../query/mingo-options.ts";
import { buildUpsertDocument, sameBson } from "./apply-update.ts";

const allowedStages = new Set(["$addFields", "$set", "$unset", "$project", "$replaceRoot", "$replaceWith"]);

export function validatePipelineUpdate(pipeline: readonly unknown[]): Document[] {
  return pipeline.map((stage) => {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
      throw commandError("FailedToParse", "A pipeline stage specification object must contain exactly one field.");
    }
    const name = Object.keys(stage)[0] ?? "";
    if (!allowedStages.has(name)) throw commandError("InvalidOptions", `${name} is not allowed to be used within an update`);
    return stage;
  });
}

/** The computed value with stored values (and their BSON types) kept wherever they are unchanged. */
function restoreTypes(value: unknown, original: unknown): unknown {
  const plain = demoteValue(value);
  if (original !== undefined && compareValues(plain, original) === 0 && sameShape(plain, original)) return original;
  if (isPlainObject(plain)) {
    const out: Document = {};
    for (const [key, item] of Object.entries(plain) as [string, unknown][]) {
      out[key] = restoreTypes(item, isPlainObject(original) ? (original[key] as unknown) : undefined);
    }
    return out;
  }
  if (Array.isArray(plain)) {
    return (plain as unknown[]).map((item, i) => restoreTypes(item, Array.isArray(original) ? (original as unknown[])[i] : undefined));
  }
  return plain;
}

/** compareValues equates 1 and 1.0 and missing with null; keep those apart at the top of a value. */
function sameShape(a: unknown, b: unknown): boolean {
  if (a === null || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (isPlainObject(a) !== isPlainObject(b)) return false;
  if (isPlainObject(a) && isPlainObject(b)) return Object.keys(a).join("\0") === Object.keys(b).join("\0");
  return true;
}

/** Applies a validated pipeline update to a copy of `doc`. */
export function applyPipelineUpdate(doc: Document, pipeline: readonly Document[]): Document {
  let result: unknown;
  try {
    [result] = createAggregator(pipeline.map(promoteDocument)).run([promoteDocument(doc)]);
  } catch (err) {
    throw mingoErrorToCommandError(err);
  }
  const out = restoreTypes(result ?? {}, doc) as Document;
  if (Object.hasOwn(doc, "_id")) {
    if (!Object.hasOwn(out, "_id")) return { _id: doc["_id"] as unknown, ...out };
    if (!sameBson(doc["_id"], out["_id"])) {
      throw commandError("ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'");
    }
  }
  return withIdFirst(out);
}

/** The document a pipeline upsert inserts: the query's equality fields, then the pipeline. */
export function buildPipelineUpsert(query: Document, pipeline: readonly Document[]): Document {
  const seed = buildUpsertDocument(query, { $set: {} }, undefined);
  return applyPipelineUpdate(seed, pipeline);
}
