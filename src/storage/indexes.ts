/**
 * The indexes Roster's queries need, created idempotently at start-up. Each
 * entry says which query it serves; a query not listed here should not exist.
 */
import type { IndexDescription } from "mongodb";
import type { Database } from "./database.ts";
import { collectionNames, type LockDoc } from "./documents.ts";
import { driverCall, hasMongoCode, mongoErrorCodes } from "./driver-errors.ts";
import { historyCollection } from "./history-documents.ts";
import { transactionEndsCollection } from "./transaction-end.ts";

/** Index specifications per collection (exported for tests and operators). */
export const rosterIndexes: Readonly<Record<string, readonly IndexDescription[]>> = {
  [collectionNames.groups]: [
    // Unique live slug per namespace; deleted groups free their slug, and
    // UndeleteGroup hits this index (→ already_exists) when it was reused.
    {
      name: "live_namespace_slug",
      key: { namespace: 1, slug: 1 },
      unique: true,
      partialFilterExpression: { state: "ACTIVE" },
    },
    // Live children of a group (DeleteGroup's precondition, ListGroups by parent).
    { name: "parent_state", key: { parentId: 1, state: 1 } },
    // Descendants of a group: re-parenting and "MANAGE on an ancestor" in ListGroups.
    { name: "ancestors", key: { ancestorIds: 1 } },
    // Groups granting something to a principal (ACL entries are per principal).
    { name: "acl_principal", key: { "acl.principal": 1 } },
    // Keyset pages of ListGroups ordered by display name or create time.
    { name: "state_sortname_id", key: { state: 1, sortName: 1, _id: 1 } },
    { name: "state_createtime_id", key: { state: 1, createTime: 1, _id: 1 } },
    // Groups visible to every authenticated caller.
    { name: "visibility_state", key: { visibility: 1, state: 1 } },
  ],
  [collectionNames.memberships]: [
    // One membership per (group, member); direct member listing by member.
    { name: "group_member", key: { groupId: 1, member: 1 }, unique: true },
    // "My groups" and upward walks (which groups is this principal in?).
    { name: "member_group", key: { member: 1, groupId: 1 } },
    // Members of a group by role (role filter, counting ADMINs).
    { name: "group_role_member", key: { groupId: 1, role: 1, member: 1 } },
    // The expiry sweeper's oldest-first scan of memberships that have an expire_time.
    { name: "expire_time", key: { expireTime: 1 }, partialFilterExpression: { expireTime: { $exists: true } } },
  ],
  [historyCollection]: [
    // ListGroupHistory: a group's records newest first (keyset on time, id).
    { name: "group_time_id", key: { groupId: 1, time: -1, _id: -1 } },
    // ListGroupHistory of one member's records (one's own, or a manager's filter).
    { name: "group_member_time_id", key: { groupId: 1, member: 1, time: -1, _id: -1 } },
    // The retention sweeper: the oldest records first.
    { name: "time", key: { time: 1 } },
  ],
};

/** The single document every nesting change (group members, parent ids) updates; see locks.ts. */
export const nestingLockId = "nesting";

/** Creates the collections' indexes and seed documents; safe to run on every start. */
export async function ensureIndexes({ db }: Database): Promise<void> {
  for (const [collection, indexes] of Object.entries(rosterIndexes)) {
    await driverCall(() => db.collection(collection).createIndexes([...indexes]));
  }
  // Written only inside transactions, which may not create a collection on every deployment (a cross-shard one).
  try {
    await db.createCollection(transactionEndsCollection);
  } catch (error) {
    if (!hasMongoCode(error, mongoErrorCodes.namespaceExists)) throw error;
  }
  try {
    await db.collection<LockDoc>(collectionNames.locks).insertOne({ _id: nestingLockId, version: 0 });
  } catch (error) {
    if (!hasMongoCode(error, mongoErrorCodes.duplicateKey)) throw error;
  }
}
