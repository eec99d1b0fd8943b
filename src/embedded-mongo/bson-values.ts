/**
 * The engine's BSON value semantics, with the one import site the command
 * layer uses: `compareValues` (MongoDB cross-type order, numbers by value),
 * `matches` (query predicates on typed documents), and the promoted view mingo
 * evaluates (`promoteDocument`) together with its way back (`demoteValue`).
 */
import type { Document } from "bson";
import { PromotedBinary, PromotedTimestamp, toPromoted } from "./engine/values.ts";

export { compareValues, matches } from "./engine/values.ts";

/** The promoted (mingo-comparable) view of a stored document. */
export function promoteDocument(doc: Document): Document {
  return toPromoted(doc) as Document;
}

/**
 * Turns mingo output back into serializable BSON values: promoted Binary and
 * Timestamp wrappers become the BSON values again. Numbers stay JS numbers
 * (sent as int32 when integral and in range, else double): a computed
 * pipeline result does not keep the Int32/Long/Double distinction.
 */
export function demoteValue(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof PromotedBinary) return value.binary;
  if (value instanceof PromotedTimestamp) return value.timestamp;
  if (Array.isArray(value)) return value.map(demoteValue);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Document = {};
  for (const [key, item] of Object.entries(value)) out[key] = demoteValue(item);
  return out;
}

export function demoteDocument(doc: unknown): Document {
  return demoteValue(doc) as Document;
}
