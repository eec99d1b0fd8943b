/**
 * The engine: catalog, transactions, the cluster clock, the change log and
 * (optionally) the journal, wired together. Every change is first encoded as a
 * journal record (so a change that could not be journaled is refused before
 * anything happens), then applied synchronously in memory in one order, then
 * appended to the journal in that same order; replaying the journal runs the
 * same apply functions. Each commit takes one cluster time, shared by all its
 * change events.
 */
import { randomBytes } from "node:crypto";
import { Timestamp, UUID } from "bson";
import type { Document } from "bson";
import { createChangeLog } from "./change-log.ts";
import type { ChangeLogWriter, PendingEvent } from "./change-log.ts";
import { createClusterClock } from "./cluster-clock.ts";
import type { ClusterClock } from "./cluster-clock.ts";
import { buildIndex, createCollectionState, idKey, latestVersion, publishVersion, pruneChain, recordsImages } from "./collection-state.ts";
import type { CollectionState } from "./collection-state.ts";
import { admitSpec } from "./index-specs.ts";
import { createTransaction } from "./transaction.ts";
import type { CommitContent, TransactionHost, WriteOp } from "./transaction.ts";
import { describeUpdate } from "./update-description.ts";
import { EngineError } from "./types.ts";
import { freezeCopy } from "./values.ts";
import type { CollectionInfo, Engine, EngineOptions, IndexSpec, Namespace, StoredDoc, Transaction, TransactionSession } from "./types.ts";

/** Where committed records go; absent for a purely in-memory engine. */
export interface RecordSink {
  /**
   * Encodes a record as journal bytes. Throws when it cannot be encoded, which
   * the engine does before applying anything, so such a change never happens.
   */
  encode(record: EngineRecord): Buffer;
  /** Appends in call order; resolves once the bytes are durable. */
  append(bytes: Buffer): Promise<void>;
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
    readonly uuid: UUID;
    readonly options: Document;
    readonly indexes: readonly IndexSpec[];
    readonly docs: readonly StoredDoc[];
  }[];
}

/**
 * Position, wall time and cluster time of a record. Records written before
 * the store kept cluster times (and, for DDL, positions) have none: they
 * replay as they were written, without the change events added since.
 */
export interface RecordStamp {
  readonly s: bigint;
  readonly w: Date;
  readonly ct: Timestamp;
}

type Stamped<T> = T & Partial<RecordStamp>;

/** A journal or snapshot record as the engine writes and replays it. */
export type EngineRecord =
  | Stamped<{ t: "txn"; ops: JournalOp[]; session?: TransactionSession }>
  | Stamped<{ t: "create"; n: Namespace; o: Document; u?: UUID }>
  | Stamped<{ t: "collMod"; n: Namespace; o: Document }>
  | Stamped<{ t: "createIndexes"; n: Namespace; specs: IndexSpec[]; u?: UUID }>
  | Stamped<{ t: "dropIndexes"; n: Namespace; names: string[] | "*" }>
  | Stamped<{ t: "drop"; n: Namespace }>
  | Stamped<{ t: "rename"; n: Namespace; to: Namespace; dropTarget: boolean }>
  | Stamped<{ t: "dropDatabase"; db: string }>;

export type JournalOp =
  | { k: "create"; n: Namespace; o?: Document; u?: UUID }
  | { k: "createIndexes"; n: Namespace; specs: IndexSpec[] }
  | { k: WriteOp["kind"]; n: Namespace; id: unknown; doc: StoredDoc | null; size?: number };

export interface EngineCore {
  readonly engine: Engine;
  /** Applies a replayed record (no validation beyond what applying does). */
  replay(record: EngineRecord): void;
  /** Loads a snapshot into an empty engine. */
  restore(snapshot: SnapshotContent): void;
  /** Everything replayed is durable: change streams may read it. */
  replayed(): void;
  /** Adopts the identity kept in the data directory. */
  adoptStoreId(id: string): void;
  snapshot(): SnapshotContent;
  attach(sink: RecordSink): void;
}

const DEFAULT_RETENTION = 100_000;
const DEFAULT_RETENTION_MS = 24 * 60 * 60_000;
const DEFAULT_SNAPSHOT_HISTORY_MS = 300_000;

function splitNs(ns: Namespace): [db: string, coll: string] {
  const dot = ns.indexOf(".");
  if (dot <= 0 || dot === ns.length - 1) throw new EngineError(73, "InvalidNamespace", `Invalid namespace specified '${ns}'`);
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}

export function createEngineCore(options: EngineOptions): EngineCore {
  const catalog = new Map<Namespace, CollectionState>();
  let clock: ClusterClock = createClusterClock();
  const newChangeLog = (startSeq: bigint, startTime: Timestamp): ChangeLogWriter =>
    createChangeLog({
      retention: options.changeLogRetention ?? DEFAULT_RETENTION,
      retentionMs: options.changeLogRetentionMs ?? DEFAULT_RETENTION_MS,
      startSeq,
      startTime,
    });
  let changes = newChangeLog(0n, new Timestamp({ t: 0, i: 0 }));
  /** The cluster time of the newest commit. */
  let lastCommitTime = new Timestamp({ t: 0, i: 0 });
  const active = new Set<Transaction>();
  /** Chains that got a new version, to prune once no snapshot needs the older ones. */
  let gcQueue: { coll: CollectionState; idk: string; seq: bigint }[] = [];
  let gcHead = 0;
  let sink: RecordSink | null = null;
  let closed = false;
  let storeId = randomBytes(8).toString("hex");

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

  const snapshotHistoryMs = options.snapshotHistoryMs ?? DEFAULT_SNAPSHOT_HISTORY_MS;
  /** Positions snapshot reads saw, kept readable until their time is up (oldest first). */
  let kept: { readonly seq: bigint; readonly until: number }[] = [];

  /**
   * The oldest position a snapshot may read at: open transactions', the
   * durable one (majority reads), and the ones recent snapshot reads saw;
   * older versions may be pruned.
   */
  function horizon(): bigint {
    let min = changes.durableSeq();
    if (kept.length > 0) {
      const now = Date.now();
      kept = kept.filter((k) => k.until > now);
      for (const k of kept) if (k.seq < min) min = k.seq;
    }
    for (const txn of active) if (txn.snapshotSeq < min) min = txn.snapshotSeq;
    return min;
  }

  function snapshotTooOld(time: Timestamp): EngineError {
    return new EngineError(
      239,
      "SnapshotTooOld",
      `Read timestamp Timestamp(${time.t}, ${time.i}) is older than the oldest available timestamp.`,
    );
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

  /**
   * Stamps, encodes, applies and journals one change. `apply` runs only once
   * the record is encoded; it returns the change events. Resolves once durable.
   */
  function commitRecord(record: EngineRecord, apply: (stamp: RecordStamp) => PendingEvent[]): { time: Timestamp; durable: Promise<void> } {
    const stamp: RecordStamp = { s: changes.latestSeq(), w: new Date(), ct: clock.tick() };
    const stamped: EngineRecord = { ...record, ...stamp };
    const bytes = sink?.encode(stamped);
    const events = apply(stamp);
    changes.append(events, stamp.w, stamp.ct);
    lastCommitTime = stamp.ct;
    const seq = changes.latestSeq();
    if (sink === null || bytes === undefined) {
      changes.markDurable(seq, stamp.ct);
      return { time: stamp.ct, durable: Promise.resolve() };
    }
    const durable = sink.append(bytes).then(() => {
      changes.markDurable(seq, stamp.ct);
    });
    sink.afterAppend(snapshot);
    return { time: stamp.ct, durable };
  }

  function createEvent(coll: CollectionState, session: TransactionSession | undefined): PendingEvent {
    const event: { -readonly [K in keyof PendingEvent]: PendingEvent[K] } = {
      ns: coll.ns,
      operationType: "create",
      collectionUUID: coll.uuid,
      operationDescription: { options: coll.options },
    };
    if (session !== undefined) event.txn = session;
    return event;
  }

  function indexEvent(
    coll: CollectionState,
    type: "createIndexes" | "dropIndexes",
    indexes: readonly IndexSpec[],
    session?: TransactionSession,
  ): PendingEvent {
    const event: { -readonly [K in keyof PendingEvent]: PendingEvent[K] } = {
      ns: coll.ns,
      operationType: type,
      collectionUUID: coll.uuid,
      operationDescription: { indexes },
    };
    if (session !== undefined) event.txn = session;
    return event;
  }

  /** Creates (or makes durable) a collection; the `create` event when `events`. */
  function applyCreate(ns: Namespace, collOptions: Document | undefined, uuid: UUID | undefined): CollectionState {
    const existing = catalog.get(ns);
    if (existing !== undefined) {
      existing.durable = true;
      if (collOptions !== undefined) existing.options = collOptions;
      return existing;
    }
    const coll = createCollectionState(ns, collOptions ?? {}, true, uuid);
    catalog.set(ns, coll);
    return coll;
  }

  /**
   * Applies committed operations: collections and indexes first, then the
   * document versions, index entries and change events. `ddlEvents` is false
   * only when replaying records from before DDL had change events.
   */
  function applyOps(
    ops: readonly JournalOp[],
    commitSeq: bigint,
    session: TransactionSession | undefined,
    ddlEvents: boolean,
  ): PendingEvent[] {
    const before = new Map<string, StoredDoc | null>();
    const finals = new Map<string, { coll: CollectionState; id: unknown; idk: string; doc: StoredDoc | null }>();
    const events: PendingEvent[] = [];
    for (const op of ops) {
      if (op.k === "create") {
        const coll = applyCreate(op.n, op.o, op.u);
        if (ddlEvents) events.push(createEvent(coll, session));
        continue;
      }
      if (op.k === "createIndexes") {
        const coll = catalog.get(op.n) ?? applyCreate(op.n, undefined, undefined);
        const added = op.specs.map((spec) => buildIndex(coll, spec));
        coll.indexes = [...coll.indexes, ...added];
        coll.version++;
        if (ddlEvents) events.push(indexEvent(coll, "createIndexes", op.specs, session));
        continue;
      }
      // Only on replay of a journal written before implicit creates were recorded.
      const coll = catalog.get(op.n) ?? applyCreate(op.n, undefined, undefined);
      const idk = idKey(op.id);
      const slot = `${op.n}\u0000${idk}`;
      const prior = before.has(slot) ? (before.get(slot) ?? null) : (latestVersion(coll.chains.get(idk))?.doc ?? null);
      before.set(slot, op.doc);
      finals.set(slot, { coll, id: op.id, idk, doc: op.doc });
      const images = recordsImages(coll);
      // Built field by field rather than with conditional spreads, which cost microseconds per event.
      const event: { -readonly [K in keyof PendingEvent]: PendingEvent[K] } = {
        ns: op.n,
        operationType: op.k,
        documentKey: { _id: op.id },
        collectionUUID: coll.uuid,
      };
      // Inserts and replacements carry their document; an update's post-image and
      // any pre-image exist only where changeStreamPreAndPostImages is enabled.
      if (op.doc !== null && (op.k !== "update" || images)) event.fullDocument = op.doc;
      if (op.k !== "insert" && prior !== null && images) event.fullDocumentBeforeChange = prior;
      if (op.k === "update" && op.doc !== null) event.updateDescription = describeUpdate(prior ?? {}, op.doc);
      if (session !== undefined) event.txn = session;
      events.push(event);
    }
    for (const w of finals.values()) {
      publishVersion(w.coll, w.id, w.idk, commitSeq, w.doc);
      gcQueue.push({ coll: w.coll, idk: w.idk, seq: commitSeq });
    }
    return events;
  }

  /** The journal ops of a commit: DDL first, then the writes. */
  function commitOps(content: CommitContent): JournalOp[] {
    const ops: JournalOp[] = [];
    for (const { coll, createOptions } of content.touched) {
      if (coll.durable) continue;
      ops.push(
        createOptions === undefined
          ? { k: "create", n: coll.ns, u: coll.uuid }
          : { k: "create", n: coll.ns, o: createOptions, u: coll.uuid },
      );
    }
    for (const { coll, indexes } of content.touched) {
      if (indexes.length > 0) ops.push({ k: "createIndexes", n: coll.ns, specs: [...indexes] });
    }
    for (const w of content.writes) ops.push({ k: w.kind, n: w.ns, id: w.id, doc: w.doc, size: w.size });
    return ops;
  }

  const host: TransactionHost = {
    catalog,
    snapshotPoint(readAt) {
      if (readAt === "durable") return { seq: changes.durableSeq(), time: changes.durableTime() };
      if (readAt === "latest") return { seq: changes.latestSeq(), time: lastCommitTime };
      // A cluster time: the state after the last commit at or before it (the caller waited for it to be durable).
      const seq = changes.positionAt(readAt);
      if (seq === undefined || seq < horizon() || seq > changes.durableSeq()) throw snapshotTooOld(readAt);
      return { seq, time: readAt };
    },
    assertOpen,
    collectionForWrite(ns) {
      const existing = catalog.get(ns);
      if (existing !== undefined) return existing;
      splitNs(ns);
      const coll = createCollectionState(ns, {}, false);
      catalog.set(ns, coll);
      return coll;
    },
    publish(content) {
      assertWritable();
      const ops = commitOps(content);
      const record: EngineRecord = content.session === undefined ? { t: "txn", ops } : { t: "txn", ops, session: content.session };
      return commitRecord(record, (stamp) => applyOps(ops, stamp.s + BigInt(ops.length), content.session, true));
    },
    finished(txn) {
      active.delete(txn);
      collectGarbage();
    },
  };

  function dropCollectionNow(ns: Namespace): PendingEvent[] {
    const coll = catalog.get(ns);
    if (coll === undefined) return [];
    catalog.delete(ns);
    coll.live = false;
    return coll.durable ? [{ ns, operationType: "drop", collectionUUID: coll.uuid }] : [];
  }

  /** Moves the collection to `to` (its state shared, the old object retired); the target is dropped first. */
  function renameNow(from: Namespace, to: Namespace): PendingEvent[] {
    const coll = requireCollection(from);
    const replaced = catalog.get(to);
    const events = dropCollectionNow(to);
    catalog.delete(from);
    coll.live = false;
    const moved: CollectionState = { ...coll, ns: to, live: true };
    catalog.set(to, moved);
    const description: { to: Namespace; droppedTarget?: UUID } = { to };
    if (replaced?.durable === true) description.droppedTarget = replaced.uuid;
    events.push({ ns: from, operationType: "rename", collectionUUID: coll.uuid, operationDescription: description });
    return events;
  }

  function dropDatabaseNow(db: string): PendingEvent[] {
    const prefix = `${db}.`;
    const events: PendingEvent[] = [];
    for (const ns of [...catalog.keys()].sort()) {
      if (ns.startsWith(prefix)) events.push(...dropCollectionNow(ns));
    }
    if (events.length > 0) events.push({ ns: db, operationType: "dropDatabase" });
    return events;
  }

  /** Validates index specs against the collection; the ones to add (identical existing ones are skipped). */
  function admitIndexes(coll: CollectionState | undefined, specs: readonly IndexSpec[]): IndexSpec[] {
    const added: IndexSpec[] = [];
    for (const requested of specs) {
      const spec = admitSpec(requested, [...(coll?.indexes.map((i) => i.def.spec) ?? [{ name: "_id_", key: [["_id", 1]] }]), ...added]);
      if (spec !== null) added.push(spec);
    }
    return added;
  }

  /** Builds every new index first (a unique index over duplicates fails with 11000 and creates nothing). */
  function createIndexesNow(coll: CollectionState, specs: readonly IndexSpec[]): void {
    const built = specs.map((spec) => buildIndex(coll, spec));
    coll.durable = true;
    if (built.length > 0) {
      coll.indexes = [...coll.indexes, ...built];
      coll.version++;
    }
  }

  /** The names to drop (validated), or throws as mongod does. */
  function indexesToDrop(coll: CollectionState, names: readonly string[] | "*"): IndexSpec[] {
    if (names === "*") return coll.indexes.slice(1).map((i) => i.def.spec);
    for (const name of names) {
      if (name === "_id_") throw new EngineError(72, "InvalidOptions", "cannot drop _id index");
      if (!coll.indexes.some((i) => i.def.spec.name === name)) {
        throw new EngineError(27, "IndexNotFound", `index not found with name [${name}]`);
      }
    }
    return coll.indexes.filter((i) => names.includes(i.def.spec.name)).map((i) => i.def.spec);
  }

  function dropIndexesNow(coll: CollectionState, dropped: readonly IndexSpec[]): void {
    if (dropped.length === 0) return;
    const names = new Set(dropped.map((s) => s.name));
    coll.indexes = coll.indexes.filter((i) => !names.has(i.def.spec.name));
    coll.version++;
  }

  function requireCollection(ns: Namespace): CollectionState {
    const coll = catalog.get(ns);
    if (coll === undefined) throw new EngineError(26, "NamespaceNotFound", `ns not found ${ns}`);
    return coll;
  }

  // The DDL changes, as both the live commands and replay apply them (so both yield the same events).

  function applyCreateRecord(ns: Namespace, collOptions: Document, uuid: UUID | undefined): PendingEvent[] {
    return [createEvent(applyCreate(ns, collOptions, uuid), undefined)];
  }

  function applyModify(ns: Namespace, collOptions: Document): PendingEvent[] {
    const coll = requireCollection(ns);
    coll.options = collOptions;
    return [{ ns, operationType: "modify", collectionUUID: coll.uuid, operationDescription: { options: collOptions } }];
  }

  /** Creates the collection when needed (its `create` event first), then the already admitted indexes. */
  function applyCreateIndexes(ns: Namespace, specs: readonly IndexSpec[], uuid: UUID | undefined): PendingEvent[] {
    const events: PendingEvent[] = [];
    const existing = catalog.get(ns);
    const coll = existing ?? applyCreate(ns, undefined, uuid);
    if (existing === undefined || !existing.durable) {
      coll.durable = true;
      events.push(createEvent(coll, undefined));
    }
    createIndexesNow(coll, specs);
    if (specs.length > 0) events.push(indexEvent(coll, "createIndexes", specs));
    return events;
  }

  function applyDropIndexes(ns: Namespace, names: readonly string[] | "*"): PendingEvent[] {
    const coll = requireCollection(ns);
    const dropped = indexesToDrop(coll, names);
    dropIndexesNow(coll, dropped);
    return dropped.length > 0 ? [indexEvent(coll, "dropIndexes", dropped)] : [];
  }

  /** Applies a replayed record; records without a stamp replay as written, without DDL events. */
  function replay(record: EngineRecord): void {
    const stamped = record.ct !== undefined && record.s !== undefined;
    if (record.s !== undefined) expectSeq(record.s);
    const wallTime = record.w ?? new Date(0);
    let time: Timestamp;
    if (record.ct !== undefined) {
      clock.advance(record.ct);
      time = record.ct;
    } else {
      time = clock.tick();
    }
    const seqBefore = changes.latestSeq();
    let events: PendingEvent[] = [];
    switch (record.t) {
      case "txn": {
        // Every op takes one position; old records gave implicit creates none.
        const positions = stamped ? record.ops.length : record.ops.filter((op) => op.k !== "create").length;
        events = applyOps(record.ops, seqBefore + BigInt(positions), record.session, stamped);
        collectGarbage();
        break;
      }
      case "create":
        events = applyCreateRecord(record.n, record.o, record.u);
        break;
      case "collMod":
        events = applyModify(record.n, record.o);
        break;
      case "createIndexes":
        events = applyCreateIndexes(record.n, admitIndexes(catalog.get(record.n), record.specs), record.u);
        break;
      case "dropIndexes":
        events = applyDropIndexes(record.n, record.names);
        break;
      case "drop":
        events = dropCollectionNow(record.n);
        break;
      case "rename":
        events = renameNow(record.n, record.to);
        break;
      case "dropDatabase":
        events = dropDatabaseNow(record.db);
        break;
    }
    // Unstamped DDL took no position then, and must not take one now.
    if (!stamped && record.t !== "txn" && record.t !== "drop" && record.t !== "rename" && record.t !== "dropDatabase") events = [];
    changes.append(events, wallTime, time);
    if (events.length > 0) lastCommitTime = time;
  }

  function expectSeq(seq: bigint): void {
    if (seq !== changes.latestSeq()) {
      throw new Error(`journal out of order: record at position ${seq} after position ${changes.latestSeq()}`);
    }
  }

  function snapshot(): SnapshotContent {
    const ct = clock.last();
    const collections = [];
    for (const coll of catalog.values()) {
      if (!coll.durable) continue;
      const docs: StoredDoc[] = [];
      for (const chain of coll.chains.values()) {
        // The newest committed version: a snapshot is the state after the last commit.
        const doc = latestVersion(chain)?.doc;
        if (doc != null) docs.push(doc);
      }
      collections.push({ ns: coll.ns, uuid: coll.uuid, options: coll.options, indexes: coll.indexes.map((i) => i.def.spec), docs });
    }
    return { seq: changes.latestSeq(), clusterTime: { t: ct.t, i: ct.i }, collections };
  }

  function restore(content: SnapshotContent): void {
    const time = new Timestamp({ t: content.clusterTime.t, i: content.clusterTime.i });
    clock = createClusterClock(time);
    changes = newChangeLog(content.seq, time);
    lastCommitTime = time;
    for (const c of content.collections) {
      const coll = createCollectionState(c.ns, c.options, true, c.uuid);
      catalog.set(c.ns, coll);
      for (const doc of c.docs) publishVersion(coll, doc._id, idKey(doc._id), content.seq, doc);
      const extra = c.indexes.filter((s) => s.name !== "_id_");
      for (const spec of extra) coll.indexes.push(buildIndex(coll, spec));
    }
  }

  /** Runs a DDL change: checks the engine accepts writes, then stamps, encodes, applies, journals. */
  async function ddl(record: EngineRecord, apply: () => PendingEvent[]): Promise<void> {
    assertWritable();
    await commitRecord(record, apply).durable;
  }

  const engine: Engine = {
    get storeId() {
      return storeId;
    },
    begin(beginOptions = {}) {
      assertOpen();
      const txn = createTransaction(host, beginOptions.session, beginOptions.readAt ?? "latest");
      active.add(txn);
      if (beginOptions.keepSnapshot === true && snapshotHistoryMs > 0) {
        const last = kept.at(-1);
        // One entry per position (a session's reads share one); extended by each read.
        if (last?.seq === txn.snapshotSeq) kept[kept.length - 1] = { seq: last.seq, until: Date.now() + snapshotHistoryMs };
        else kept.push({ seq: txn.snapshotSeq, until: Date.now() + snapshotHistoryMs });
      }
      return txn;
    },
    get changes() {
      return changes;
    },
    clusterTime: () => clock.now(),
    advanceClusterTime(time) {
      clock.advance(time);
    },
    durableHighWaterMark() {
      // With commits still on their way to the journal, the newest durable one bounds what is final.
      return changes.durableSeq() < changes.latestSeq() ? changes.durableTime() : clock.now();
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
        out.push({ name: splitNs(coll.ns)[1], uuid: coll.uuid, options: coll.options, indexes: coll.indexes.map((i) => i.def.spec) });
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async createCollection(ns, collOptions = {}) {
      assertWritable();
      splitNs(ns);
      const existing = catalog.get(ns);
      if (existing?.durable === true) return false;
      const stored = freezeCopy(collOptions);
      const uuid = existing?.uuid ?? new UUID();
      await ddl({ t: "create", n: ns, o: stored, u: uuid }, () => applyCreateRecord(ns, stored, uuid));
      return true;
    },
    collectionOptions(ns) {
      const coll = catalog.get(ns);
      return coll?.durable === true ? coll.options : null;
    },
    async setCollectionOptions(ns, collOptions) {
      assertWritable();
      if (catalog.get(ns)?.durable !== true) throw new EngineError(26, "NamespaceNotFound", `ns does not exist: ${ns}`);
      const stored = freezeCopy(collOptions);
      await ddl({ t: "collMod", n: ns, o: stored }, () => applyModify(ns, stored));
    },
    async dropCollection(ns) {
      assertWritable();
      const coll = catalog.get(ns);
      if (coll === undefined) return null;
      if (!coll.durable) {
        // Only an uncommitted insert created it: nothing durable to drop.
        dropCollectionNow(ns);
        return null;
      }
      const nIndexesWas = coll.indexes.length;
      await ddl({ t: "drop", n: ns }, () => dropCollectionNow(ns));
      return { nIndexesWas };
    },
    async renameCollection(from, to, dropTarget) {
      assertWritable();
      splitNs(to);
      const coll = catalog.get(from);
      if (coll?.durable !== true) throw new EngineError(26, "NamespaceNotFound", `Source collection ${from} does not exist`);
      if (from === to) throw new EngineError(20, "IllegalOperation", "Can't rename a collection to itself");
      if (catalog.get(to)?.durable === true && !dropTarget) throw new EngineError(48, "NamespaceExists", "target namespace exists");
      await ddl({ t: "rename", n: from, to, dropTarget }, () => renameNow(from, to));
    },
    async dropDatabase(db) {
      assertWritable();
      const prefix = `${db}.`;
      if (![...catalog.values()].some((c) => c.durable && c.ns.startsWith(prefix))) {
        // Nothing durable: forget collections only uncommitted inserts created, journal nothing.
        dropDatabaseNow(db);
        return;
      }
      await ddl({ t: "dropDatabase", db }, () => dropDatabaseNow(db));
    },
    async createIndexes(ns, specs) {
      assertWritable();
      splitNs(ns);
      const existing = catalog.get(ns);
      const before = existing?.indexes.length ?? 1;
      const added = admitIndexes(existing, specs);
      if (added.length === 0 && existing?.durable === true) return { before, after: before };
      // Built before anything changes: a unique index over duplicates fails here, creating nothing.
      const probe = existing ?? createCollectionState(ns, {}, true);
      for (const spec of added) buildIndex(probe, spec);
      await ddl({ t: "createIndexes", n: ns, specs: added, u: probe.uuid }, () => applyCreateIndexes(ns, added, probe.uuid));
      return { before, after: before + added.length };
    },
    listIndexes(ns) {
      const coll = catalog.get(ns);
      return coll?.durable === true ? coll.indexes.map((i) => i.def.spec) : null;
    },
    async dropIndexes(ns, names) {
      assertWritable();
      const coll = requireCollection(ns);
      const before = coll.indexes.length;
      const dropped = indexesToDrop(coll, names);
      if (dropped.length === 0) return before;
      await ddl({ t: "dropIndexes", n: ns, names: dropped.map((spec) => spec.name) }, () =>
        applyDropIndexes(
          ns,
          dropped.map((spec) => spec.name),
        ),
      );
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
    replayed() {
      changes.markDurable(changes.latestSeq(), lastCommitTime);
    },
    adoptStoreId(id) {
      storeId = id;
    },
    snapshot,
    attach(s) {
      sink = s;
    },
  };
}
