/**
 * Snapshot-isolated transactions. A transaction reads the committed state as
 * of its snapshot plus its own writes. Every write first takes a write intent
 * on the document (and on each unique-index key it claims); meeting another
 * transaction's intent, or a commit newer than the snapshot, is a WriteConflict
 * (first writer wins, as in MongoDB). Commit therefore never conflicts: it
 * only publishes.
 */
import type { Document, Timestamp } from "bson";
import { documentSize } from "./bson-size.ts";
import { compareValues, typeRank } from "./compare.ts";
import { createIndexState, idKey, latestVersion, promotedOf, visibleVersion } from "./collection-state.ts";
import type { CollectionState, IndexEntry, IndexState, IntentHolder } from "./collection-state.ts";
import { duplicateKeyError, indexKeys, tupleKeyString } from "./index-keys.ts";
import { compileFilter } from "./match.ts";
import type { DocPredicate } from "./match.ts";
import { toPromoted } from "./promote.ts";
import { atOrAfterStart, cheapestUnion, pastEnd, planFind, planQuery } from "./query-plan.ts";
import type { FindPlan, KeyInterval, QueryPlan } from "./query-plan.ts";
import { createSortedList } from "./sorted-list.ts";
import type { SortedList } from "./sorted-list.ts";
import { compareEntries, indexEntry } from "./collection-state.ts";
import { admitSpec } from "./index-specs.ts";
import { EngineError, maxBsonObjectSize, WriteConflictError } from "./types.ts";
import type { FindOptions, FindOrder, FindStats, IndexSpec, Namespace, StoredDoc, Transaction, TransactionSession } from "./types.ts";
import { foldValue } from "./collation.ts";
import { freezeCopy } from "./values.ts";

/** A committed write as the journal and the change log see it. */
export interface WriteOp {
  readonly kind: "insert" | "update" | "replace" | "delete";
  readonly ns: Namespace;
  readonly id: unknown;
  /** The document after the write; null for delete. */
  readonly doc: StoredDoc | null;
  /** BSON size of `doc` (measured once, for the 16 MiB limit and the journal's record splitting). */
  readonly size: number;
}

/** A collection a commit touches, with the DDL the transaction did on it. */
export interface TouchedCollection {
  readonly coll: CollectionState;
  /** Options of an explicit `create` in the transaction. */
  readonly createOptions: Document | undefined;
  /** Indexes the transaction created on it. */
  readonly indexes: readonly IndexSpec[];
}

/** What a commit publishes. */
export interface CommitContent {
  readonly writes: readonly WriteOp[];
  readonly touched: readonly TouchedCollection[];
  readonly session: TransactionSession | undefined;
}

/** What a transaction needs from the engine. */
export interface TransactionHost {
  readonly catalog: ReadonlyMap<Namespace, CollectionState>;
  /** The position and cluster time a new transaction reads at. */
  snapshotPoint(readAt: "latest" | "durable" | Timestamp): { readonly seq: bigint; readonly time: Timestamp };
  /** Returns the collection, creating a not-yet-durable one if needed. */
  collectionForWrite(ns: Namespace): CollectionState;
  /**
   * Publishes the commit atomically (or throws before anything is applied);
   * `durable` resolves once it is in the journal.
   */
  publish(content: CommitContent): { readonly time: Timestamp; readonly durable: Promise<void> };
  /** Called once when the transaction ends, after its intents are released. */
  finished(txn: Transaction): void;
  assertOpen(): void;
}

interface OwnWrite {
  readonly id: unknown;
  readonly doc: StoredDoc | null;
  promoted?: unknown;
}

interface TxnCollection {
  readonly coll: CollectionState;
  readonly version: number;
  /** Options when this transaction created the collection explicitly. */
  createOptions: Document | undefined;
  /** Indexes this transaction created (the collection is its own, so nobody else writes to it). */
  readonly pendingIndexes: IndexState[];
  readonly writes: Map<string, OwnWrite>;
  /** Unique indexes (not `_id_`): key string → `_id` key of the own write holding it. */
  readonly ownUnique: Map<string, Map<string, string>>;
  /**
   * The own writes' current keys per index name, ordered like committed
   * entries; built on the first find that needs them (bulk inserts never do).
   */
  ownIndexes: Map<string, SortedList<IndexEntry>> | null;
}

/** WriteConflict (112); `holder` is the transaction whose uncommitted write was in the way, if any. */
function writeConflict(detail: string, holder?: IntentHolder): EngineError {
  return new WriteConflictError(
    `WriteConflict error: this operation conflicted with another operation. Please retry your operation or multi-document transaction. (${detail})`,
    holder?.ended,
  );
}

/**
 * The document's BSON size, refused over 16 MiB with the code MongoDB uses
 * for the operation (a document that big could neither be sent back nor journaled).
 */
function checkedSize(doc: StoredDoc, operation: "insert" | "upsert" | "update"): number {
  const size = documentSize(doc);
  if (size <= maxBsonObjectSize) return size;
  switch (operation) {
    case "insert":
      throw new EngineError(
        10334,
        "BSONObjectTooLarge",
        `object to insert too large. size in bytes: ${size}, max size: ${maxBsonObjectSize}`,
      );
    case "upsert":
      throw new EngineError(17420, "Location17420", `Document to upsert is larger than ${maxBsonObjectSize}`);
    case "update":
      throw new EngineError(17419, "Location17419", `Resulting document after update is larger than ${maxBsonObjectSize}`);
  }
}

function notInTransaction(message: string): EngineError {
  return new EngineError(263, "OperationNotSupportedInTransaction", message);
}

function noSuchTransaction(state: string): EngineError {
  return new EngineError(
    251,
    "NoSuchTransaction",
    `Transaction is no longer active (it was ${state})`,
    {},
    state === "aborted" ? ["TransientTransactionError"] : [],
  );
}

function checkId(id: unknown): void {
  if (id === undefined) throw new EngineError(2, "BadValue", "document is missing _id");
  if (Array.isArray(id)) throw new EngineError(2, "BadValue", "can't use an array for _id");
  const rank = typeRank(id);
  if (rank === 50) throw new EngineError(2, "BadValue", "can't use a regex for _id");
}

/** A frozen copy with `_id` first (MongoDB moves it there). */
function prepareDoc(doc: Document, id: unknown): StoredDoc {
  const keys = Object.keys(doc);
  if (keys[0] === "_id") return freezeCopy(doc);
  const ordered: Document = { _id: id };
  for (const k of keys) {
    const value: unknown = doc[k];
    if (k !== "_id") ordered[k] = value;
  }
  return freezeCopy(ordered);
}

function* scanInterval(list: SortedList<IndexEntry>, interval: KeyInterval): Generator<IndexEntry> {
  for (const entry of list.from((e) => atOrAfterStart(e.key, interval))) {
    if (pastEnd(entry.key, interval)) return;
    yield entry;
  }
}

/** Committed index keys `plan` would examine, counting no further than `cap`. */
function planCost(plan: QueryPlan<IndexState>, cap: number): number {
  const { index, intervals } = plan;
  if (index.def.spec.name === "_id_" && intervals.every((i) => i.range === undefined)) return intervals.length;
  let n = 0;
  for (const interval of intervals) {
    for (const _ of scanInterval(index.entries, interval)) {
      if (++n >= cap) return n;
    }
  }
  return n;
}

function* entriesWithKey(list: SortedList<IndexEntry>, key: readonly unknown[]): Generator<IndexEntry> {
  yield* scanInterval(list, { prefix: key });
}

/** Whether `doc` has the key `ks` (a tupleKeyString) in `index`. */
function hasKey(index: IndexState, coll: CollectionState, doc: StoredDoc | null | undefined, ks: string): boolean {
  if (doc == null) return false;
  return indexKeys(index.def, doc, coll.ns)?.some((k) => tupleKeyString(k) === ks) ?? false;
}

/**
 * The one interval of `plan` when walking it yields documents in `order`
 * (see FindOrder), else undefined.
 */
function orderedInterval(plan: QueryPlan<IndexState>, order: FindOrder): KeyInterval | undefined {
  const interval = plan.intervals.length === 1 ? plan.intervals[0] : undefined;
  if (interval === undefined || plan.index.multikey) return undefined;
  const key = plan.index.def.spec.key;
  const prefixFields = new Set(key.slice(0, interval.prefix.length).map(([field]) => field));
  let next = interval.prefix.length;
  for (const [field, direction] of order.sort) {
    if (prefixFields.has(field)) continue;
    const indexed = key[next];
    if (indexed === undefined || indexed[0] !== field || indexed[1] !== 1 || direction !== 1) return undefined;
    next++;
  }
  return interval;
}

let nextTxnId = 1;

export function createTransaction(
  host: TransactionHost,
  session?: TransactionSession,
  readAt: "latest" | "durable" | Timestamp = "latest",
): Transaction & { readonly id: number } {
  return new SnapshotTransaction(host, session, readAt);
}

/**
 * A class rather than a closure factory on purpose: the command layer begins
 * one transaction per statement, and per-instance closures (each renamed by
 * the tsx/esbuild `keepNames` helper) made `begin` several times slower.
 */
class SnapshotTransaction implements Transaction {
  readonly id = nextTxnId++;
  readonly snapshotSeq: bigint;
  readonly snapshotTime: Timestamp;
  #state: "active" | "committed" | "aborted" = "active";
  readonly #host: TransactionHost;
  readonly #session: TransactionSession | undefined;
  #ended: Promise<void> | undefined;
  #signalEnded: (() => void) | undefined;
  readonly #colls = new Map<Namespace, TxnCollection>();
  readonly #ops: WriteOp[] = [];
  /** Unique-index keys this transaction claimed. */
  readonly #heldKeys: { index: IndexState; key: string }[] = [];
  #lastFind: FindStats | undefined;
  #commitTime: Timestamp | null = null;

  constructor(host: TransactionHost, session: TransactionSession | undefined, readAt: "latest" | "durable" | Timestamp) {
    this.#host = host;
    this.#session = session;
    const point = host.snapshotPoint(readAt);
    this.snapshotSeq = point.seq;
    this.snapshotTime = point.time;
  }

  get state(): "active" | "committed" | "aborted" {
    return this.#state;
  }

  /** Created on first use: only a transaction somebody waits for needs the promise. */
  get ended(): Promise<void> {
    if (this.#ended === undefined) {
      if (this.#state !== "active") return Promise.resolve();
      this.#ended = new Promise((resolve) => {
        this.#signalEnded = resolve;
      });
    }
    return this.#ended;
  }

  get lastFind(): FindStats | undefined {
    return this.#lastFind;
  }

  #assertActive(): void {
    this.#host.assertOpen();
    if (this.#state !== "active") throw noSuchTransaction(this.#state);
  }

  /** Per-collection write state, or a conflict if the collection changed under us. */
  #writeState(coll: CollectionState): TxnCollection {
    let tc = this.#colls.get(coll.ns);
    if (tc !== undefined && (tc.coll !== coll || tc.version !== coll.version)) {
      throw writeConflict(`collection ${coll.ns} was dropped or its indexes changed during the transaction`);
    }
    if (tc === undefined) {
      const ownUnique = new Map<string, Map<string, string>>();
      for (const index of coll.indexes) {
        if (index.def.unique && index.def.spec.name !== "_id_") ownUnique.set(index.def.spec.name, new Map());
      }
      tc = { coll, version: coll.version, createOptions: undefined, pendingIndexes: [], writes: new Map(), ownUnique, ownIndexes: null };
      this.#colls.set(coll.ns, tc);
    }
    return tc;
  }

  /** The committed indexes plus the ones this transaction created. */
  #indexesOf(coll: CollectionState, tc: TxnCollection | undefined): readonly IndexState[] {
    return tc === undefined || tc.pendingIndexes.length === 0 ? coll.indexes : [...coll.indexes, ...tc.pendingIndexes];
  }

  /** Refuses DDL on a collection other transactions are writing to (they would not see its new indexes). */
  #assertSoleWriter(coll: CollectionState): void {
    for (const holder of coll.docIntents.values()) {
      if (holder !== this && holder.state === "active") {
        throw writeConflict(`collection ${coll.ns} is being written by another transaction`, holder);
      }
    }
  }

  /** The document this transaction sees. */
  #current(coll: CollectionState, idk: string): StoredDoc | null {
    const tc = this.#colls.get(coll.ns);
    const own = tc?.coll === coll ? tc.writes.get(idk) : undefined;
    if (own !== undefined) return own.doc;
    return visibleVersion(coll.chains.get(idk), this.snapshotSeq)?.doc ?? null;
  }

  /** Throws WriteConflict if someone else holds or has committed a newer write to `idk`. */
  #claimDocument(coll: CollectionState, tc: TxnCollection, idk: string): void {
    if (tc.writes.has(idk)) return;
    const holder = coll.docIntents.get(idk);
    if (holder !== undefined && holder !== this && holder.state === "active") {
      throw writeConflict(`document ${idk} in ${coll.ns} has an uncommitted write by another transaction`, holder);
    }
    const latest = latestVersion(coll.chains.get(idk));
    if (latest !== undefined && latest.seq > this.snapshotSeq) {
      throw writeConflict(`document ${idk} in ${coll.ns} was written after this transaction's snapshot`);
    }
  }

  /**
   * Checks every unique index for `doc` and returns the keys to claim; throws
   * 11000 on a visible duplicate and 112 when the key is in flux elsewhere.
   */
  #checkUnique(coll: CollectionState, tc: TxnCollection, idk: string, doc: StoredDoc): { index: IndexState; key: string }[] {
    const claims: { index: IndexState; key: string }[] = [];
    const snapshotSeq = this.snapshotSeq;
    for (const index of this.#indexesOf(coll, tc)) {
      if (!index.def.unique || index.def.spec.name === "_id_") continue;
      const keys = indexKeys(index.def, doc, coll.ns);
      if (keys === null) continue;
      const own = tc.ownUnique.get(index.def.spec.name);
      for (const key of keys) {
        const ks = tupleKeyString(key);
        const ownHolder = own?.get(ks);
        if (ownHolder !== undefined && ownHolder !== idk) throw duplicateKeyError(coll.ns, index.def, key);
        for (const e of entriesWithKey(index.entries, key)) {
          if (e.idk === idk || tc.writes.has(e.idk)) continue;
          const chain = coll.chains.get(e.idk);
          const latest = latestVersion(chain);
          if (latest !== undefined && hasKey(index, coll, latest.doc, ks)) {
            if (latest.seq <= snapshotSeq) throw duplicateKeyError(coll.ns, index.def, key);
            throw writeConflict(`key ${ks} of index ${index.def.spec.name} was committed after this transaction's snapshot`);
          }
          if (latest !== undefined && latest.seq > snapshotSeq && hasKey(index, coll, visibleVersion(chain, snapshotSeq)?.doc, ks)) {
            throw writeConflict(`key ${ks} of index ${index.def.spec.name} changed after this transaction's snapshot`);
          }
        }
        const holder = index.intents.get(ks);
        if (holder !== undefined && holder !== this && holder.state === "active") {
          throw writeConflict(`key ${ks} of index ${index.def.spec.name} is claimed by another transaction`, holder);
        }
        claims.push({ index, key: ks });
      }
    }
    return claims;
  }

  /** Records a checked write: intents, own indexes, and the op for the journal. */
  #record(
    coll: CollectionState,
    tc: TxnCollection,
    idk: string,
    doc: StoredDoc | null,
    claims: readonly { index: IndexState; key: string }[],
    op: WriteOp,
  ): void {
    const previous = tc.writes.get(idk);
    coll.docIntents.set(idk, this);
    for (const claim of claims) {
      if (claim.index.intents.get(claim.key) !== this) {
        claim.index.intents.set(claim.key, this);
        this.#heldKeys.push(claim);
      }
    }
    for (const index of this.#indexesOf(coll, tc)) {
      const name = index.def.spec.name;
      const unique = tc.ownUnique.get(name);
      const sorted = tc.ownIndexes?.get(name);
      if (unique === undefined && sorted === undefined) continue;
      if (previous?.doc != null) {
        for (const key of indexKeys(index.def, previous.doc, coll.ns) ?? []) {
          sorted?.remove(indexEntry(key, idk));
          const ks = tupleKeyString(key);
          if (unique?.get(ks) === idk) unique.delete(ks);
        }
      }
      if (doc !== null) {
        for (const key of indexKeys(index.def, doc, coll.ns) ?? []) {
          sorted?.add(indexEntry(key, idk));
          unique?.set(tupleKeyString(key), idk);
        }
      }
    }
    tc.writes.set(idk, { id: op.id, doc });
    this.#ops.push(op);
  }

  /** The own writes indexed like the collection (built once, then kept up to date by #record). */
  #ownIndexes(coll: CollectionState, tc: TxnCollection): Map<string, SortedList<IndexEntry>> {
    if (tc.ownIndexes !== null) return tc.ownIndexes;
    const lists = new Map<string, SortedList<IndexEntry>>();
    for (const index of coll.indexes) {
      const list = createSortedList(compareEntries);
      for (const [idk, write] of tc.writes) {
        if (write.doc === null) continue;
        for (const key of indexKeys(index.def, write.doc, coll.ns) ?? []) list.add(indexEntry(key, idk));
      }
      lists.set(index.def.spec.name, list);
    }
    tc.ownIndexes = lists;
    return lists;
  }

  #release(): void {
    this.#signalEnded?.();
    for (const tc of this.#colls.values()) {
      for (const idk of tc.writes.keys()) {
        if (tc.coll.docIntents.get(idk) === this) tc.coll.docIntents.delete(idk);
      }
    }
    for (const { index, key } of this.#heldKeys) if (index.intents.get(key) === this) index.intents.delete(key);
    this.#heldKeys.length = 0;
  }

  /** Document keys to examine for `filter`, from the best index or index union (or all, in `_id` order). */
  #candidates(
    coll: CollectionState,
    tc: TxnCollection | undefined,
    filter: Document,
    stats: { keys: number },
  ): { idks: Iterable<string>; index: string | null } {
    const plan = planFind(filter, coll.indexes, (p, cap) => planCost(p, cap), coll.chains.size);
    const seen = new Set<string>();
    if (plan === null) {
      const idIndex = coll.indexes[0] as IndexState;
      for (const e of idIndex.entries.values()) {
        stats.keys++;
        seen.add(e.idk);
      }
      if (tc !== undefined && tc.writes.size > 0) {
        const own = this.#ownIndexes(coll, tc).get("_id_");
        if (own === undefined) for (const idk of tc.writes.keys()) seen.add(idk);
        else for (const e of own.values()) seen.add(e.idk);
      }
      return { idks: seen, index: null };
    }
    return { idks: seen, index: this.#scanPlan(coll, tc, plan, seen, stats) };
  }

  /** Adds the document keys `plan` selects to `seen`; returns the plan's name for FindStats. */
  #scanPlan(
    coll: CollectionState,
    tc: TxnCollection | undefined,
    plan: FindPlan<IndexState>,
    seen: Set<string>,
    stats: { keys: number },
  ): string {
    if (plan.kind === "union") {
      return `$or(${plan.branches.map((branch) => this.#scanPlan(coll, tc, branch, seen, stats)).join(", ")})`;
    }
    const { index, intervals } = plan.plan;
    if (index === coll.indexes[0] && intervals.every((i) => i.range === undefined)) {
      // `_id` equality: documents are addressed by `_id` key string, no ordered scan needed.
      for (const interval of intervals) {
        const idk = idKey(interval.prefix[0]);
        stats.keys++;
        if (coll.chains.has(idk) || tc?.writes.has(idk) === true) seen.add(idk);
      }
      return index.def.spec.name;
    }
    for (const interval of intervals) {
      for (const e of scanInterval(index.entries, interval)) {
        stats.keys++;
        seen.add(e.idk);
      }
    }
    if (tc !== undefined && tc.writes.size > 0) {
      const own = this.#ownIndexes(coll, tc).get(index.def.spec.name);
      if (own === undefined) {
        for (const idk of tc.writes.keys()) seen.add(idk);
      } else {
        for (const interval of intervals) for (const e of scanInterval(own, interval)) seen.add(e.idk);
      }
    }
    return index.def.spec.name;
  }

  find(ns: Namespace, filter: Document, options: FindOptions = {}): StoredDoc[] {
    this.#assertActive();
    const { collation, variables, order } = options;
    let predicate: DocPredicate;
    if (collation === undefined) {
      predicate = compileFilter(filter, variables);
    } else {
      // Strings compare through their folded forms; indexes hold unfolded keys, so such finds scan.
      const folded = compileFilter(foldValue(collation, filter) as Document, variables);
      predicate = (doc) => folded(foldValue(collation, doc) as StoredDoc);
    }
    const coll = this.#host.catalog.get(ns);
    if (coll === undefined) {
      this.#lastFind = { index: null, keysExamined: 0, docsExamined: 0 };
      return [];
    }
    const tcRaw = this.#colls.get(ns);
    const tc = tcRaw?.coll === coll ? tcRaw : undefined;
    if (order !== undefined && collation === undefined && (tc === undefined || tc.writes.size === 0)) {
      const plan = planQuery(filter, coll.indexes);
      const interval = plan === null ? undefined : orderedInterval(plan, order);
      if (plan !== null && interval !== undefined) {
        // Raced against an $or union, as MongoDB's planner does: the ordered walk may
        // examine only as many keys as the union would, else the union answers.
        const union = cheapestUnion(filter, coll.indexes, planCost, coll.chains.size + 1);
        const budget = union === null ? Number.POSITIVE_INFINITY : Math.max(union.cost, order.limit);
        const walked = this.#findInOrder(coll, plan.index, interval, predicate, order.limit, budget);
        if (walked !== undefined) return walked;
      }
    }
    const stats = { keys: 0 };
    const { idks, index } = this.#candidates(coll, tc, collation === undefined ? filter : {}, stats);
    const result: StoredDoc[] = [];
    let docsExamined = 0;
    for (const idk of idks) {
      const own = tc?.writes.get(idk);
      if (own !== undefined) {
        if (own.doc === null) continue;
        docsExamined++;
        if (predicate(own.doc, () => (own.promoted ??= toPromoted(own.doc)))) result.push(own.doc);
        continue;
      }
      const version = visibleVersion(coll.chains.get(idk), this.snapshotSeq);
      if (version?.doc == null) continue;
      docsExamined++;
      if (predicate(version.doc, () => promotedOf(version))) result.push(version.doc);
    }
    this.#lastFind = { index, keysExamined: stats.keys, docsExamined };
    return result;
  }

  /**
   * Walks `interval` of `index` in key order and returns the first `limit`
   * matching documents, in that order; undefined once `budget` keys were
   * examined without finding them. Entries may be stale (they cover every
   * retained version): a document counts only at the entry carrying the key
   * of the version this snapshot sees, so it is neither skipped nor placed out
   * of order.
   */
  #findInOrder(
    coll: CollectionState,
    index: IndexState,
    interval: KeyInterval,
    predicate: ReturnType<typeof compileFilter>,
    limit: number,
    budget: number,
  ): StoredDoc[] | undefined {
    const result: StoredDoc[] = [];
    let keysExamined = 0;
    let docsExamined = 0;
    if (limit > 0) {
      for (const entry of scanInterval(index.entries, interval)) {
        if (keysExamined >= budget) return undefined;
        keysExamined++;
        const version = visibleVersion(coll.chains.get(entry.idk), this.snapshotSeq);
        if (version?.doc == null || !hasKey(index, coll, version.doc, tupleKeyString(entry.key))) continue;
        docsExamined++;
        if (!predicate(version.doc, () => promotedOf(version))) continue;
        result.push(version.doc);
        if (result.length >= limit) break;
      }
    }
    this.#lastFind = { index: index.def.spec.name, keysExamined, docsExamined, ordered: true };
    return result;
  }

  insert(ns: Namespace, doc: StoredDoc, origin: "insert" | "upsert" = "insert"): void {
    this.#assertActive();
    const docId: unknown = Object.hasOwn(doc, "_id") ? doc._id : undefined;
    checkId(docId);
    const stored = prepareDoc(doc, docId);
    const size = checkedSize(stored, origin);
    const coll = this.#host.collectionForWrite(ns);
    const tc = this.#writeState(coll);
    const idk = idKey(docId);
    this.#claimDocument(coll, tc, idk);
    if (this.#current(coll, idk) !== null) throw duplicateKeyError(ns, (coll.indexes[0] as IndexState).def, [docId]);
    const claims = this.#checkUnique(coll, tc, idk, stored);
    // Every index must accept the document (e.g. no parallel arrays) before anything is recorded.
    for (const index of this.#indexesOf(coll, tc)) indexKeys(index.def, stored, ns, index);
    this.#record(coll, tc, idk, stored, claims, { kind: "insert", ns, id: stored._id, doc: stored, size });
  }

  replace(ns: Namespace, docId: unknown, doc: StoredDoc, kind: "update" | "replace"): void {
    this.#assertActive();
    const coll = this.#host.catalog.get(ns);
    const idk = idKey(docId);
    if (coll === undefined) throw new EngineError(2, "BadValue", `no document with _id ${idk} in ${ns}`);
    const tc = this.#writeState(coll);
    this.#claimDocument(coll, tc, idk);
    if (this.#current(coll, idk) === null) throw new EngineError(2, "BadValue", `no document with _id ${idk} in ${ns}`);
    if (Object.hasOwn(doc, "_id") && compareValues(doc._id, docId) !== 0) {
      throw new EngineError(66, "ImmutableField", "Performing an update on the path '_id' would modify the immutable field '_id'");
    }
    const stored = prepareDoc(doc, docId);
    const size = checkedSize(stored, "update");
    const claims = this.#checkUnique(coll, tc, idk, stored);
    for (const index of this.#indexesOf(coll, tc)) indexKeys(index.def, stored, ns, index);
    this.#record(coll, tc, idk, stored, claims, { kind, ns, id: stored._id, doc: stored, size });
  }

  delete(ns: Namespace, docId: unknown): void {
    this.#assertActive();
    const coll = this.#host.catalog.get(ns);
    if (coll === undefined) return;
    const idk = idKey(docId);
    const tc = this.#writeState(coll);
    this.#claimDocument(coll, tc, idk);
    const existing = this.#current(coll, idk);
    if (existing === null) return;
    const id: unknown = existing._id;
    this.#record(coll, tc, idk, null, [], { kind: "delete", ns, id, doc: null, size: documentSize({ _id: id }) });
  }

  createCollection(ns: Namespace, options: Document): void {
    this.#assertActive();
    const existing = this.#host.catalog.get(ns);
    const own = this.#colls.get(ns);
    if (existing?.durable === true || (own?.coll === existing && own?.createOptions !== undefined)) {
      throw new EngineError(48, "NamespaceExists", `Collection ${ns} already exists.`);
    }
    const coll = this.#host.collectionForWrite(ns);
    this.#assertSoleWriter(coll);
    const tc = this.#writeState(coll);
    tc.createOptions = freezeCopy(options);
  }

  createIndexes(ns: Namespace, specs: readonly IndexSpec[]): { before: number; after: number } {
    this.#assertActive();
    const existing = this.#host.catalog.get(ns);
    if (existing?.durable === true) {
      throw notInTransaction(`Cannot create new indexes on existing collection ${ns} in a multi-document transaction.`);
    }
    const coll = this.#host.collectionForWrite(ns);
    this.#assertSoleWriter(coll);
    const tc = this.#writeState(coll);
    const before = this.#indexesOf(coll, tc).length;
    const added: IndexState[] = [];
    for (const requested of specs) {
      const all = [...this.#indexesOf(coll, tc), ...added].map((i) => i.def.spec);
      const spec = admitSpec(requested, all);
      if (spec === null) continue;
      const index = createIndexState(spec);
      const unique = index.def.unique ? new Map<string, string>() : undefined;
      // The collection is new: its only documents are this transaction's own writes.
      for (const [idk, write] of tc.writes) {
        if (write.doc === null) continue;
        for (const key of indexKeys(index.def, write.doc, ns, index) ?? []) {
          const ks = tupleKeyString(key);
          const holder = unique?.get(ks);
          if (holder !== undefined && holder !== idk) throw duplicateKeyError(ns, index.def, key);
          unique?.set(ks, idk);
        }
      }
      if (unique !== undefined) tc.ownUnique.set(spec.name, unique);
      added.push(index);
    }
    tc.pendingIndexes.push(...added);
    tc.ownIndexes = null;
    return { before, after: before + added.length };
  }

  async commit(): Promise<Timestamp | null> {
    if (this.#state === "committed") return this.#commitTime;
    this.#assertActive();
    const touched = [...this.#colls.values()];
    for (const tc of touched) {
      if (this.#host.catalog.get(tc.coll.ns) !== tc.coll || !tc.coll.live || tc.coll.version !== tc.version) {
        this.abort();
        throw writeConflict(`collection ${tc.coll.ns} was dropped or its indexes changed during the transaction`);
      }
      // Its DDL assumed a collection nobody else had committed to.
      if ((tc.createOptions !== undefined || tc.pendingIndexes.length > 0) && tc.coll.durable) {
        this.abort();
        throw writeConflict(`collection ${tc.coll.ns} was created by another operation during the transaction`);
      }
    }
    const ddl = touched.some((tc) => tc.createOptions !== undefined || tc.pendingIndexes.length > 0);
    let published: { readonly time: Timestamp; readonly durable: Promise<void> } | undefined;
    if (this.#ops.length > 0 || ddl) {
      try {
        published = this.#host.publish({
          writes: this.#ops,
          touched: touched.map((tc) => ({
            coll: tc.coll,
            createOptions: tc.createOptions,
            indexes: tc.pendingIndexes.map((i) => i.def.spec),
          })),
          session: this.#session,
        });
      } catch (error) {
        // Nothing was applied (the record could not be written): the transaction is over.
        this.abort();
        throw error;
      }
    }
    this.#commitTime = published?.time ?? null;
    this.#state = "committed";
    this.#release();
    this.#host.finished(this);
    await published?.durable;
    return this.#commitTime;
  }

  abort(): void {
    if (this.#state !== "active") return;
    this.#state = "aborted";
    this.#release();
    this.#host.finished(this);
  }
}
