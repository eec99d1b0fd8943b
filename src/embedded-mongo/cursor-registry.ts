/**
 * Open server-side cursors, keyed by positive int64 ids. Query cursors hold
 * their remaining results (materialized from one snapshot when opened, so a
 * cursor opened in a transaction reads that transaction's view); change-stream
 * cursors hold their position. Idle cursors are closed after a timeout.
 */
import { BSON, Long, type Document } from "bson";
import { randomBytes } from "node:crypto";

/** Replies stay below the 16 MiB BSON limit with room for the envelope. */
export const maxBatchBytes = 16 * 1024 * 1024 - 16 * 1024;

/**
 * What a document of `size` bytes adds to a batch array as its `index`th
 * element: the document, its type byte and its key (the index in decimal,
 * NUL-terminated). Counted as mongod counts its batch's bytes: 16 MiB of
 * documents of a few hundred bytes carry another 1-2% of keys, which pushed
 * a reply past the 16 MiB + 16 KiB a reply may have (BSONObjectTooLarge).
 */
export function batchEntrySize(index: number, size: number): number {
  return size + 2 + String(index).length;
}
/** mongod's default first-batch size. */
export const defaultFirstBatchSize = 101;

export interface QueryCursorState {
  readonly kind: "query";
  readonly docs: Document[];
  /** Applied to each document as it is sent (a find projection), so unsent results cost nothing. */
  readonly transform: ((doc: Document) => Document) | undefined;
  position: number;
}

/** Owned by the change-stream module; the registry only stores and closes it. */
export interface ChangeStreamCursorState {
  readonly kind: "changeStream";
  /** Aborts a pending getMore wait when the cursor is killed. */
  readonly abort: AbortController;
  readonly state: unknown;
}

export type CursorState = QueryCursorState | ChangeStreamCursorState;

export interface CursorEntry {
  readonly id: bigint;
  readonly ns: string;
  lastUsed: number;
  readonly cursor: CursorState;
}

export interface CursorRegistry {
  open(ns: string, cursor: CursorState): Long;
  get(id: bigint): CursorEntry | undefined;
  /** True when the cursor existed. */
  kill(id: bigint): boolean;
  /** Closes cursors idle longer than the timeout; returns how many. */
  sweep(now?: number): number;
  closeAll(): void;
  readonly size: number;
}

export function createCursorRegistry(options: { idleTimeoutMs: number }): CursorRegistry {
  const entries = new Map<bigint, CursorEntry>();

  const newId = (): bigint => {
    for (;;) {
      const id = randomBytes(8).readBigUInt64LE() & 0x7fff_ffff_ffff_ffffn;
      if (id !== 0n && !entries.has(id)) return id;
    }
  };

  const close = (entry: CursorEntry): void => {
    if (entry.cursor.kind === "changeStream") entry.cursor.abort.abort();
    entries.delete(entry.id);
  };

  return {
    open(ns, cursor) {
      const id = newId();
      entries.set(id, { id, ns, lastUsed: Date.now(), cursor });
      return Long.fromBigInt(id);
    },
    get(id) {
      const entry = entries.get(id);
      if (entry !== undefined) entry.lastUsed = Date.now();
      return entry;
    },
    kill(id) {
      const entry = entries.get(id);
      if (entry === undefined) return false;
      close(entry);
      return true;
    },
    sweep(now = Date.now()) {
      let closed = 0;
      for (const entry of [...entries.values()]) {
        if (now - entry.lastUsed > options.idleTimeoutMs) {
          close(entry);
          closed++;
        }
      }
      return closed;
    },
    closeAll() {
      for (const entry of [...entries.values()]) close(entry);
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The next batch from `docs[start…]` (each passed through `transform`): at
 * most `maxCount` documents and `maxBatchBytes` as a BSON array, but always
 * at least one document when any remain.
 */
export function takeBatch(docs: readonly Document[], start: number, maxCount: number, transform?: (doc: Document) => Document): Document[] {
  const out: Document[] = [];
  let bytes = 0;
  for (let i = start; i < docs.length && out.length < maxCount; i++) {
    const stored = docs[i];
    if (stored === undefined) break;
    const doc = transform === undefined ? stored : transform(stored);
    const size = batchEntrySize(out.length, BSON.calculateObjectSize(doc));
    if (out.length > 0 && bytes + size > maxBatchBytes) break;
    out.push(doc);
    bytes += size;
  }
  return out;
}
