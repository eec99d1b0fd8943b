/**
 * The members one transaction of membership changes touches, in memory: what
 * the database held when they were read, and what they are after the changes
 * decided so far. Operations on the same member therefore see each other's
 * effect exactly as if they were sent one by one, and the writes are the net
 * change per member (one write each, however many operations touched it),
 * computed when asked (`drain`). It also keeps each group's count of direct
 * ADMINs that never expire current as changes are recorded (the ADMINs a
 * group must keep one of), and each written group's member count delta
 * (ACTIVE memberships), for one `$inc` per group at the end.
 */
import type { MembershipChange } from "../../domain/membership-operation.ts";
import { countsAsMember, isPermanentAdmin } from "../../domain/membership-status.ts";
import type { MembershipRecord } from "../../domain/model.ts";
import type { MembershipWrite } from "../../storage/membership-bulk-store.ts";

export interface MembershipLedger {
  /**
   * The member's direct membership after the changes recorded so far, as
   * stored (an expired one too: deciding compares with the time); undefined
   * for a non-member.
   */
  current(groupId: string, member: string): MembershipRecord | undefined;
  /** Records a decided change ("unchanged" ones change nothing). */
  record(change: MembershipChange): void;
  /**
   * The group's direct ADMINs that never expire now. `loadStored` counts them in the database,
   * which holds every drained write: called once per group, after which the
   * ledger keeps the count itself.
   */
  adminCount(groupId: string, loadStored: () => Promise<number>): Promise<number>;
  /** Net change of the group's never-expiring direct ADMINs over every recorded change. */
  adminDelta(groupId: string): number;
  /**
   * The writes that bring the database from what it held at the previous
   * drain (or the read) to the current state, one per member changed; the
   * caller must apply them before asking anything of the database that
   * depends on them.
   */
  drain(): MembershipWrite[];
  /** Net change of each written group's ACTIVE direct members over every drain; a role change alone counts 0. */
  memberCountDeltas(): ReadonlyMap<string, number>;
}

function keyOf(groupId: string, member: string): string {
  return `${groupId}\n${member}`;
}

function adminness(record: MembershipRecord | undefined): number {
  return isPermanentAdmin(record) ? 1 : 0;
}

/** Whether `after` differs from `before` (the same membership) in its role and update time only. */
function roleChangeOnly(before: MembershipRecord, after: MembershipRecord): boolean {
  return (
    after.createTime === before.createTime &&
    after.status === before.status &&
    after.expireTime === before.expireTime &&
    after.message === before.message &&
    after.fields === before.fields
  );
}

function add(map: Map<string, number>, key: string, delta: number): void {
  map.set(key, (map.get(key) ?? 0) + delta);
}

/** A ledger over the direct memberships read (`stored`); members not among them are non-members. */
export function createMembershipLedger(stored: Iterable<MembershipRecord>): MembershipLedger {
  /** What the database holds (as of the last drain). */
  const written = new Map<string, MembershipRecord | undefined>();
  for (const record of stored) written.set(keyOf(record.groupId, record.member), record);
  const current = new Map(written);
  const changed = new Set<string>();
  const adminDeltas = new Map<string, number>();
  const undrainedAdminDeltas = new Map<string, number>();
  const adminCounts = new Map<string, number>();
  const memberCountDeltas = new Map<string, number>();

  return {
    current: (groupId, member) => current.get(keyOf(groupId, member)),

    record(change) {
      if (change.effect === "unchanged") return;
      const key = keyOf(change.groupId, change.member);
      const delta = adminness(change.after) - adminness(current.get(key));
      current.set(key, change.after);
      changed.add(key);
      if (delta === 0) return;
      add(adminDeltas, change.groupId, delta);
      add(undrainedAdminDeltas, change.groupId, delta);
      const count = adminCounts.get(change.groupId);
      if (count !== undefined) adminCounts.set(change.groupId, count + delta);
    },

    async adminCount(groupId, loadStored) {
      const known = adminCounts.get(groupId);
      if (known !== undefined) return known;
      const count = (await loadStored()) + (undrainedAdminDeltas.get(groupId) ?? 0);
      adminCounts.set(groupId, count);
      return count;
    },

    adminDelta: (groupId) => adminDeltas.get(groupId) ?? 0,

    drain() {
      const writes: MembershipWrite[] = [];
      for (const key of changed) {
        const before = written.get(key);
        const after = current.get(key);
        const record = after ?? before;
        if (before === after || record === undefined) continue;
        const groupId = record.groupId;
        // Every group written is bumped, a role change alone too: it serialises with other membership changes.
        add(memberCountDeltas, groupId, (countsAsMember(after) ? 1 : 0) - (countsAsMember(before) ? 1 : 0));
        if (after === undefined) {
          writes.push({ kind: "delete", groupId, member: record.member });
        } else if (before === undefined) {
          writes.push({ kind: "insert", membership: after });
        } else if (roleChangeOnly(before, after)) {
          writes.push({ kind: "set_role", groupId, member: after.member, role: after.role, time: after.updateTime });
        } else {
          writes.push({ kind: "replace", membership: after });
        }
        written.set(key, after);
      }
      changed.clear();
      undrainedAdminDeltas.clear();
      return writes;
    },

    memberCountDeltas: () => memberCountDeltas,
  };
}
