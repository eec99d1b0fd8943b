/**
 * The contract between the embedded server's storage engine (`engine/`) and its
 * wire/command layer (everything else under `src/embedded-mongo/`).
 *
 * The engine owns documents, indexes, snapshot-isolated transactions, the change
 * log and the journal. The command layer owns the wire protocol, command parsing,
 * update operators, sort/projection/aggregation, cursors and sessions. Everything
 * the engine does is synchronous in memory; only what must reach the disk
 * (commit, DDL, close) is asynchronous, so no open transaction can stall others.
 */
import type { Document, Timestamp, UUID } from "bson";

/**
 * A stored document: BSON as deserialized with `promoteValues: false`, so Int32,
 * Double and Long wrappers (and every other BSON type) survive the round trip.
 * Engine callers must treat returned documents as immutable.
 */
export type StoredDoc = Document;

/** `"db.coll"`; split at the first dot, as the driver does. */
export type Namespace = string;

/** An index as listIndexes reports it. `key` keeps the field order. */
export interface IndexSpec {
  readonly name: string;
  readonly key: ReadonlyArray<readonly [field: string, direction: 1 | -1]>;
  readonly unique?: boolean;
  readonly sparse?: boolean;
  readonly partialFilterExpression?: Document;
  /** MongoDB's normalised collation document (see collation.ts); absent for binary comparison. */
  readonly collation?: Document;
}

/** A locale and a strength (1 base letters, 2 also accents, 3 also case); see collation.ts. */
export interface Collation {
  readonly locale: string;
  readonly strength: 1 | 2 | 3;
}

/** How `Transaction.find` matches besides the filter. */
export interface FindOptions {
  /** The command's `let` variables (`$$name` in `$expr`). */
  readonly variables?: Document | undefined;
  /** Strings compare under this collation (such finds scan the collection). */
  readonly collation?: Collation | undefined;
  /** The order and limit the caller will apply (see FindOrder). */
  readonly order?: FindOrder | undefined;
}

export interface CollectionInfo {
  readonly name: string;
  readonly uuid: UUID;
  readonly options: Document;
  readonly indexes: readonly IndexSpec[];
}

/** Data changes, drops, and the DDL events MongoDB shows with `showExpandedEvents`. */
export type ChangeOperationType =
  | "insert"
  | "update"
  | "replace"
  | "delete"
  | "drop"
  | "rename"
  | "dropDatabase"
  | "create"
  | "createIndexes"
  | "dropIndexes"
  | "modify";

/** The session and transaction number of a multi-document transaction. */
export interface TransactionSession {
  /** The `lsid` as change events report it (`{id, uid}`). */
  readonly lsid: Document;
  readonly txnNumber: bigint;
}

/** One committed change, in commit order; the source of change streams. */
export interface ChangeEvent {
  /** Global, gap-free position in commit order (1, 2, 3, …). */
  readonly seq: bigint;
  /** The commit's cluster time, shared by every event of one commit (one transaction). */
  readonly clusterTime: Timestamp;
  readonly wallTime: Date;
  readonly ns: Namespace;
  readonly operationType: ChangeOperationType;
  readonly documentKey?: { readonly _id: unknown };
  /** Post-image for insert, replace and update. */
  readonly fullDocument?: StoredDoc;
  /** Pre-image for update, replace and delete. */
  readonly fullDocumentBeforeChange?: StoredDoc;
  /** For `update` only: paths set, paths removed, arrays truncated. */
  readonly updateDescription?: {
    readonly updatedFields: Document;
    readonly removedFields: readonly string[];
    readonly truncatedArrays: readonly Document[];
    /** Changed paths with an array index or a numeric field name, component by component (indices as numbers). */
    readonly disambiguatedPaths: Document;
  };
  /** Set when the change belongs to a multi-document transaction. */
  readonly txn?: TransactionSession;
  /** The collection's UUID (absent for dropDatabase). */
  readonly collectionUUID?: UUID;
  /**
   * DDL events: the options a `create` or `modify` set, the indexes
   * `createIndexes`/`dropIndexes` touched, a `rename`'s target (and the UUID
   * of the collection it replaced).
   */
  readonly operationDescription?: {
    readonly options?: Document;
    readonly indexes?: readonly IndexSpec[];
    readonly to?: Namespace;
    readonly droppedTarget?: UUID;
  };
}

/**
 * A snapshot-isolated unit of work. Single statements outside a client
 * transaction use one too (begin, write, commit), which makes every
 * single-document write atomic.
 */
export interface Transaction {
  /** Change-log position this transaction reads at. */
  readonly snapshotSeq: bigint;
  /** The cluster time of the last commit it sees (a read's `operationTime`). */
  readonly snapshotTime: Timestamp;
  /**
   * Documents of `ns` matching `filter` (MongoDB query semantics, numeric types
   * compared by value) as of the snapshot plus this transaction's own writes, in
   * `_id`-index order unless an index was used. Uses an index for equality, `$in`
   * and range predicates on indexed fields, so point lookups never scan.
   * With `options.order`, when the index the query uses yields documents in
   * that order (see FindOrder), they come back in it and the scan stops after
   * `order.limit` matches, so a keyset page costs its length, not the size
   * of the range, unless an `$or` index union examines fewer keys (then the
   * ordered walk gives up after that many); otherwise `order` changes
   * nothing. A missing collection yields `[]`.
   */
  find(ns: Namespace, filter: Document, options?: FindOptions): StoredDoc[];
  /**
   * Creates the collection implicitly. Throws `EngineError` 11000 or 112, or
   * (for a document over 16 MiB) 10334 BSONObjectTooLarge, 17420 for an upsert.
   */
  insert(ns: Namespace, doc: StoredDoc, origin?: "insert" | "upsert"): void;
  /**
   * Replaces the document whose `_id` is `id`. `kind` says which change event
   * it becomes. Throws `EngineError` 11000 (unique index) or 112 (WriteConflict:
   * another transaction wrote this document after our snapshot, or holds an
   * uncommitted write to it), or 17419 when the result exceeds 16 MiB.
   */
  replace(ns: Namespace, id: unknown, doc: StoredDoc, kind: "update" | "replace"): void;
  /** Throws `EngineError` 112 on a write conflict as `replace` does. */
  delete(ns: Namespace, id: unknown): void;
  /**
   * Creates a collection as part of this transaction (MongoDB 4.4+): invisible
   * to others until commit, gone on abort. Throws 48 NamespaceExists.
   */
  createCollection(ns: Namespace, options: Document): void;
  /**
   * Creates indexes as part of this transaction. Only on a collection this
   * transaction creates (explicitly or by its first insert), as in MongoDB;
   * otherwise 263 OperationNotSupportedInTransaction. Returns the index counts.
   */
  createIndexes(ns: Namespace, specs: readonly IndexSpec[]): { before: number; after: number };
  /**
   * Publishes the writes; resolves only once they are in the journal (when
   * there is one), with the commit's cluster time (null when there was nothing
   * to commit).
   */
  commit(): Promise<Timestamp | null>;
  /** Discards the writes and releases their write intents. Idempotent. */
  abort(): void;
  readonly state: "active" | "committed" | "aborted";
  /** How the last `find` ran (for tests and benchmarks; added by the engine). */
  readonly lastFind?: FindStats | undefined;
}

/**
 * The order a `find` caller will sort its result in and how many documents
 * it keeps (a find command's sort and skip + limit). The engine honours it
 * when the query's index walks documents in that order: one interval of an
 * index that has never held an array (an equality prefix, then at most one
 * range), whose next fields after the prefix are the sort fields, ascending
 * in both (sort fields in the equality prefix are constant and skipped), and
 * no uncommitted writes of the transaction in that collection.
 */
export interface FindOrder {
  /** Sort fields with their directions, as in a find command's `sort`. */
  readonly sort: ReadonlyArray<readonly [field: string, direction: 1 | -1]>;
  /** At most this many matching documents are needed. */
  readonly limit: number;
}

/** The cost of one `Transaction.find`: the index used and what it examined. */
export interface FindStats {
  /** Index name, or null for a full `_id`-order scan. */
  readonly index: string | null;
  /** Committed index entries walked. */
  readonly keysExamined: number;
  /** Documents whose visible version was checked against the filter. */
  readonly docsExamined: number;
  /** Whether the documents came back in a FindOrder's order, the scan stopping at its limit. */
  readonly ordered?: boolean;
}

export interface ChangeLog {
  /** Position of the newest committed change (0n before any). */
  latestSeq(): bigint;
  /** Position of the newest durable change; readers see nothing after it. */
  durableSeq(): bigint;
  /** The cluster time of the newest durable change. */
  durableTime(): Timestamp;
  /** Oldest position still retained; resuming before it is ChangeStreamHistoryLost (286). */
  oldestSeq(): bigint;
  /** Changes with a cluster time up to this one may be gone; starting at or before it is ChangeStreamHistoryLost. */
  lostUpTo(): Timestamp;
  /** The position of the last change at or before `time`; undefined when that history is gone. */
  positionAt(time: Timestamp): bigint | undefined;
  /** Durable events with `seq > after`, at most `limit`. */
  since(after: bigint, limit: number): ChangeEvent[];
  /** Resolves when `durableSeq() > after`, or after `timeoutMs`, or when `signal` aborts. */
  waitFor(after: bigint, timeoutMs: number, signal?: AbortSignal): Promise<void>;
}

/** Catalog and transactions of the whole server (all databases). */
/** How a transaction begins. */
export interface BeginOptions {
  /** The client session of a multi-document transaction (its change events carry it). */
  readonly session?: TransactionSession;
  /**
   * "durable" reads the newest durable state (readConcern majority or
   * snapshot outside a transaction); "latest" (default) everything applied; a
   * Timestamp the state as of that cluster time (readConcern snapshot with
   * atClusterTime), which must be durable and within the snapshot history
   * (else 239 SnapshotTooOld).
   */
  readonly readAt?: "latest" | "durable" | Timestamp;
  /**
   * A snapshot read (readConcern snapshot): keeps the state it reads readable
   * for the snapshot history window, so later reads at its cluster time (the
   * rest of a snapshot session) see the same state.
   */
  readonly keepSnapshot?: boolean;
}

export interface Engine {
  /**
   * This store's identity (16 hex digits): random per in-memory store, kept
   * in the data directory otherwise. Resume tokens carry it, so a token from
   * another store (or one that lost its data) is refused, not misread.
   */
  readonly storeId: string;
  begin(options?: BeginOptions): Transaction;
  readonly changes: ChangeLog;
  /** The current cluster time (`$clusterTime` of replies); never less than any commit time. */
  clusterTime(): Timestamp;
  /** Gossip: a client's `$clusterTime` moves the clock forward (a keyless deployment accepts it). */
  advanceClusterTime(time: Timestamp): void;
  /**
   * A high-water mark for change streams: every change with a cluster time up
   * to it is durable and at or before `durableSeq()`; later commits get greater times.
   */
  durableHighWaterMark(): Timestamp;
  listDatabases(): string[];
  listCollections(db: string): CollectionInfo[];
  /** False when it already existed. */
  createCollection(ns: Namespace, options?: Document): Promise<boolean>;
  /** The options a collection was created (or last collMod-ed) with; null when it does not exist. */
  collectionOptions(ns: Namespace): Document | null;
  /** Replaces a collection's options (collMod, a `modify` event); NamespaceNotFound (26) when it does not exist. */
  setCollectionOptions(ns: Namespace, options: Document): Promise<void>;
  /** Null when it did not exist (NamespaceNotFound). */
  dropCollection(ns: Namespace): Promise<{ nIndexesWas: number } | null>;
  /**
   * Moves a collection (documents, indexes, UUID) to another namespace, also
   * in another database. Throws 26 when the source does not exist, 48 when
   * the target does and `dropTarget` is false (with it, the target is dropped).
   */
  renameCollection(from: Namespace, to: Namespace, dropTarget: boolean): Promise<void>;
  dropDatabase(db: string): Promise<void>;
  /**
   * Creates the collection implicitly; an identical existing index is a no-op;
   * a unique index over existing duplicates fails with 11000 and creates nothing.
   */
  createIndexes(ns: Namespace, specs: readonly IndexSpec[]): Promise<{ before: number; after: number }>;
  /** Null when the collection does not exist. */
  listIndexes(ns: Namespace): IndexSpec[] | null;
  /** Returns the count before; `_id_` cannot be dropped (code 72). */
  dropIndexes(ns: Namespace, names: readonly string[] | "*"): Promise<number>;
  /** Flushes and closes the journal. */
  close(): Promise<void>;
}

export interface EngineOptions {
  /** Journal directory; without it the engine is purely in memory. */
  readonly dataDir?: string;
  /** One-line reports (for example a torn journal tail cut off on start). */
  readonly log?: (level: "info" | "warn" | "error", message: string) => void;
  /** How many recent change events to keep for change streams (default 100 000). */
  readonly changeLogRetention?: number;
  /** How long to keep change events for change streams (default 24 hours). */
  readonly changeLogRetentionMs?: number;
  /**
   * How long the state a snapshot read saw stays readable by later snapshot
   * reads at its cluster time (mongod's minSnapshotHistoryWindowInSeconds;
   * default 300 s). Only snapshot reads keep old versions; other work does not.
   */
  readonly snapshotHistoryMs?: number;
  /** Journal size that triggers a snapshot and a fresh journal (default 64 MiB). */
  readonly compactAfterBytes?: number;
}

/** The largest document a client may store (maxBsonObjectSize, BSONObjMaxUserSize). */
export const maxBsonObjectSize = 16 * 1024 * 1024;
/** The largest command or reply document (BSONObjMaxInternalSize: 16 MiB plus 16 KiB of envelope). */
export const maxBsonInternalSize = maxBsonObjectSize + 16 * 1024;

/** An error with a MongoDB code; the command layer sends it as-is. */
export class EngineError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    /** Extra reply fields, e.g. `keyPattern` and `keyValue` for 11000. */
    readonly extra: Document = {},
    readonly errorLabels: readonly string[] = [],
  ) {
    super(message);
    this.name = "EngineError";
  }
}

/**
 * A WriteConflict (112) caused by another transaction's uncommitted write:
 * `blocker` settles when that transaction ends, so a statement outside a
 * transaction can wait for it and retry, as mongod does.
 */
export class WriteConflictError extends EngineError {
  constructor(
    message: string,
    readonly blocker: Promise<void> | undefined,
  ) {
    super(112, "WriteConflict", message, {}, ["TransientTransactionError"]);
    this.name = "WriteConflictError";
  }
}
