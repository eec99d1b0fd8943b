/**
 * Rules about members that are not "who may" (access-policy.ts) but "what
 * may happen": a group never loses its last direct ADMIN, and a removal or
 * role change touching MANAGER/ADMIN needs MANAGE.
 */
import { failedPrecondition } from "./errors.ts";
import type { Permission, Role } from "./model.ts";
import { isPrivilegedRole } from "./permissions.ts";

/** What the app knows about the member being removed or changed. */
export interface MemberChange {
  readonly groupId: string;
  readonly member: string;
  /** The member's current direct role. */
  readonly currentRole: Role;
  /** The new role, or undefined for a removal. */
  readonly newRole: Role | undefined;
  /** How many direct ADMINs the group has now, this member included. */
  readonly directAdminCount: number;
}

/**
 * Refuses removing or demoting the group's last direct ADMIN
 * (FAILED_PRECONDITION): without one, nobody could manage the group short of
 * a system administrator or an ancestor's manager.
 */
export function ensureKeepsAnAdmin(change: MemberChange): void {
  if (change.currentRole !== "ADMIN" || change.newRole === "ADMIN" || change.directAdminCount > 1) return;
  const verb = change.newRole === undefined ? "remove" : `change the role of`;
  throw failedPrecondition(
    `cannot ${verb} ${change.member}: it is the last direct ADMIN of group "${change.groupId}"`,
  );
}

/** The permission needed to remove a member holding `role` (anyone may remove themselves). */
export function permissionToRemove(role: Role): Permission {
  return isPrivilegedRole(role) ? "MANAGE" : "WRITE";
}

/** The permission needed to grant `role` (MANAGER and ADMIN need MANAGE). */
export function permissionToGrant(role: Role): Permission {
  return isPrivilegedRole(role) ? "MANAGE" : "WRITE";
}

/** The permission needed to change a member's role from `from` to `to`. */
export function permissionToChangeRole(from: Role, to: Role): Permission {
  return isPrivilegedRole(from) || isPrivilegedRole(to) ? "MANAGE" : "WRITE";
}

/** Whether the request acts on the caller itself (self removal, own membership). */
export function isSelf(callerPrincipal: string, member: string): boolean {
  return callerPrincipal === member;
}

/**
 * Sync mode (issue 5) removes every direct member not sent. When that would
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
