/**
 * Pipeline-style updates (`u` is an array of $set/$addFields, $unset,
 * $project, $replaceRoot/$replaceWith stages). The stages run in mingo on the
 * expression view of the document, so untouched values come out as they were
 * stored and computed ones in the type MongoDB gives them.
 */
import type { Document } from "bson";
import { demoteDocument, promoteDocument } from "../bson-values.ts";
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

/** Applies a validated pipeline update to a copy of `doc`. */
export function applyPipelineUpdate(doc: Document, pipeline: readonly Document[], variables?: Document): Document {
  let result: unknown;
  try {
    const sources = variables === undefined ? {} : { variables: promoteDocument(variables) };
    [result] = createAggregator(pipeline.map(promoteDocument), sources).run([promoteDocument(doc)]);
  } catch (err) {
    throw mingoErrorToCommandError(err);
  }
  const out = demoteDocument(result ?? {});
  if (Object.hasOwn(doc, "_id")) {
    if (!Object.hasOwn(out, "_id")) return { _id: doc["_id"] as unknown, ...out };
    if (!sameBson(doc["_id"], out["_id"])) {
      throw commandError("ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'");
    }
  }
  return withIdFirst(out);
}

/** The document a pipeline upsert inserts: the query's equality fields, then the pipeline. */
export function buildPipelineUpsert(query: Document, pipeline: readonly Document[], variables?: Document): Document {
  const seed = buildUpsertDocument(query, { $set: {} }, undefined);
  return applyPipelineUpdate(seed, pipeline, variables);
}
