/**
 * The reads a read model is built from: every group and every group-in-group
 * membership at ONE cluster time (a snapshot read: `readConcern: {level:
 * "snapshot"}`, the second collection at the `atClusterTime` the first
 * reported), so that following the change stream from just after that time
 * gives exactly the changes the snapshot does not hold.
 *
 * Raw `find`/`getMore` commands in one explicit session, because the
 * driver's cursor options carry no `atClusterTime` and a cursor must be read
 * in the session that opened it. The history a snapshot needs is kept for
 * MongoDB's `minSnapshotHistoryWindowInSeconds` (300 s by default), which
 * bounds how long the load may take.
 */
import { Long, type ClientSession, type Db, type Document, type Timestamp } from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";
import { clusterTimeOf } from "./cluster-time.ts";
import type { Database } from "./database.ts";
import {
  collectionNames,
  groupFromDoc,
  storedMembershipFromDoc,
  type GroupDoc,
  type GroupNode,
  type MembershipDoc,
  type StoredMembership,
} from "./documents.ts";
import { driverCall } from "./driver-errors.ts";
import { groupMemberRange } from "./membership-store.ts";

/** Documents per batch of the snapshot read. */
const batchSize = 10_000;

export interface GraphSnapshot {
  /** The cluster time the snapshot was read at: changes after it are not in it. */
  readonly time: ClusterTime;
  readonly groups: GroupNode[];
  /** Every membership whose member is a group (`group:<id>`), with its document id. */
  readonly groupEdges: StoredMembership[];
}

/** Reads every group and group edge of `database` at one cluster time (see the module comment). */
export async function loadGraphSnapshot(database: Database): Promise<GraphSnapshot> {
  const session = database.client.startSession({ causalConsistency: false });
  try {
    const groups: GroupNode[] = [];
    const at = await readAll(database.db, session, collectionNames.groups, {}, undefined, (doc) =>
      groups.push(groupFromDoc(doc as GroupDoc)),
    );
    const groupEdges: StoredMembership[] = [];
    await readAll(database.db, session, collectionNames.memberships, { member: groupMemberRange }, at, (doc) =>
      groupEdges.push(storedMembershipFromDoc(doc as MembershipDoc)),
    );
    return { time: clusterTimeOf(at), groups, groupEdges };
  } finally {
    await session.endSession();
  }
}

/** Reads every document of `collection` matching `filter` at `at` (or now), in batches; returns the time read at. */
async function readAll(
  db: Db,
  session: ClientSession,
  collection: string,
  filter: Document,
  at: Timestamp | undefined,
  each: (doc: Document) => void,
): Promise<Timestamp> {
  const readConcern = at === undefined ? { level: "snapshot" } : { level: "snapshot", atClusterTime: at };
  const first = await driverCall(() => db.command({ find: collection, filter, batchSize, readConcern }, { session, promoteLongs: false }));
  const cursor = first["cursor"] as { firstBatch: Document[]; id: Long; atClusterTime?: Timestamp };
  const readAt = cursor.atClusterTime ?? at;
  if (readAt === undefined) throw new Error(`the snapshot read of ${collection} reported no atClusterTime`);
  for (const doc of cursor.firstBatch) each(doc);
  let id = cursor.id;
  while (!id.isZero()) {
    const cursorId = id;
    const more = await driverCall(() => db.command({ getMore: cursorId, collection, batchSize }, { session, promoteLongs: false }));
    const next = more["cursor"] as { nextBatch: Document[]; id: Long };
    for (const doc of next.nextBatch) each(doc);
    id = next.id;
  }
  return readAt;
}
