import type { Document } from "bson";
import { EngineError } from "../../engine/index.ts";
import { toPromoted } from "../../engine/values.ts";
import type { Engine, StoredDoc } from "../../engine/index.ts";

/** Runs `fn` and returns the EngineError it throws (fails the test otherwise). */
export function engineError(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error("expected an EngineError, nothing was thrown");
}

/** Like `engineError` for promises. */
export async function engineRejection(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error("expected an EngineError, the promise resolved");
}

/** Inserts documents in one committed transaction. */
export async function insertAll(engine: Engine, ns: string, docs: readonly Document[]): Promise<void> {
  const txn = engine.begin();
  for (const doc of docs) txn.insert(ns, doc);
  await txn.commit();
}

/** Reads typed documents with a fresh transaction (a snapshot of the committed state). */
export function readTyped(engine: Engine, ns: string, filter: Document = {}): StoredDoc[] {
  const txn = engine.begin();
  try {
    return txn.find(ns, filter);
  } finally {
    txn.abort();
  }
}

/** Documents with numeric wrappers as plain numbers, for readable expectations. */
export function plain(docs: readonly StoredDoc[]): StoredDoc[] {
  return docs.map((d) => toPromoted(d) as StoredDoc);
}

/** `readTyped`, then `plain`. */
export function read(engine: Engine, ns: string, filter: Document = {}): StoredDoc[] {
  return plain(readTyped(engine, ns, filter));
}

/** The `_id` of a document, numbers plain (for comparing result lists). */
export function idOf(doc: StoredDoc): unknown {
  return toPromoted(doc._id);
}
