/**
 * The engine's BSON value semantics, with the one import site the command
 * layer uses: `compareValues` (MongoDB cross-type order, numbers by value),
 * `matches` (query predicates on typed documents), and the expression view
 * mingo evaluates aggregation on (`promoteDocument`) together with its way
 * back (`demoteValue`), which keep every BSON type (see
 * engine/expression-view.ts).
 */
import type { Document } from "bson";
import { fromExpressionView, toExpressionView } from "./engine/values.ts";

export {
  collatedComparator,
  collationDocument,
  compareValues,
  compareViewValues,
  compileFilter,
  compileJsonSchema,
  foldValue,
  keyString,
  matches,
  parseCollation,
  topLevelFieldsRead,
  typedAccumulatorOperators,
  typedExpressionOperators,
} from "./engine/values.ts";
export type { Collation, DocPredicate } from "./engine/values.ts";

/** The expression view of a stored document (or of a pipeline stage, a `let` document, …). */
export function promoteDocument(doc: Document): Document {
  return toExpressionView(doc) as Document;
}

/** Turns expression-view values back into serializable BSON values. */
export function demoteValue(value: unknown): unknown {
  return fromExpressionView(value);
}

export function demoteDocument(doc: unknown): Document {
  return demoteValue(doc) as Document;
}
