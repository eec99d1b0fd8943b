/**
 * Queries and writes on the `memberships` collection: one document per direct
 * membership (group, member, role). Graph walks use `edgesOfMembers` (upward:
 * which groups are these principals in?) and `groupEdgesOf` (downward: which
 * groups are in these groups?), one indexed `$in` query per level.
 */
import type { Collection, Filter } from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";
import type { Database } from "./database.ts";
import type { MembershipRecord, Role } from "../domain/model.ts";
import { clusterTimeOf } from "./cluster-time.ts";
import {
  collectionNames,
  membershipFromDoc,
  membershipToDoc,
  storedMembershipFromDoc,
  type MembershipDoc,
  type StoredMembership,
} from "./documents.ts";
import { driverCall } from "./driver-errors.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";

/** A membership reduced to what graph walks need. */
export interface MembershipEdge {
  readonly groupId: string;
  readonly member: string;
  readonly role: Role;
}

export interface MembershipStore {
  get(groupId: string, member: string, call: StoreCall): Promise<MembershipRecord | undefined>;
  /** already_exists when (group, member) exists. */
  insert(membership: MembershipRecord, call: StoreCall): Promise<void>;
  /** Returns the removed membership, or undefined when there was none. */
  delete(groupId: string, member: string, call: StoreCall): Promise<MembershipRecord | undefined>;
  /** Returns the updated membership, or undefined when there is none. */
  setRole(groupId: string, member: string, role: Role, time: Date, call: StoreCall): Promise<MembershipRecord | undefined>;
  countWithRole(groupId: string, role: Role, call: StoreCall): Promise<number>;
  /** Exact number of direct members (member_count is maintained from this truth). */
  countMembers(groupId: string, role: Role | undefined, call: StoreCall): Promise<number>;
  /** Upward step: every membership of any of `members`. */
  edgesOfMembers(members: readonly string[], call: StoreCall): Promise<MembershipEdge[]>;
  /**
   * Every membership of any of `members`, with document ids, and the cluster
   * time of the state read (the read model follows changes after it).
   */
  membershipsOfMembers(members: readonly string[], call: StoreCall): Promise<{ time: ClusterTime; memberships: StoredMembership[] }>;
  /** Downward step: the `group:` members of any of `groupIds`. */
  groupEdgesOf(groupIds: readonly string[], call: StoreCall): Promise<MembershipRecord[]>;
  /** One keyset page of a group's direct members ordered by member, strictly after `afterMember`. */
  listPage(
    groupId: string,
    role: Role | undefined,
    afterMember: string | undefined,
    limit: number,
    call: StoreCall,
  ): Promise<MembershipRecord[]>;
  /**
   * One keyset page of a group's users and services (never its `group:`
   * members) ordered by member, strictly after `afterMember`: one range of
   * the `group_member` index, whose cost is the page's, not the group's.
   */
  usersAndServicesPage(groupId: string, afterMember: string | undefined, limit: number, call: StoreCall): Promise<MembershipRecord[]>;
}

/**
 * Every `group:<id>` principal sorts in ["group:", "group;"): ';' follows ':'
 * in code-point order; `service:` and `user:` principals all sort after it.
 */
const groupMemberEnd = "group;";
/** The filter on `member` that selects `group:<id>` members only. */
export const groupMemberRange = { $gte: "group:", $lt: groupMemberEnd };

export function memberExistsMessage(groupId: string, member: string): string {
  return `${member} is already a member of group "${groupId}"`;
}

export function createMembershipStore({ client, db }: Database): MembershipStore {
  const memberships: Collection<MembershipDoc> = db.collection<MembershipDoc>(collectionNames.memberships);

  const store: MembershipStore = {
    async get(groupId, member, call) {
      const doc = await driverCall(() => memberships.findOne({ groupId, member }, operationOptions(call)));
      return doc === null ? undefined : membershipFromDoc(doc);
    },

    async insert(membership, call) {
      await driverCall(
        () => memberships.insertOne(membershipToDoc(membership), operationOptions(call)),
        memberExistsMessage(membership.groupId, membership.member),
      );
    },

    async delete(groupId, member, call) {
      const doc = await driverCall(() => memberships.findOneAndDelete({ groupId, member }, operationOptions(call)));
      return doc === null ? undefined : membershipFromDoc(doc);
    },

    async setRole(groupId, member, role, time, call) {
      const doc = await driverCall(() =>
        memberships.findOneAndUpdate(
          { groupId, member },
          { $set: { role, updateTime: time } },
          { ...operationOptions(call), returnDocument: "after" },
        ),
      );
      return doc === null ? undefined : membershipFromDoc(doc);
    },

    async countWithRole(groupId, role, call) {
      return driverCall(() => memberships.countDocuments({ groupId, role }, operationOptions(call)));
    },

    async countMembers(groupId, role, call) {
      const filter: Filter<MembershipDoc> = role === undefined ? { groupId } : { groupId, role };
      return driverCall(() => memberships.countDocuments(filter, operationOptions(call)));
    },

    async edgesOfMembers(members, call) {
      if (members.length === 0) return [];
      const docs = await driverCall(() =>
        memberships
          .find({ member: { $in: [...members] } }, { ...operationOptions(call), projection: { _id: 0, groupId: 1, member: 1, role: 1 } })
          .toArray(),
      );
      return docs.map((doc) => ({ groupId: doc.groupId, member: doc.member, role: doc.role }));
    },

    async membershipsOfMembers(members, call) {
      // An explicit (causally consistent) session: its operationTime after the read is the time read at.
      const session = client.startSession();
      try {
        const docs = await driverCall(() =>
          memberships.find({ member: { $in: [...members] } }, { ...operationOptions(call), session }).toArray(),
        );
        const time = session.operationTime;
        if (time === undefined) throw new Error("the database reported no operationTime for a read");
        return { time: clusterTimeOf(time), memberships: docs.map(storedMembershipFromDoc) };
      } finally {
        await session.endSession();
      }
    },

    async groupEdgesOf(groupIds, call) {
      if (groupIds.length === 0) return [];
      const filter: Filter<MembershipDoc> = { groupId: { $in: [...groupIds] }, member: groupMemberRange };
      const docs = await driverCall(() => memberships.find(filter, operationOptions(call)).toArray());
      return docs.map(membershipFromDoc);
    },

    async listPage(groupId, role, afterMember, limit, call) {
      const filter: Filter<MembershipDoc> = { groupId };
      if (role !== undefined) filter.role = role;
      if (afterMember !== undefined) filter.member = { $gt: afterMember };
      const docs = await driverCall(() => memberships.find(filter, { ...operationOptions(call), sort: { member: 1 }, limit }).toArray());
      return docs.map(membershipFromDoc);
    },

    usersAndServicesPage(groupId, afterMember, limit, call) {
      const after = afterMember === undefined || afterMember < groupMemberEnd ? groupMemberEnd : afterMember;
      return store.listPage(groupId, undefined, after, limit, call);
    },
  };
  return store;
}
