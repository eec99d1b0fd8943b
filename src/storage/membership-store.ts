/**
 * Queries and writes on the `memberships` collection: one document per direct
 * membership (group, member, role). Graph walks use `edgesOfMembers` (upward:
 * which groups are these principals in?) and `groupEdgesOf` (downward: which
 * groups are in these groups?), one indexed `$in` query per level.
 */
import type { Collection, Filter } from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";
import type { Database } from "./database.ts";
import type { MembershipRecord, MembershipStatus, Role } from "../domain/model.ts";
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
import { graphWriteOptions } from "./transaction-end.ts";

/** A membership reduced to what graph walks need (its status and expiry decide whether it confers). */
export interface MembershipEdge {
  readonly groupId: string;
  readonly member: string;
  readonly role: Role;
  readonly status?: Exclude<MembershipStatus, "ACTIVE"> | undefined;
  readonly expireTime?: Date | undefined;
}

/** Which direct memberships of a group a listing or count takes. */
export interface MemberFilter {
  /** Only this role; undefined: any. */
  readonly role?: Role | undefined;
  /** Only these statuses. */
  readonly statuses: readonly MembershipStatus[];
  /** Leave out memberships expired at this instant; undefined: keep them (the sweeper's and sync's view). */
  readonly unexpiredAt?: Date | undefined;
}

/** ACTIVE memberships that have not expired at `now`: the members that confer something. */
export function conferringAt(now: Date): MemberFilter {
  return { statuses: ["ACTIVE"], unexpiredAt: now };
}

/**
 * The database translation of `filter`, for queries that page or count and
 * so cannot filter in memory: `status` absent is ACTIVE, and a membership
 * is unexpired when it has no `expireTime` or one after the instant (the
 * domain's `hasExpired`, membership-status.ts).
 */
export function memberFilterQuery(groupId: string, filter: MemberFilter): Filter<MembershipDoc> {
  const query: Filter<MembershipDoc> = { groupId };
  if (filter.role !== undefined) query.role = filter.role;
  const pending = (["INVITED", "REQUESTED"] as const).filter((status) => filter.statuses.includes(status));
  // `$nin` matches an absent status (ACTIVE) too; plain operators keep the embedded store's exact matcher.
  if (!filter.statuses.includes("ACTIVE")) query.status = { $in: pending };
  else if (pending.length < 2) query.status = { $nin: (["INVITED", "REQUESTED"] as const).filter((status) => !pending.includes(status)) };
  // `$not: {$lte}` also matches a missing expireTime.
  if (filter.unexpiredAt !== undefined) query.expireTime = { $not: { $lte: filter.unexpiredAt } };
  return query;
}

export interface MembershipStore {
  get(groupId: string, member: string, call: StoreCall): Promise<MembershipRecord | undefined>;
  /** already_exists when (group, member) exists. */
  insert(membership: MembershipRecord, call: StoreCall): Promise<void>;
  /** Returns the removed membership, or undefined when there was none. */
  delete(groupId: string, member: string, call: StoreCall): Promise<MembershipRecord | undefined>;
  /**
   * The group's direct ADMINs that are ACTIVE and never expire: a group
   * always keeps one (`isPermanentAdmin`, membership-status.ts).
   */
  countPermanentAdmins(groupId: string, call: StoreCall): Promise<number>;
  /** Exact number of the group's direct memberships matching `filter`. */
  countMembers(groupId: string, filter: MemberFilter, call: StoreCall): Promise<number>;
  /** Upward step: every membership of any of `members`, whatever its status (callers decide with `confers`). */
  edgesOfMembers(members: readonly string[], call: StoreCall): Promise<MembershipEdge[]>;
  /**
   * Every membership of any of `members`, with document ids, and the cluster
   * time of the state read (the read model follows changes after it).
   */
  membershipsOfMembers(members: readonly string[], call: StoreCall): Promise<{ time: ClusterTime; memberships: StoredMembership[] }>;
  /** Downward step: the `group:` members of any of `groupIds`, whatever their status. */
  groupEdgesOf(groupIds: readonly string[], call: StoreCall): Promise<MembershipRecord[]>;
  /** One keyset page of a group's direct memberships matching `filter`, ordered by member, strictly after `afterMember`. */
  listPage(
    groupId: string,
    filter: MemberFilter,
    afterMember: string | undefined,
    limit: number,
    call: StoreCall,
  ): Promise<MembershipRecord[]>;
  /**
   * One keyset page of a group's users and services (never its `group:`
   * members) that confer at `now`, ordered by member, strictly after
   * `afterMember`: one range of the `group_member` index, whose cost is the
   * page's, not the group's.
   */
  usersAndServicesPage(
    groupId: string,
    now: Date,
    afterMember: string | undefined,
    limit: number,
    call: StoreCall,
  ): Promise<MembershipRecord[]>;
  /** Up to `limit` memberships whose expire_time is at or before `now`, oldest first (the expiry sweeper). */
  expiredAt(now: Date, limit: number, call: StoreCall): Promise<MembershipRecord[]>;
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
        () => memberships.insertOne(membershipToDoc(membership), graphWriteOptions(call)),
        memberExistsMessage(membership.groupId, membership.member),
      );
    },

    async delete(groupId, member, call) {
      const doc = await driverCall(() => memberships.findOneAndDelete({ groupId, member }, graphWriteOptions(call)));
      return doc === null ? undefined : membershipFromDoc(doc);
    },

    async countPermanentAdmins(groupId, call) {
      const filter: Filter<MembershipDoc> = { groupId, role: "ADMIN", status: { $exists: false }, expireTime: { $exists: false } };
      return driverCall(() => memberships.countDocuments(filter, operationOptions(call)));
    },

    async countMembers(groupId, filter, call) {
      return driverCall(() => memberships.countDocuments(memberFilterQuery(groupId, filter), operationOptions(call)));
    },

    async edgesOfMembers(members, call) {
      if (members.length === 0) return [];
      const docs = await driverCall(() =>
        memberships
          .find(
            { member: { $in: [...members] } },
            { ...operationOptions(call), projection: { _id: 0, groupId: 1, member: 1, role: 1, status: 1, expireTime: 1 } },
          )
          .toArray(),
      );
      return docs.map((doc) => {
        const edge: { -readonly [K in keyof MembershipEdge]: MembershipEdge[K] } = {
          groupId: doc.groupId,
          member: doc.member,
          role: doc.role,
        };
        if (doc.status !== undefined) edge.status = doc.status;
        if (doc.expireTime !== undefined) edge.expireTime = doc.expireTime;
        return edge;
      });
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

    async listPage(groupId, filter, afterMember, limit, call) {
      const query = memberFilterQuery(groupId, filter);
      if (afterMember !== undefined) query.member = { $gt: afterMember };
      const docs = await driverCall(() => memberships.find(query, { ...operationOptions(call), sort: { member: 1 }, limit }).toArray());
      return docs.map(membershipFromDoc);
    },

    usersAndServicesPage(groupId, now, afterMember, limit, call) {
      const after = afterMember === undefined || afterMember < groupMemberEnd ? groupMemberEnd : afterMember;
      return store.listPage(groupId, conferringAt(now), after, limit, call);
    },

    async expiredAt(now, limit, call) {
      const docs = await driverCall(() =>
        memberships.find({ expireTime: { $lte: now } }, { ...operationOptions(call), sort: { expireTime: 1 }, limit }).toArray(),
      );
      return docs.map(membershipFromDoc);
    },
  };
  return store;
}
