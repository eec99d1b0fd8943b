/**
 * How the command layer runs mingo: on promoted documents, with every mingo
 * operator, except that the aggregation comparison operators ($cmp, $eq, $ne,
 * $gt, $gte, $lt, $lte) follow MongoDB's BSON order (arrays compare as arrays,
 * objects < arrays < binary, a missing value below null) instead of mingo's.
 */
import { Aggregator } from "mingo/aggregator";
import { Context, evalExpr } from "mingo/core";
import * as accumulatorOperators from "mingo/operators/accumulator";
import * as expressionOperators from "mingo/operators/expression";
import * as pipelineOperators from "mingo/operators/pipeline";
import * as projectionOperators from "mingo/operators/projection";
import * as queryOperators from "mingo/operators/query";
import * as windowOperators from "mingo/operators/window";
import type { AnyObject, Options } from "mingo/types";
import { compareValues, demoteValue } from "../bson-values.ts";
import { commandError } from "../errors.ts";

/** Aggregation-expression comparison: MongoDB order, with missing below null. */
export function compareExpressionValues(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    if (a === undefined && b === null) return -1;
    if (b === undefined && a === null) return 1;
  }
  return compareValues(demoteValue(a), demoteValue(b));
}

type ComparisonOperator = (obj: AnyObject, expr: unknown, options: Options) => unknown;

function comparison(name: string, test: (c: number) => boolean | number): ComparisonOperator {
  return (obj, expr, options) => {
    if (!Array.isArray(expr) || expr.length !== 2) {
      throw commandError("BadValue", `Expression ${name} takes exactly 2 arguments.`);
    }
    const [a, b] = evalExpr(obj, expr, options) as [unknown, unknown];
    return test(compareExpressionValues(a, b));
  };
}

const context = Context.init({
  accumulator: accumulatorOperators,
  expression: {
    ...expressionOperators,
    $cmp: comparison("$cmp", (c) => c),
    $eq: comparison("$eq", (c) => c === 0),
    $ne: comparison("$ne", (c) => c !== 0),
    $gt: comparison("$gt", (c) => c > 0),
    $gte: comparison("$gte", (c) => c >= 0),
    $lt: comparison("$lt", (c) => c < 0),
    $lte: comparison("$lte", (c) => c <= 0),
  },
  pipeline: pipelineOperators,
  projection: projectionOperators,
  query: queryOperators,
  window: windowOperators,
});

export interface AggregatorSources {
  /** Serves `$lookup`, `$graphLookup` and `$unionWith`. */
  readonly collectionResolver?: (name: string) => AnyObject[];
  /** The command's `let` variables (promoted), visible as `$$name`. */
  readonly variables?: AnyObject;
}

/** A mingo aggregator over promoted documents. */
export function createAggregator(pipeline: readonly AnyObject[], sources: AggregatorSources = {}): Aggregator {
  const options: { -readonly [K in keyof Options]?: Options[K] } = { context };
  if (sources.collectionResolver !== undefined) options.collectionResolver = sources.collectionResolver;
  if (sources.variables !== undefined) options.variables = sources.variables;
  return new Aggregator([...pipeline], options);
}
