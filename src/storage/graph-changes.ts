/**
 * The change stream a read model follows: ONE stream on Roster's database
 * (its `groups` and `memberships`), from just after a snapshot's cluster
 * time, turned into neutral changes the app applies in order.
 *
 * An update event carries only what changed, so a group update is applied to
 * the group as the model holds it (`groupBefore`), giving the group as that
 * commit left it; a membership update or removal names the membership by its
 * document id only. Events are majority-committed changes, in commit order.
 *
 * Changes come in batches, one per request to the database, which the
 * consumer applies at once; a batch holds whole transactions only, so no
 * reader sees half of one (see `batchLimit` for why the database's own
 * batches do not, and how the feed knows a transaction is whole). Every
 * change carries its commit's cluster time and wall-clock time; a batch
 * carries the time through which every commit is in it or before (the
 * stream's high-water mark, its `postBatchResumeToken`, which advances while
 * nothing happens, unless a transaction is held back) and the wall-clock
 * time as of which the consumer is current.
 *
 * The stream is the driver's ChangeStream rather than aggregate/getMore sent
 * as commands: a command selects a server each time, so on a sharded cluster
 * (several mongos) or behind a load balancer a getMore or killCursors would
 * reach a server that does not hold the cursor; the ChangeStream keeps its
 * cursor's server. It decodes every event whole (bson's `fieldsAsRaw` leaves
 * only arrays as bytes, not an embedded `fullDocument`), so what is saved is
 * the conversion of the memberships the model does not keep. Measured
 * (bench:batch's last table, 500-add transactions): this feed costs 0.8-0.95×
 * of what a bare ChangeStream costs per event (about 10 µs of CPU), of which
 * about 5 µs is the driver's own (events projected to their token and time
 * alone) and 3 µs the decoding of `fullDocument`; keeping `ns.coll` alone,
 * dropping `wallTime`, or `enableUtf8Validation: false` moved it less than
 * the rounds' spread, and `fullDocument` wrapped in an array and kept raw
 * saved 0.5 µs but cost the store 50 µs (an expression projection).
 *
 * The driver resumes the stream by itself after a transient error. What it
 * cannot resume is reported as `lost` (the history was trimmed, the token
 * is unknown, the collections were dropped or renamed): the consumer must
 * rebuild from a new snapshot. An unreachable database is thrown (a
 * RosterError "unavailable") and the consumer may `reopen` later from the
 * last position seen.
 */
import { MongoServerError, type ChangeStream, type ChangeStreamDocument, type Document, type ResumeToken } from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";
import { clusterTimeOf, clusterTimeOfResumeToken, timestampOf } from "./cluster-time.ts";
import type { Database } from "./database.ts";
import {
  collectionNames,
  documentIdOf,
  groupFromDoc,
  groupToDoc,
  storedMembershipFromDoc,
  storedMembershipToDoc,
  type GroupDoc,
  type GroupNode,
  type MembershipDoc,
  type StoredMembership,
} from "./documents.ts";
import { isClosedClientError, translateDriverError } from "./driver-errors.ts";
import { historyCollection } from "./history-documents.ts";
import { transactionEndsCollection } from "./transaction-end.ts";
import { applyUpdateDescription } from "./update-description.ts";

/** One change to the groups or their memberships. */
export type GraphChange =
  /** A group was created or changed: the group as the commit left it. */
  | { readonly kind: "group_put"; readonly group: GroupNode }
  | { readonly kind: "group_removed"; readonly id: string }
  /**
   * A membership was created (or replaced). `membership` is converted from
   * the event when first read: most members added are users whose
   * memberships no one holds, and their changes are looked at by `member`.
   */
  | { readonly kind: "membership_put"; readonly member: string; readonly membership: StoredMembership }
  /**
   * A membership changed; the event names it by document id only, so the
   * consumer applies `update` to the membership as it holds it.
   */
  | { readonly kind: "membership_changed"; readonly id: string; readonly update: (before: StoredMembership) => StoredMembership }
  | { readonly kind: "membership_removed"; readonly id: string };

/** One change and its commit's times. */
export interface TimedChange {
  readonly change: GraphChange;
  /** The commit's cluster time. */
  readonly time: ClusterTime;
  /** The commit's wall-clock time (epoch ms, by the database's clock). */
  readonly wallTime: number;
}

/** What one request to the stream brought: the changes it completed. */
export interface GraphBatch {
  /** In commit order, whole transactions only (see `batchLimit`); may be empty while a transaction is held back. */
  readonly changes: readonly TimedChange[];
  /**
   * Every commit up to this cluster time is in this batch or before: the
   * stream's high-water mark, or just before the first change held back.
   */
  readonly highWater: ClusterTime | undefined;
  /**
   * The wall-clock time (epoch ms) as of which the consumer holds every
   * commit once it applies this batch: when the request was sent if it
   * brought nothing, else the newest whole commit's time if that is earlier
   * (the reply may have been cut with more waiting), or, with a change held
   * back, that change's time; undefined when unknown.
   */
  readonly currentAt: number | undefined;
  /** Set when the stream cannot go on (the changes before it are good, what was held back is dropped): why, for the log. */
  readonly lost?: string;
  /** Set when the database client was closed: the consumer should stop. */
  readonly closed?: true;
}

export interface GraphFeedOptions {
  /** How long a request waits for a change before answering that there is none. */
  readonly maxAwaitMs: number;
  /** The group `id` as the consumer holds it before the batch (an update event is applied to it). */
  readonly groupBefore: (id: string) => GroupNode | undefined;
}

export interface GraphFeed {
  /**
   * The next batch of changes (empty when none came within `maxAwaitMs`);
   * throws when the database cannot be reached (RosterError unavailable) or
   * fails otherwise.
   */
  next(): Promise<GraphBatch>;
  /** After `next` threw: opens the stream again, after the last change or high-water mark seen (what is held back stays held). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Events per request. MongoDB and the embedded store cut a batch at this
 * count or at 16 MiB of events. A transaction arriving alone (at most a
 * chunk of 5,000 membership operations) is never cut, but with a backlog of
 * more than 16 MiB waiting (after a reconnect, under a burst of writers) the
 * cut can fall inside a transaction, and the batch does not say so: its
 * postBatchResumeToken is the last event's whether it was cut or the stream
 * exhausted. So the feed holds back every change it has not seen to be whole
 * and gives the consumer a change only once it knows it is:
 * - the transaction's end mark came (transaction-end.ts: every Roster
 *   transaction that writes the graph ends with one, its last write, in the
 *   same request as the rest unless a cut came between): every change
 *   before the mark is whole, on a replica set and on the embedded store,
 *   whose streams give a transaction's events together;
 * - a request brought nothing: the one before held everything there was.
 * A later cluster time does not say a transaction is whole: MongoDB writes
 * one of more than 16 MiB of oplog as several entries, each with its own
 * time (telling a transaction's events from others' would take `txnNumber`
 * on every event: see `pipeline`). So a Roster write is applied with the
 * reply that brings its mark, and a write made outside Roster (no mark)
 * with the next Roster write's mark or at the next idle request (within
 * `maxAwaitMs`); meanwhile the model's lag shows it. What stays open: on a
 * sharded cluster whose Roster collections are themselves sharded, a
 * transaction spanning shards has its events merged by their index within
 * each shard's part, so its mark may come before another shard's last
 * events and that part could be applied first (collections left unsharded,
 * one shard per transaction, are exact).
 * Considered and not taken: holding the last cluster time of a batch only
 * when it may have been cut (near 16 MiB or this count), which needs each
 * event's size (the driver does not give it) and does not hold on a mongos,
 * which also ends a batch where a shard's reply has not come yet.
 */
const batchLimit = 100_000;

/** Server codes after which a stream cannot be resumed from its token: ChangeStreamFatalError, ChangeStreamHistoryLost, CappedPositionLost. */
const lostCodes: ReadonlySet<number> = new Set([280, 286, 136]);

const watched = [collectionNames.groups, collectionNames.memberships];

/**
 * Changes of Roster's groups and memberships, the events that end a stream
 * on them, and the end marks of transactions (one event per transaction:
 * the flagged history record, whole, or the session's mark), with only the
 * fields `changeOf` reads (and the resume token): a transaction's `lsid` and
 * `txnNumber` on every event would cost the store their encoding and this
 * process their decoding, per event (`txnNumber` alone, measured: 20% more
 * CPU per event in this process and 50% more in the embedded store).
 */
const pipeline: Document[] = [
  {
    $match: {
      $or: [
        { "ns.coll": { $in: watched } },
        { operationType: { $in: ["dropDatabase", "invalidate"] } },
        { "ns.coll": historyCollection, operationType: "insert", "fullDocument.endsCommit": true },
        { "ns.coll": transactionEndsCollection, operationType: { $in: ["insert", "update", "replace"] } },
      ],
    },
  },
  {
    $project: { operationType: 1, clusterTime: 1, wallTime: 1, ns: 1, documentKey: 1, fullDocument: 1, updateDescription: 1 },
  },
];

/** Follows the changes of `database` committed after `after` (a snapshot's cluster time). */
export function openGraphFeed(database: Database, after: ClusterTime, options: GraphFeedOptions): GraphFeed {
  let resumeToken: ResumeToken = undefined;
  const open = (): ChangeStream<Document, ChangeStreamDocument> =>
    database.db.watch<Document, ChangeStreamDocument>(pipeline, {
      maxAwaitTimeMS: options.maxAwaitMs,
      batchSize: batchLimit,
      ...(resumeToken === undefined ? { startAtOperationTime: timestampOf(after + 1n) } : { resumeAfter: resumeToken }),
    });
  let stream = open();

  /** The stream's next event (undefined: none came), or how it ended. */
  const nextEvent = async (): Promise<ChangeStreamDocument | undefined | { lost: string } | { closed: true }> => {
    try {
      const event = await stream.tryNext();
      resumeToken = stream.resumeToken;
      return event ?? undefined;
    } catch (error) {
      if (error instanceof MongoServerError && typeof error.code === "number" && lostCodes.has(error.code)) {
        return { lost: `${error.codeName ?? error.code}: ${error.message}` };
      }
      if (isClosedClientError(error)) return { closed: true };
      throw translateDriverError(error);
    }
  };

  /** Changes read and not yet known whole, in stream order: kept across requests and resumes, dropped with the feed. */
  let held: TimedChange[] = [];

  return {
    async next() {
      const sentAt = Date.now();
      const read = held;
      // Groups changed by what is held and earlier in this batch: a later update of one applies to that version.
      const changed = new Map<string, GroupNode>();
      for (const { change } of read) if (change.kind === "group_put") changed.set(change.group.id, change.group);
      const before = (id: string): GroupNode | undefined => changed.get(id) ?? options.groupBefore(id);
      /** read[0, whole) are whole transactions. */
      let whole = 0;
      /** The latest cluster time the stream has shown. */
      let latest: ClusterTime | undefined;
      let count = 0;
      const ended = (how: { lost: string } | { closed: true }): GraphBatch => {
        held = [];
        return { changes: read.slice(0, whole), highWater: undefined, currentAt: undefined, ...how };
      };
      for (;;) {
        const event = await nextEvent();
        if (event === undefined) break;
        if ("lost" in event || "closed" in event) return ended(event);
        count += 1;
        if (endsTransaction(event)) {
          whole = read.length;
          if ("clusterTime" in event) latest = clusterTimeOf(event.clusterTime);
        } else {
          const timed = timedChangeOf(event, before);
          if (typeof timed === "string") return ended({ lost: timed });
          if (timed.change.kind === "group_put") changed.set(timed.change.group.id, timed.change.group);
          read.push(timed);
          latest = timed.time;
        }
        if (stream.bufferedCount() === 0) break;
      }
      const mark = clusterTimeOfResumeToken(resumeToken);
      if (mark !== undefined && (latest === undefined || mark > latest)) latest = mark;
      // Nothing came: the request before held everything there was.
      if (count === 0) whole = read.length;
      const changes = whole === read.length ? read : read.slice(0, whole);
      held = read.slice(whole);
      const firstHeld = held[0];
      if (firstHeld !== undefined) return { changes, highWater: firstHeld.time - 1n, currentAt: firstHeld.wallTime };
      // A reply that brought changes may have been cut (16 MiB) with more
      // waiting, and does not say so: the consumer is current only as of its
      // newest change, or as of the request if that change committed after
      // the request was sent (it was waited for, so nothing else was waiting).
      // Claiming the request's time for a cut reply would report a backlog of
      // any age as no lag at all. (A change's time is the database's clock: a
      // database clock behind this process's shows as lag while changes come.)
      const newest = changes.at(-1)?.wallTime;
      return { changes, highWater: latest, currentAt: count === 0 || newest === undefined ? sentAt : Math.min(sentAt, newest) };
    },
    async reopen() {
      await stream.close().catch(() => undefined);
      stream = open();
    },
    close: () => stream.close(),
  };
}

/** Whether `event` is a transaction's end mark (the pipeline lets no other event of these collections through). */
function endsTransaction(event: ChangeStreamDocument): boolean {
  const coll = "ns" in event ? (event.ns as { coll?: string }).coll : undefined;
  return coll === historyCollection || coll === transactionEndsCollection;
}

/** The change an event stands for with its times, or why the stream cannot go on. */
function timedChangeOf(event: ChangeStreamDocument, groupBefore: (id: string) => GroupNode | undefined): TimedChange | string {
  const time = "clusterTime" in event ? clusterTimeOf(event.clusterTime) : undefined;
  if (time === undefined) return `a ${event.operationType} event without a cluster time`;
  const wallTime = "wallTime" in event && event.wallTime instanceof Date ? event.wallTime.getTime() : Date.now();
  const change = changeOf(event, groupBefore);
  return typeof change === "string" ? change : { change, time, wallTime };
}

/**
 * The change of a membership document inserted or replaced, converted when
 * its `membership` is first read. A class, not an object literal with a
 * getter: V8 builds such a literal on its slow path, each with a map of its
 * own (measured 0.5 µs a change against 20 ns, per event of the stream, and
 * every `kind` read of a batch's changes then megamorphic).
 */
class MembershipPut {
  readonly kind = "membership_put";
  readonly member: string;
  readonly #doc: MembershipDoc;
  #membership: StoredMembership | undefined;

  constructor(doc: MembershipDoc) {
    this.member = doc.member;
    this.#doc = doc;
  }

  get membership(): StoredMembership {
    return (this.#membership ??= storedMembershipFromDoc(this.#doc));
  }
}

/** The neutral change of an event, or why the stream cannot go on. */
function changeOf(event: ChangeStreamDocument, groupBefore: (id: string) => GroupNode | undefined): GraphChange | string {
  switch (event.operationType) {
    case "insert":
    case "replace":
      if (event.ns.coll === collectionNames.groups) return { kind: "group_put", group: groupFromDoc(event.fullDocument as GroupDoc) };
      return new MembershipPut(event.fullDocument as MembershipDoc);
    case "update": {
      const id: unknown = event.documentKey._id;
      const description = event.updateDescription;
      if (event.ns.coll === collectionNames.groups) {
        const before = typeof id === "string" ? groupBefore(id) : undefined;
        if (before === undefined) return `an update of group ${JSON.stringify(id)}, which the snapshot and the changes before did not hold`;
        return { kind: "group_put", group: groupFromDoc(applyUpdateDescription(groupToDoc(before), description) as GroupDoc) };
      }
      const membershipId = documentIdOf(id);
      return {
        kind: "membership_changed",
        id: membershipId,
        update: (before) => ({
          ...storedMembershipFromDoc(applyUpdateDescription(storedMembershipToDoc(before), description) as MembershipDoc),
          id: membershipId,
        }),
      };
    }
    case "delete":
      if (event.ns.coll === collectionNames.groups) return { kind: "group_removed", id: String(event.documentKey._id) };
      return { kind: "membership_removed", id: documentIdOf(event.documentKey._id) };
    default:
      // drop, rename, dropDatabase, invalidate: the collections the model mirrors are gone.
      return `a ${event.operationType} event`;
  }
}
