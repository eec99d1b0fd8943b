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
 * consumer applies at once (so no reader sees half a transaction). Every
 * change carries its commit's cluster time and wall-clock time; a batch
 * carries the stream's high-water mark after it (its `postBatchResumeToken`,
 * which advances while nothing happens) and, when it held everything there
 * was, the moment its request was sent: every change committed before then
 * has been delivered.
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

/** What one request to the stream brought. */
export interface GraphBatch {
  /** In commit order; a transaction's changes in one batch unless a backlog's 16 MiB cut splits it (see `batchLimit`). */
  readonly changes: readonly TimedChange[];
  /** The stream's high-water mark after the batch: every commit up to it is in this batch or before. */
  readonly highWater: ClusterTime | undefined;
  /**
   * The batch held everything committed when the request was sent, at
   * `sentAt` (epoch ms): the consumer is current as of then.
   */
  readonly complete: boolean;
  readonly sentAt: number;
  /** Set when the stream cannot go on (the changes before it are good): why, for the log. */
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
  /** After `next` threw: opens the stream again, after the last change or high-water mark seen. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Events per batch. A batch is applied at once. MongoDB (and the embedded
 * store) cut a batch at this count or at 16 MiB of events; both are far above
 * Roster's largest transaction (a chunk of at most 5,000 membership
 * operations), so a transaction arriving alone is never split. But with a
 * backlog of more than 16 MiB of events waiting (after a reconnect, under a
 * burst of writers) the cut can fall inside a transaction, and the model then
 * holds that transaction's first part until the next batch, moments later.
 * Not yet closed: the stream gives no end-of-transaction mark that works on
 * every deployment (`endOfTransaction` is single-shard only, MongoDB 7.1+).
 */
const batchLimit = 100_000;

/** Server codes after which a stream cannot be resumed from its token: ChangeStreamFatalError, ChangeStreamHistoryLost, CappedPositionLost. */
const lostCodes: ReadonlySet<number> = new Set([280, 286, 136]);

const watched = [collectionNames.groups, collectionNames.memberships];

/**
 * Changes of Roster's groups and memberships, and the events that end a
 * stream on them, with only the fields `changeOf` reads (and the resume
 * token): a transaction's `lsid` and `txnNumber` on every event would cost
 * the store their encoding and this process their decoding, per event.
 */
const pipeline: Document[] = [
  {
    $match: {
      $or: [{ "ns.coll": { $in: watched } }, { operationType: { $in: ["dropDatabase", "invalidate"] } }],
    },
  },
  { $project: { operationType: 1, clusterTime: 1, wallTime: 1, ns: 1, documentKey: 1, fullDocument: 1, updateDescription: 1 } },
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

  return {
    async next() {
      const sentAt = Date.now();
      const changes: TimedChange[] = [];
      // Groups changed earlier in this batch: a later update of one applies to that version.
      const changed = new Map<string, GroupNode>();
      const before = (id: string): GroupNode | undefined => changed.get(id) ?? options.groupBefore(id);
      let count = 0;
      for (;;) {
        const event = await nextEvent();
        if (event === undefined) break;
        if ("lost" in event) return { changes, highWater: undefined, complete: false, sentAt, lost: event.lost };
        if ("closed" in event) return { changes, highWater: undefined, complete: false, sentAt, closed: true };
        count += 1;
        const change = timedChangeOf(event, before);
        if (typeof change === "string") return { changes, highWater: undefined, complete: false, sentAt, lost: change };
        if (change.change.kind === "group_put") changed.set(change.change.group.id, change.change.group);
        changes.push(change);
        if (stream.bufferedCount() === 0) break;
      }
      return { changes, highWater: clusterTimeOfResumeToken(resumeToken), complete: count < batchLimit, sentAt };
    },
    async reopen() {
      await stream.close().catch(() => undefined);
      stream = open();
    },
    close: () => stream.close(),
  };
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
