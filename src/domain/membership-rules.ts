/**
 * Rules about members that are not "who may" (access-policy.ts, which also
 * decides that touching MANAGER or ADMIN needs MANAGE) but "what may
 * happen": a group never loses its last direct ADMIN, and that ADMIN never
 * expires (ADMINs with an expire_time do not count towards keeping one, so
 * no expiry can leave a group without an administrator).
 */
import { failedPrecondition } from "./errors.ts";
import type { Role } from "./model.ts";

/** What the app knows about the member being removed or changed. */
export interface MemberChange {
  readonly groupId: string;
  readonly member: string;
  /** The member's current direct role. */
  readonly currentRole: Role;
  /** The new role, or undefined for a removal. */
  readonly newRole: Role | undefined;
  /** The member keeps ADMIN but gets an expire_time. */
  readonly getsExpireTime?: boolean;
  /** How many direct ADMINs without an expire_time the group has now, this member included. */
  readonly directAdminCount: number;
}

/**
 * Refuses removing or demoting the group's last direct ADMIN
 * (FAILED_PRECONDITION): without one, nobody could manage the group short of
 * a system administrator or an ancestor's manager.
 */
export function ensureKeepsAnAdmin(change: MemberChange): void {
  if (change.currentRole !== "ADMIN" || change.directAdminCount > 1) return;
  if (change.newRole === "ADMIN" && change.getsExpireTime !== true) return;
  if (change.newRole === "ADMIN") {
    throw failedPrecondition(
      `cannot set an expire_time on ${change.member}: it is the last direct ADMIN of group "${change.groupId}" without one`,
    );
  }
  const verb = change.newRole === undefined ? "remove" : `change the role of`;
  throw failedPrecondition(`cannot ${verb} ${change.member}: it is the last direct ADMIN of group "${change.groupId}"`);
}

/**
 * A sync stream removes every direct member not sent. When that would
 * remove all direct ADMINs, one of them is kept (the first in sort order, so
 * runs are reproducible). Returns the members to keep.
 *
 * @param removedAdmins direct ADMINs about to be removed
 * @param remainingAdminCount direct ADMINs left after the sync otherwise
 */
export function adminsToKeep(removedAdmins: readonly string[], remainingAdminCount: number): string[] {
  if (remainingAdminCount > 0 || removedAdmins.length === 0) return [];
  const first = [...removedAdmins].sort()[0];
  return first === undefined ? [] : [first];
}
