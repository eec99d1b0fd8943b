/**
 * Bulk reads and writes on the `memberships` collection for the batch engine:
 * one `$in` query reads the current state of a chunk's members of
 * a group, and one `bulkWrite` stores a chunk's net changes, instead of one
 * round trip per operation. Run inside the chunk's transaction (the caller
 * passes the transaction's StoreCall); the group's member_count is bumped by
 * the caller with `GroupStore.bumpMembership`, once per group per chunk.
 */
import type { AnyBulkWriteOperation, Collection } from "mongodb";
import type { Database } from "./database.ts";
import type { MembershipRecord, Role } from "../domain/model.ts";
import { collectionNames, membershipFromDoc, membershipToDoc, type MembershipDoc } from "./documents.ts";
import { driverCall } from "./driver-errors.ts";
import { memberExistsMessage } from "./membership-store.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";
import { graphWriteOptions } from "./transaction-end.ts";

/** One net change of a direct membership. */
export type MembershipWrite =
  | { readonly kind: "insert"; readonly membership: MembershipRecord }
  | { readonly kind: "delete"; readonly groupId: string; readonly member: string }
  /** The member stays; its role (and update time) changed. */
  | { readonly kind: "set_role"; readonly groupId: string; readonly member: string; readonly role: Role; readonly time: Date }
  /** Removed and added again within one chunk: a new membership replaces the old document. */
  | { readonly kind: "replace"; readonly membership: MembershipRecord };

export interface MembershipBulkStore {
  /** The direct memberships of `members` in `groupId` (absent members are simply missing). */
  findMembers(groupId: string, members: readonly string[], call: StoreCall): Promise<MembershipRecord[]>;
  /** Applies `writes` in order with one bulkWrite; already_exists on a duplicate (group, member). */
  applyWrites(writes: readonly MembershipWrite[], call: StoreCall): Promise<void>;
}

export function createMembershipBulkStore({ db }: Database): MembershipBulkStore {
  const memberships: Collection<MembershipDoc> = db.collection<MembershipDoc>(collectionNames.memberships);
  return {
    async findMembers(groupId, members, call) {
      if (members.length === 0) return [];
      const docs = await driverCall(() => memberships.find({ groupId, member: { $in: [...members] } }, operationOptions(call)).toArray());
      return docs.map(membershipFromDoc);
    },

    async applyWrites(writes, call) {
      if (writes.length === 0) return;
      const operations = writes.map(bulkOperationOf);
      const first = writes.find((w) => w.kind === "insert");
      const duplicate = first?.kind === "insert" ? memberExistsMessage(first.membership.groupId, first.membership.member) : undefined;
      // Ordered: a later write may depend on an earlier one of the same
      // document never happening twice; the batch engine emits one write per
      // (group, member) per flush, so ordering costs nothing here.
      await driverCall(() => memberships.bulkWrite(operations, { ...graphWriteOptions(call), ordered: true }), duplicate);
    },
  };
}

function bulkOperationOf(write: MembershipWrite): AnyBulkWriteOperation<MembershipDoc> {
  switch (write.kind) {
    case "insert":
      return { insertOne: { document: membershipToDoc(write.membership) } };
    case "delete":
      return { deleteOne: { filter: { groupId: write.groupId, member: write.member } } };
    case "set_role":
      return {
        updateOne: {
          filter: { groupId: write.groupId, member: write.member },
          update: { $set: { role: write.role, updateTime: write.time } },
        },
      };
    case "replace":
      return {
        replaceOne: {
          filter: { groupId: write.membership.groupId, member: write.membership.member },
          replacement: membershipToDoc(write.membership),
        },
      };
  }
}
