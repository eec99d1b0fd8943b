/**
 * aggregate: `$changeStream` pipelines go to the change-stream module; every
 * other pipeline reads one snapshot. Leading find-like stages ($match, $sort,
 * $skip, $limit, plain inclusion/exclusion $project) run on the stored
 * documents, keeping their BSON types; the remaining stages run in mingo over
 * promoted views, with `$lookup`, `$graphLookup` and `$unionWith` reading
 * foreign collections from the same snapshot. Unknown stages fail with 40324.
 */
import type { Document } from "bson";
import type { FindOptions, Transaction } from "../engine/types.ts";
import { compileFilter, demoteDocument, parseCollation, promoteDocument } from "../bson-values.ts";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject, withIdFirst } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";
import { mingoErrorToCommandError } from "../query/mingo-errors.ts";
import { stageName } from "../query/pipeline-stage.ts";
import { compileProjection } from "../query/project-document.ts";
import { createAggregator } from "../query/mingo-options.ts";
import { parseSort, sortDocuments } from "../query/sort-documents.ts";
import { commandArgs, namespaceOf } from "./command-args.ts";
import type { CommandHandler } from "./command-context.ts";
import { batchSizeOf, firstBatchReply } from "./cursor-replies.ts";
import { openChangeStream } from "./change-stream.ts";
import { validateHint } from "./index-hint.ts";

/** Stages mingo evaluates that are meaningful here. */
const supportedStages = new Set([
  "$match",
  "$sort",
  "$skip",
  "$limit",
  "$project",
  "$addFields",
  "$set",
  "$unset",
  "$group",
  "$count",
  "$unwind",
  "$lookup",
  "$graphLookup",
  "$facet",
  "$replaceRoot",
  "$replaceWith",
  "$sortByCount",
  "$bucket",
  "$bucketAuto",
  "$sample",
  "$unionWith",
  "$documents",
  "$redact",
  "$setWindowFields",
  "$densify",
  "$fill",
]);

/** Real MongoDB stages this server does not implement (a distinct message from unknown names). */
const unsupportedStages = new Set([
  "$out",
  "$merge",
  "$geoNear",
  "$search",
  "$searchMeta",
  "$vectorSearch",
  "$indexStats",
  "$collStats",
  "$currentOp",
  "$listSessions",
  "$listLocalSessions",
  "$planCacheStats",
  "$listSearchIndexes",
  "$shardedDataDistribution",
  "$changeStreamSplitLargeEvent",
]);

/** Query operators the engine's matcher does not evaluate; such filters go to mingo. */
const mingoOnlyOperators = new Set(["$where", "$text", "$function"]);

/** Whether a `$match` filter uses an operator only mingo evaluates. */
function needsMingo(filter: unknown): boolean {
  if (Array.isArray(filter)) return filter.some((item) => needsMingo(item));
  if (!isPlainObject(filter)) return false;
  return Object.entries(filter).some(([key, sub]: [string, unknown]) => mingoOnlyOperators.has(key) || needsMingo(sub));
}

/** Validates stage names of a pipeline (recursing into $facet and $lookup/$unionWith pipelines). */
export function validatePipeline(pipeline: readonly unknown[], allowChangeStream: boolean): void {
  pipeline.forEach((stage, index) => {
    const name = stageName(stage, index);
    const spec: unknown = (stage as Document)[name];
    if (name === "$changeStream") {
      if (!allowChangeStream || index !== 0)
        throw commandError("Location40602", "$changeStream is only valid as the first stage in a pipeline");
      return;
    }
    if (unsupportedStages.has(name)) {
      throw commandError("Location40324", `Unsupported pipeline stage name: '${name}' (not implemented by the embedded server)`);
    }
    if (!supportedStages.has(name)) throw commandError("Location40324", `Unrecognized pipeline stage name: '${name}'`);
    if (name === "$facet" && isPlainObject(spec)) {
      for (const sub of Object.values(spec)) if (Array.isArray(sub)) validatePipeline(sub, false);
    }
    if ((name === "$lookup" || name === "$unionWith") && isPlainObject(spec) && Array.isArray(spec["pipeline"])) {
      validatePipeline(spec["pipeline"], false);
    }
  });
}

/**
 * Rewrites stages whose mingo behaviour differs from mongod: `$count` becomes
 * its documented equivalent `$group` + `$project` (mingo emits `{n: 0}` for
 * empty input, mongod emits nothing). Recurses into sub-pipelines.
 */
export function rewritePipeline(pipeline: readonly Document[]): Document[] {
  const out: Document[] = [];
  for (const stage of pipeline) {
    const [name] = Object.keys(stage);
    const spec: unknown = stage[name ?? ""];
    if (name === "$count") {
      if (typeof spec !== "string" || spec === "" || spec.startsWith("$") || spec.includes(".")) {
        throw commandError(
          "BadValue",
          `the count field must be a non-empty string that does not start with '$' or contain '.', got ${describeValue(spec)}`,
        );
      }
      out.push({ $group: { _id: null, [spec]: { $sum: 1 } } }, { $project: { _id: 0 } });
    } else if (name === "$facet" && isPlainObject(spec)) {
      const facets: Document = {};
      for (const [key, sub] of Object.entries(spec) as [string, unknown][])
        facets[key] = Array.isArray(sub) ? rewritePipeline(sub as Document[]) : sub;
      out.push({ $facet: facets });
    } else if ((name === "$lookup" || name === "$unionWith") && isPlainObject(spec) && Array.isArray(spec["pipeline"])) {
      out.push({ [name]: { ...spec, pipeline: rewritePipeline(spec["pipeline"] as Document[]) } });
    } else {
      out.push(stage);
    }
  }
  return out;
}

/** Runs find-like leading stages on stored documents; returns the documents and the stages left. */
function runStoredPrefix(tx: Transaction, ns: string, pipeline: readonly Document[], options: FindOptions): [Document[], Document[]] {
  let index = 0;
  let docs: Document[] | undefined;
  const first = pipeline[0];
  const { variables, collation } = options;
  if (first !== undefined && isPlainObject(first["$match"]) && !needsMingo(first["$match"])) {
    docs = tx.find(ns, first["$match"], options);
    index = 1;
  } else {
    docs = tx.find(ns, {});
  }
  for (; index < pipeline.length; index++) {
    const stage = pipeline[index] ?? {};
    const [name] = Object.keys(stage);
    const spec: unknown = stage[name ?? ""];
    if (name === "$match" && isPlainObject(spec) && !needsMingo(spec) && collation === undefined) {
      const predicate = compileFilter(spec, variables);
      docs = docs.filter((doc) => predicate(doc));
    } else if (name === "$sort" && isPlainObject(spec)) {
      docs = sortDocuments(docs, parseSort(spec), collation);
    } else if ((name === "$skip" || name === "$limit") && toNumber(spec) !== undefined) {
      const n = toNumber(spec) ?? 0;
      if (!Number.isInteger(n) || n < 0 || (name === "$limit" && n === 0)) {
        throw commandError("BadValue", `invalid argument to ${name} stage: ${describeValue(spec)}`);
      }
      docs = name === "$skip" ? docs.slice(n) : docs.slice(0, n);
    } else if (
      name === "$project" &&
      isPlainObject(spec) &&
      Object.values(spec).every((v) => typeof v === "boolean" || toNumber(v) === 0 || toNumber(v) === 1)
    ) {
      const projection = compileProjection(spec);
      if (projection !== undefined) docs = docs.map(projection);
    } else {
      break;
    }
  }
  return [docs, pipeline.slice(index)];
}

/** Runs a validated, non-change-stream pipeline on one snapshot. */
export function runPipeline(
  tx: Transaction,
  db: string,
  collection: string | undefined,
  pipeline: readonly Document[],
  options: FindOptions = {},
): Document[] {
  let input: Document[] = [];
  let rest: readonly Document[] = pipeline;
  if (collection !== undefined) [input, rest] = runStoredPrefix(tx, `${db}.${collection}`, pipeline, options);
  if (rest.length === 0) return input;
  const resolved = new Map<string, Document[]>();
  const collectionResolver = (name: string): Document[] => {
    let docs = resolved.get(name);
    if (docs === undefined) {
      docs = tx.find(`${db}.${name}`, {}).map(promoteDocument);
      resolved.set(name, docs);
    }
    return docs;
  };
  try {
    const { variables, collation } = options;
    const aggregator = createAggregator(rest.map(promoteDocument), {
      collectionResolver,
      ...(variables === undefined ? {} : { variables: promoteDocument(variables) }),
      ...(collation === undefined ? {} : { collation }),
    });
    // mongod keeps `_id` first in computed documents; mingo appends it.
    return aggregator.run(input.map(promoteDocument)).map((doc) => withIdFirst(demoteDocument(doc)));
  } catch (err) {
    throw mingoErrorToCommandError(err);
  }
}

export const aggregate: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "aggregate");
  const target: unknown = ctx.body["aggregate"];
  const pipeline = args.requireArray("pipeline");
  const cursorOptions = args.document("cursor");
  if (cursorOptions === undefined && args.boolean("explain") !== true) {
    throw commandError("FailedToParse", "The 'cursor' option is required, except for aggregate with the explain argument");
  }
  if (args.boolean("explain") === true) throw commandError("BadValue", "explain is not supported by the embedded server");
  const batchSize = batchSizeOf(
    cursorOptions === undefined ? undefined : commandArgs(cursorOptions, "aggregate.cursor").integer("batchSize"),
  );
  validatePipeline(pipeline, true);
  const stages = rewritePipeline(pipeline as Document[]);
  const collection = toNumber(target) === 1 ? undefined : namespaceOf(ctx.db, target, "aggregate").slice(ctx.db.length + 1);
  if (stages[0] !== undefined && "$changeStream" in stages[0]) {
    return openChangeStream(ctx, collection, stages[0]["$changeStream"], stages.slice(1), batchSize);
  }
  if (collection === undefined && !(stages[0] !== undefined && "$documents" in stages[0])) {
    throw commandError("InvalidNamespace", "{aggregate: 1} is not valid for this pipeline: it must start with $documents or $changeStream");
  }
  const variables = args.document("let");
  if (collection !== undefined) validateHint(ctx.server.engine, `${ctx.db}.${collection}`, ctx.body["hint"]);
  const collation = parseCollation(ctx.body["collation"]);
  const results = ctx.scope.read((tx) => runPipeline(tx, ctx.db, collection, stages, { variables, collation }));
  const ns = collection === undefined ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${collection}`;
  return firstBatchReply(ctx.server.cursors, ns, results, { batchSize, singleBatch: false });
};
