/**
 * The engine: catalog, transactions, change log and (optionally) the journal,
 * wired together. Everything that changes state is applied synchronously in
 * memory, in one order, and then appended to the journal in that same order;
 * replaying the journal runs the same apply functions.
 */
import { Timestamp } from "bson";
import type { Document } from "bson";
import { createChangeLog } from "./change-log.ts";
import type { ChangeLogWriter, PendingEvent } from "./change-log.ts";
import {
  buildIndex, createCollectionState, idKey, latestVersion, publishVersion, pruneChain,
} from "./collection-state.ts";
import type { CollectionState } from "./collection-state.ts";
import { compareValues } from "./compare.ts";
import { createTransaction } from "./transaction.ts";
import type { TransactionHost, WriteOp } from "./transaction.ts";
import { describeUpdate } from "./update-description.ts";
import { EngineError } from "./types.ts";
import { freezeCopy } from "./values.ts";
import type {
  CollectionInfo, Engine, EngineOptions, IndexSpec, Namespace, StoredDoc, Transaction,
} from "./types.ts";

/** Where committed records go; absent for a purely in-memory engine. */
export interface RecordSink {
  /** Appends in call order; resolves once the record is durable. */
  append(record: EngineRecord): Promise<void>;
  /** Set once the journal failed: nothing more may be applied, since it could not be made durable. */
  readonly failed: boolean;
  /** Called after each append; may start a compaction from `snapshot`. */
  afterAppend(snapshot: () => SnapshotContent): void;
  close(): Promise<void>;
}

/** Everything a snapshot file holds. */
export interface SnapshotContent {
  readonly seq: bigint;
  readonly clusterTime: { readonly t: number; readonly i: number };
  readonly collections: readonly {
    readonly ns: Namespace;
    readonly options: Document;
    readonly indexes: readonly IndexSpec[];
    readonly docs: readonly StoredDoc[];
  }[];
}

/** A journal or snapshot record as the engine writes and replays it. */
export type EngineRecord =
  | { t: "txn"; s: bigint; w: Date; ops: JournalOp[] }
  | { t: "create"; n: Namespace; o: Document }
  | { t: "collMod"; n: Namespace; o: Document }
  | { t: "createIndexes"; n: Namespace; specs: IndexSpec[] }
  | { t: "dropIndexes"; n: Namespace; names: string[] | "*" }
  | { t: "drop"; s: bigint; w: Date; n: Namespace }
  | { t: "dropDatabase"; s: bigint; w: Date; db: string };

export type JournalOp =
  | { k: "create"; n: Namespace }
  | { k: WriteOp["kind"]; n: Namespace; id: unknown; doc: StoredDoc | null };

export interface EngineCore {
  readonly engine: Engine;
  /** Applies a replayed record (no validation beyond what applying does). */
  replay(record: EngineRecord): void;
  /** Loads a snapshot into an empty engine. */
  restore(snapshot: SnapshotContent): void;
  snapshot(): SnapshotContent;
  attach(sink: RecordSink): void;
}

const DEFAULT_RETENTION = 100_000;

function splitNs(ns: Namespace): [db: string, coll: string] {
  const dot = ns.indexOf(".");
  if (dot <= 0 || dot === ns.length - 1) throw new EngineError(73, "InvalidNamespace", `Invalid namespace specified '${ns}'`);
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}

function sameKey(a: IndexSpec, b: IndexSpec): boolean {
  return a.key.length === b.key.length && a.key.every(([f, d], i) => {
    const other = b.key[i];
    return other !== undefined && other[0] === f && other[1] === d;
  });
}

function sameSpec(a: IndexSpec, b: IndexSpec): boolean {
  return sameKey(a, b) &&
    (a.unique ?? false) === (b.unique ?? false) &&
    (a.sparse ?? false) === (b.sparse ?? false) &&
    compareValues(a.partialFilterExpression ?? null, b.partialFilterExpression ?? null) === 0 &&
    compareValues(a.collation ?? null, b.collation ?? null) === 0;
}

/** A private copy of a spec, with its filter in stored (BSON-typed) form, so replay yields the same spec. */
function normalizeSpec(spec: IndexSpec): IndexSpec {
  const out: { -readonly [K in keyof IndexSpec]: IndexSpec[K] } = {
    name: spec.name,
    key: spec.key.map(([field, direction]) => [field, direction] as const),
  };
  if (spec.unique !== undefined) out.unique = spec.unique;
  if (spec.sparse !== undefined) out.sparse = spec.sparse;
  if (spec.partialFilterExpression !== undefined) out.partialFilterExpression = freezeCopy(spec.partialFilterExpression);
  if (spec.collation !== undefined) out.collation = freezeCopy(spec.collation);
  return out;
}

function validateSpec(spec: IndexSpec): void {
  if (spec.name.length === 0) throw new EngineError(67, "CannotCreateIndex", "index name cannot be empty");
  if (spec.key.length === 0) throw new EngineError(67, "CannotCreateIndex", "index key pattern cannot be empty");
  const fields = new Set<string>();
  for (const [field, declared] of spec.key) {
    // The command layer passes what the client sent; the type says 1 | -1, the wire may not.
    const direction: number = declared;
    if (field.length === 0 || field.startsWith("$") || field.split(".").some((p) => p.length === 0)) {
      throw new EngineError(67, "CannotCreateIndex", `bad index key pattern field: '${field}'`);
    }
    if (direction !== 1 && direction !== -1) {
      throw new EngineError(67, "CannotCreateIndex", `bad index key pattern: direction of '${field}' must be 1 or -1`);
    }
    if (fields.has(field)) throw new EngineError(67, "CannotCreateIndex", `duplicate field '${field}' in index key pattern`);
    fields.add(field);
  }
  if (spec.name === "_id_" && !(spec.key.length === 1 && spec.key[0]?.[0] === "_id")) {
    throw new EngineError(67, "CannotCreateIndex", "the index name _id_ is reserved for the _id index");
  }
}

export function createEngineCore(options: EngineOptions): EngineCore {
  const catalog = new Map<Namespace, CollectionState>();
  let changes: ChangeLogWriter = createChangeLog({ retention: options.changeLogRetention ?? DEFAULT_RETENTION, startSeq: 0n });
  const active = new Set<Transaction>();
  /** Chains that got a new version, to prune once no snapshot needs the older ones. */
  let gcQueue: { coll: CollectionState; idk: string; seq: bigint }[] = [];
  let gcHead = 0;
  let sink: RecordSink | null = null;
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new EngineError(8, "UnknownError", "the embedded storage engine is closed");
  }

  /** Refuses changes once the journal has failed, before anything is applied in memory. */
  function assertWritable(): void {
    assertOpen();
    if (sink?.failed === true) {
      throw new EngineError(8, "UnknownError", "the embedded storage engine's journal failed earlier; it no longer accepts writes");
    }
  }

  function horizon(): bigint {
    let min = changes.latestSeq();
    for (const txn of active) if (txn.snapshotSeq < min) min = txn.snapshotSeq;
    return min;
  }

  function collectGarbage(): void {
    const h = horizon();
    while (gcHead < gcQueue.length) {
      const item = gcQueue[gcHead];
      if (item === undefined || item.seq > h) break;
      if (item.coll.live) pruneChain(item.coll, item.idk, h);
      gcHead++;
    }
    if (gcHead > 4096 && gcHead * 2 > gcQueue.length) {
      gcQueue = gcQueue.slice(gcHead);
      gcHead = 0;
    }
  }

  function append(record: EngineRecord): Promise<void> {
    if (sink === null) return Promise.resolve();
    const done = sink.append(record);
    sink.afterAppend(snapshot);
    return done;
  }

  /** Applies committed writes: versions, index entries and change events. */
  function applyWrites(ops: readonly JournalOp[], wallTime: Date): void {
    const writeCount = ops.filter((op) => op.k !== "create").length;
    const commitSeq = changes.latestSeq() + BigInt(writeCount);
    const before = new Map<string, StoredDoc | null>();
    const finals = new Map<string, { coll: CollectionState; id: unknown; idk: string; doc: StoredDoc | null }>();
    const events: PendingEvent[] = [];
    for (const op of ops) {
      if (op.k === "create") {
        const existing = catalog.get(op.n);
        if (existing === undefined) catalog.set(op.n, createCollectionState(op.n, {}, true));
        else existing.durable = true;
        continue;
      }
      let coll = catalog.get(op.n);
      if (coll === undefined) {
        // Only reachable on replay of a journal written before implicit creates were recorded.
        coll = createCollectionState(op.n, {}, true);
        catalog.set(op.n, coll);
      }
      const idk = idKey(op.id);
      const slot = `${op.n}\u0000${idk}`;
      const prior = before.has(slot) ? (before.get(slot) ?? null) : (latestVersion(coll.chains.get(idk))?.doc ?? null);
      before.set(slot, op.doc);
      finals.set(slot, { coll, id: op.id, idk, doc: op.doc });
      // Built field by field rather than with conditional spreads, which cost microseconds per event.
      const event: { -readonly [K in keyof PendingEvent]: PendingEvent[K] } = { ns: op.n, operationType: op.k, documentKey: { _id: op.id } };
      if (op.k !== "delete" && op.doc !== null) event.fullDocument = op.doc;
      if (op.k !== "insert" && prior !== null) event.fullDocumentBeforeChange = prior;
      if (op.k === "update" && op.doc !== null) event.updateDescription = describeUpdate(prior ?? {}, op.doc);
      events.push(event);
    }
    for (const w of finals.values()) {
      publishVersion(w.coll, w.id, w.idk, commitSeq, w.doc);
      gcQueue.push({ coll: w.coll, idk: w.idk, seq: commitSeq });
    }
    changes.append(events, wallTime);
  }

  const host: TransactionHost = {
    catalog,
    latestSeq: () => changes.latestSeq(),
    assertOpen,
    collectionForWrite(ns) {
      const existing = catalog.get(ns);
      if (existing !== undefined) return existing;
      splitNs(ns);
      const coll = createCollectionState(ns, {}, false);
      catalog.set(ns, coll);
      return coll;
    },
    publish(writes, touched) {
      assertWritable();
      const ops: JournalOp[] = [];
      for (const coll of touched) {
        if (!coll.durable) {
          coll.durable = true;
          ops.push({ k: "create", n: coll.ns });
        }
      }
      for (const w of writes) ops.push({ k: w.kind, n: w.ns, id: w.id, doc: w.doc });
      const wallTime = new Date();
      const seqBefore = changes.latestSeq();
      applyWrites(ops, wallTime);
      return append({ t: "txn", s: seqBefore, w: wallTime, ops });
    },
    finished(txn) {
      active.delete(txn);
      collectGarbage();
    },
  };

  function dropCollectionNow(ns: Namespace, wallTime: Date): number | null {
    const coll = catalog.get(ns);
    if (coll === undefined) return null;
    catalog.delete(ns);
    coll.live = false;
    if (coll.durable) changes.append([{ ns, operationType: "drop" }], wallTime);
    return coll.indexes.length;
  }

  function dropDatabaseNow(db: string, wallTime: Date): void {
    const prefix = `${db}.`;
    let any = false;
    for (const ns of [...catalog.keys()].sort()) {
      if (!ns.startsWith(prefix)) continue;
      any = dropCollectionNow(ns, wallTime) !== null || any;
    }
    if (any) changes.append([{ ns: db, operationType: "dropDatabase" }], wallTime);
  }

  function createIndexesNow(ns: Namespace, specs: readonly IndexSpec[]): { before: number; after: number } {
    const existing = catalog.get(ns);
    const coll = existing ?? createCollectionState(ns, {}, true);
    const before = coll.indexes.length;
    const added = [];
    for (const requested of specs) {
      validateSpec(requested);
      const spec = normalizeSpec(requested);
      const all = [...coll.indexes.map((i) => i.def.spec), ...added.map((i) => i.def.spec)];
      const byName = all.find((s) => s.name === spec.name);
      if (byName !== undefined) {
        if (sameSpec(byName, spec)) continue;
        throw new EngineError(86, "IndexKeySpecsConflict",
          `An existing index has the same name as the requested index. Requested index: ${spec.name}`);
      }
      const byKey = all.find((s) => sameKey(s, spec) && sameSpec(s, spec));
      if (byKey !== undefined) {
        throw new EngineError(85, "IndexOptionsConflict",
          `Index already exists with a different name: ${byKey.name}`);
      }
      added.push(buildIndex(coll, spec));
    }
    // Only now, with every index built, does anything change.
    if (existing === undefined) catalog.set(ns, coll);
    coll.durable = true;
    if (added.length > 0) {
      coll.indexes = [...coll.indexes, ...added];
      coll.version++;
    }
    return { before, after: coll.indexes.length };
  }

  function dropIndexesNow(ns: Namespace, names: readonly string[] | "*"): number {
    const coll = catalog.get(ns);
    if (coll === undefined) throw new EngineError(26, "NamespaceNotFound", `ns not found ${ns}`);
    const before = coll.indexes.length;
    if (names === "*") {
      coll.indexes = coll.indexes.slice(0, 1);
    } else {
      for (const name of names) {
        if (name === "_id_") throw new EngineError(72, "InvalidOptions", "cannot drop _id index");
        if (!coll.indexes.some((i) => i.def.spec.name === name)) {
          throw new EngineError(27, "IndexNotFound", `index not found with name [${name}]`);
        }
      }
      coll.indexes = coll.indexes.filter((i) => !names.includes(i.def.spec.name));
    }
    if (coll.indexes.length !== before) coll.version++;
    return before;
  }

  function replay(record: EngineRecord): void {
    switch (record.t) {
      case "txn":
        expectSeq(record.s);
        applyWrites(record.ops, record.w);
        collectGarbage();
        break;
      case "create": {
        const existing = catalog.get(record.n);
        if (existing === undefined) catalog.set(record.n, createCollectionState(record.n, record.o, true));
        else existing.durable = true;
        break;
      }
      case "collMod": {
        const coll = catalog.get(record.n);
        if (coll !== undefined) coll.options = record.o;
        break;
      }
      case "createIndexes":
        createIndexesNow(record.n, record.specs);
        break;
      case "dropIndexes":
        dropIndexesNow(record.n, record.names);
        break;
      case "drop":
        expectSeq(record.s);
        dropCollectionNow(record.n, record.w);
        break;
      case "dropDatabase":
        expectSeq(record.s);
        dropDatabaseNow(record.db, record.w);
        break;
    }
  }

  function expectSeq(seq: bigint): void {
    if (seq !== changes.latestSeq()) {
      throw new Error(`journal out of order: record at ${seq} after position ${changes.latestSeq()}`);
    }
  }

  function snapshot(): SnapshotContent {
    const ct = changes.lastClusterTime();
    const collections = [];
    for (const coll of catalog.values()) {
      if (!coll.durable) continue;
      const docs: StoredDoc[] = [];
      for (const chain of coll.chains.values()) {
        // The newest committed version: a snapshot is the state after the last commit.
        const doc = latestVersion(chain)?.doc;
        if (doc != null) docs.push(doc);
      }
      collections.push({ ns: coll.ns, options: coll.options, indexes: coll.indexes.map((i) => i.def.spec), docs });
    }
    return { seq: changes.latestSeq(), clusterTime: { t: ct.t, i: ct.i }, collections };
  }

  function restore(content: SnapshotContent): void {
    changes = createChangeLog({
      retention: options.changeLogRetention ?? DEFAULT_RETENTION,
      startSeq: content.seq,
      startClusterTime: new Timestamp({ t: content.clusterTime.t, i: content.clusterTime.i }),
    });
    for (const c of content.collections) {
      const coll = createCollectionState(c.ns, c.options, true);
      catalog.set(c.ns, coll);
      for (const doc of c.docs) publishVersion(coll, doc._id, idKey(doc._id), content.seq, doc);
      const extra = c.indexes.filter((s) => s.name !== "_id_");
      for (const spec of extra) coll.indexes.push(buildIndex(coll, spec));
    }
  }

  const engine: Engine = {
    begin() {
      assertOpen();
      const txn = createTransaction(host);
      active.add(txn);
      return txn;
    },
    get changes() {
      return changes;
    },
    listDatabases() {
      const dbs = new Set<string>();
      for (const coll of catalog.values()) if (coll.durable) dbs.add(splitNs(coll.ns)[0]);
      return [...dbs].sort();
    },
    listCollections(db) {
      const out: CollectionInfo[] = [];
      for (const coll of catalog.values()) {
        if (!coll.durable || splitNs(coll.ns)[0] !== db) continue;
        out.push({ name: splitNs(coll.ns)[1], options: coll.options, indexes: coll.indexes.map((i) => i.def.spec) });
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async createCollection(ns, collOptions = {}) {
      assertWritable();
      splitNs(ns);
      const existing = catalog.get(ns);
      if (existing?.durable === true) return false;
      const stored = freezeCopy(collOptions);
      if (existing === undefined) catalog.set(ns, createCollectionState(ns, stored, true));
      else {
        existing.durable = true;
        existing.options = stored;
      }
      await append({ t: "create", n: ns, o: stored });
      return true;
    },
    collectionOptions(ns) {
      const coll = catalog.get(ns);
      return coll?.durable === true ? coll.options : null;
    },
    async setCollectionOptions(ns, collOptions) {
      assertWritable();
      const coll = catalog.get(ns);
      if (coll?.durable !== true) throw new EngineError(26, "NamespaceNotFound", `ns does not exist: ${ns}`);
      const stored = freezeCopy(collOptions);
      coll.options = stored;
      await append({ t: "collMod", n: ns, o: stored });
    },
    async dropCollection(ns) {
      assertWritable();
      const wallTime = new Date();
      const s = changes.latestSeq();
      const coll = catalog.get(ns);
      if (coll === undefined) return null;
      if (!coll.durable) {
        // Only an uncommitted insert created it: nothing durable to drop.
        dropCollectionNow(ns, wallTime);
        return null;
      }
      const nIndexesWas = dropCollectionNow(ns, wallTime) ?? 0;
      await append({ t: "drop", s, w: wallTime, n: ns });
      return { nIndexesWas };
    },
    async dropDatabase(db) {
      assertWritable();
      const wallTime = new Date();
      const s = changes.latestSeq();
      dropDatabaseNow(db, wallTime);
      await append({ t: "dropDatabase", s, w: wallTime, db });
    },
    async createIndexes(ns, specs) {
      assertWritable();
      splitNs(ns);
      const result = createIndexesNow(ns, specs);
      await append({ t: "createIndexes", n: ns, specs: [...specs] });
      return result;
    },
    listIndexes(ns) {
      const coll = catalog.get(ns);
      return coll?.durable === true ? coll.indexes.map((i) => i.def.spec) : null;
    },
    async dropIndexes(ns, names) {
      assertWritable();
      const before = dropIndexesNow(ns, names);
      await append({ t: "dropIndexes", n: ns, names: names === "*" ? "*" : [...names] });
      return before;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const txn of [...active]) txn.abort();
      changes.wakeAll();
      if (sink !== null) await sink.close();
    },
  };

  return {
    engine,
    replay,
    restore,
    snapshot,
    attach(s) {
      sink = s;
    },
  };
}
