/**
 * How the command layer runs mingo: on the expression view of documents
 * (engine/expression-view.ts), with every mingo operator except those whose
 * MongoDB answer depends on BSON types, which the engine's typed operators
 * replace (arithmetic, accumulators, comparisons, conversions, truthiness),
 * and three stages done the engine's way:
 *
 * - `$match` with the engine's matcher (exact numeric comparison, `let`
 *   variables in `$expr`);
 * - `$sort` in MongoDB's cross-type order (as find sorts);
 * - `$group` keyed by BSON equality, so Int32 5, Long 5 and 5.0 form one
 *   group, as in MongoDB, whose key keeps the first value's type.
 */
import { Aggregator } from "mingo/aggregator";
import { Context, evalExpr } from "mingo/core";
import { Lazy } from "mingo/lazy";
import type { Iterator } from "mingo/lazy";
import * as accumulatorOperators from "mingo/operators/accumulator";
import * as expressionOperators from "mingo/operators/expression";
import * as pipelineOperators from "mingo/operators/pipeline";
import * as projectionOperators from "mingo/operators/projection";
import * as queryOperators from "mingo/operators/query";
import * as windowOperators from "mingo/operators/window";
import type { AnyObject, Options } from "mingo/types";
import type { Document } from "bson";
import {
  compileFilter,
  demoteDocument,
  demoteValue,
  foldValue,
  keyString,
  typedAccumulatorOperators,
  typedExpressionOperators,
  type Collation,
} from "../bson-values.ts";
import { isPlainObject } from "../document-paths.ts";
import { commandError } from "../errors.ts";
import { parseSort, sortDocuments } from "./sort-documents.ts";

type PipelineOperator = (collection: Iterator, expr: unknown, options: Options) => Iterator;

/**
 * The variables in scope (the command's `let`, and those a `$lookup` binds
 * for its sub-pipeline) as the engine's matcher takes them (BSON values).
 */
function variablesOf(options: Options): Document | undefined {
  const local = (options as { local?: { variables?: AnyObject } }).local?.variables;
  if (options.variables === undefined && local === undefined) return undefined;
  return demoteDocument({ ...options.variables, ...local });
}

/** The command's collation, which createAggregator puts in mingo's own option. */
function collationOf(options: Options): Collation | undefined {
  return options.collation as Collation | undefined;
}

const $match: PipelineOperator = (collection, expr, options) => {
  if (!isPlainObject(expr)) throw commandError("BadValue", "the match filter must be an expression in an object");
  const collation = collationOf(options);
  const filter = demoteDocument(expr);
  if (collation === undefined) {
    const predicate = compileFilter(filter, variablesOf(options));
    return collection.filter((doc) => predicate(demoteDocument(doc)));
  }
  const predicate = compileFilter(foldValue(collation, filter) as Document, variablesOf(options));
  return collection.filter((doc) => predicate(foldValue(collation, demoteDocument(doc)) as Document));
};

const $sort: PipelineOperator = (collection, expr, options) => {
  const spec = parseSort(demoteValue(expr));
  const collation = collationOf(options);
  return collection.transform((items: unknown[]) => {
    const typed = new Map<Document, unknown>();
    const docs = items.map((item) => {
      const doc = demoteDocument(item);
      typed.set(doc, item);
      return doc;
    });
    return Lazy(sortDocuments(docs, spec, collation).map((doc) => typed.get(doc)));
  });
};

const $group: PipelineOperator = (collection, expr, options) => {
  if (!isPlainObject(expr) || !Object.hasOwn(expr, "_id")) {
    throw commandError("Location15955", "a group specification must include an _id");
  }
  const idExpr: unknown = expr["_id"];
  const fields = Object.keys(expr).filter((k) => k !== "_id");
  const collation = collationOf(options);
  return collection.transform((items: unknown[]) => {
    const groups = new Map<string, { key: unknown; members: AnyObject[] }>();
    for (const item of items) {
      const key = evalExpr(item, idExpr, options) ?? null;
      const typedKey = demoteValue(key);
      const k = keyString(collation === undefined ? typedKey : foldValue(collation, typedKey));
      const group = groups.get(k);
      if (group === undefined) groups.set(k, { key, members: [item as AnyObject] });
      else group.members.push(item as AnyObject);
    }
    const out: AnyObject[] = [];
    for (const { key, members } of groups.values()) {
      const doc: AnyObject = { _id: key };
      // As mingo's own $group: accumulators evaluate on the group's members.
      for (const field of fields) doc[field] = evalExpr(members, expr[field], options);
      out.push(doc);
    }
    return Lazy(out);
  });
};

const context = Context.init({
  accumulator: { ...accumulatorOperators, ...typedAccumulatorOperators },
  expression: { ...expressionOperators, ...typedExpressionOperators },
  pipeline: { ...pipelineOperators, $match, $sort, $group },
  projection: projectionOperators,
  query: queryOperators,
  window: windowOperators,
});

export interface AggregatorSources {
  /** Serves `$lookup`, `$graphLookup` and `$unionWith`. */
  readonly collectionResolver?: (name: string) => AnyObject[];
  /** The command's `let` variables (in the expression view), visible as `$$name`. */
  readonly variables?: AnyObject;
  /** The command's collation, for $match, $sort and $group keys. */
  readonly collation?: Collation;
}

/** A mingo aggregator over documents in the expression view. */
export function createAggregator(pipeline: readonly AnyObject[], sources: AggregatorSources = {}): Aggregator {
  const options: { -readonly [K in keyof Options]?: Options[K] } = { context };
  if (sources.collectionResolver !== undefined) options.collectionResolver = sources.collectionResolver;
  if (sources.variables !== undefined) options.variables = sources.variables;
  if (sources.collation !== undefined) options.collation = sources.collation;
  return new Aggregator([...pipeline], options);
}
