/**
 * Cursor replies (`{cursor:{firstBatch|nextBatch, id:<int64>, ns}, ok:1}`)
 * and registration of the remainder of a result set as a query cursor.
 */
import { Long, type Document } from "bson";
import { defaultFirstBatchSize, takeBatch, type CursorRegistry } from "../cursor-registry.ts";
import { commandError } from "../errors.ts";

export interface BatchOptions {
  readonly batchSize: number | undefined;
  readonly singleBatch: boolean;
  /** Applied to each result as it is sent (find projections). */
  readonly transform?: ((doc: Document) => Document) | undefined;
}

export function cursorReply(ns: string, batchField: "firstBatch" | "nextBatch", batch: Document[], id: Long): Document {
  return { cursor: { [batchField]: batch, id, ns }, ok: 1 };
}

/** Validates `batchSize` (non-negative integer) from a command or its `cursor` sub-document. */
export function batchSizeOf(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) throw commandError("BadValue", `batchSize must be a non-negative integer, got ${value}`);
  return value;
}

/**
 * Sends the first batch of `results`; keeps the rest in a new cursor unless
 * everything fit or the caller wants a single batch.
 */
export function firstBatchReply(cursors: CursorRegistry, ns: string, results: Document[], options: BatchOptions): Document {
  const batch = takeBatch(results, 0, options.batchSize ?? defaultFirstBatchSize, options.transform);
  if (options.singleBatch || batch.length >= results.length) {
    return cursorReply(ns, "firstBatch", batch, Long.ZERO);
  }
  const id = cursors.open(ns, { kind: "query", docs: results, transform: options.transform, position: batch.length });
  return cursorReply(ns, "firstBatch", batch, id);
}
