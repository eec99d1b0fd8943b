/**
 * What a stored membership is worth at a given instant. A membership is
 * ACTIVE or pending (INVITED, REQUESTED), and may carry an `expireTime`.
 * From its `expireTime` on (`expireTime <= now`, to the millisecond) it is
 * as if removed, whether or not the expiry sweeper has deleted it yet: every
 * read compares with the current time. Only an ACTIVE, unexpired membership
 * confers anything (a role, nesting, ACL principals, member listings).
 *
 * Every read path decides with these functions: the closure walk, the
 * membership engine's current state, CheckMembership and GetMembership; the
 * storage queries that must filter in the database (a page of members) use
 * `conferringFilter` in membership-store.ts, its translation, tested
 * against this module.
 */
import type { MembershipRecord, MembershipStatus } from "./model.ts";

/** The parts of a membership its worth depends on. */
export type StatusFields = Pick<MembershipRecord, "status" | "expireTime">;

/** ACTIVE when the stored status is absent. */
export function statusOf(membership: StatusFields): MembershipStatus {
  return membership.status ?? "ACTIVE";
}

/** Whether the membership has reached its expire_time at `now` (then it reads as removed). */
export function hasExpired(membership: StatusFields, now: Date): boolean {
  return membership.expireTime !== undefined && membership.expireTime.getTime() <= now.getTime();
}

/** The membership unless it has expired at `now`: what "the current membership" means everywhere. */
export function unexpired<M extends StatusFields>(membership: M | undefined, now: Date): M | undefined {
  return membership === undefined || hasExpired(membership, now) ? undefined : membership;
}

/** Whether the membership confers anything at `now`: ACTIVE and not expired. */
export function confers(membership: StatusFields, now: Date): boolean {
  return statusOf(membership) === "ACTIVE" && !hasExpired(membership, now);
}

/**
 * Whether the membership counts in the group's `member_count`: ACTIVE. An
 * expired one still counts until the sweeper removes it (the count is kept
 * by the writes, and an expiry writes nothing until swept).
 */
export function countsAsMember(membership: StatusFields | undefined): boolean {
  return membership !== undefined && statusOf(membership) === "ACTIVE";
}

/**
 * Whether the membership is a direct ADMIN that never expires: a group
 * always keeps at least one (membership-rules.ts), so that no expiry can
 * leave it without an administrator.
 */
export function isPermanentAdmin(membership: (StatusFields & Pick<MembershipRecord, "role">) | undefined): boolean {
  return (
    membership !== undefined && membership.role === "ADMIN" && statusOf(membership) === "ACTIVE" && membership.expireTime === undefined
  );
}
