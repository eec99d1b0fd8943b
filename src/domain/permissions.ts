/**
 * The order of permissions and how roles translate into them. Everything that
 * compares permissions goes through here so that "includes" means the same
 * thing everywhere: NONE < READ < WRITE < MANAGE.
 */
import type { Permission, Role } from "./model.ts";

const rank: Readonly<Record<Permission, number>> = { NONE: 0, READ: 1, WRITE: 2, MANAGE: 3 };
const roleRank: Readonly<Record<Role, number>> = { MEMBER: 1, MANAGER: 2, ADMIN: 3 };

/** Every permission, lowest first. */
export const permissions: readonly Permission[] = ["NONE", "READ", "WRITE", "MANAGE"];

/** The permission a role grants: MEMBER → READ, MANAGER → WRITE, ADMIN → MANAGE. */
export function roleToPermission(role: Role): Permission {
  switch (role) {
    case "MEMBER":
      return "READ";
    case "MANAGER":
      return "WRITE";
    case "ADMIN":
      return "MANAGE";
  }
}

/** Whether `held` includes `needed` (a higher permission includes the lower ones). */
export function includesPermission(held: Permission, needed: Permission): boolean {
  return rank[held] >= rank[needed];
}

/** The higher of two permissions. */
export function maxPermission(a: Permission, b: Permission): Permission {
  return rank[a] >= rank[b] ? a : b;
}

/** The highest of any number of permissions; NONE for none. */
export function maxPermissionOf(values: Iterable<Permission>): Permission {
  let best: Permission = "NONE";
  for (const value of values) best = maxPermission(best, value);
  return best;
}

/** Negative, zero or positive as role `a` is lower than, equal to or higher than `b`. */
export function compareRoles(a: Role, b: Role): number {
  return roleRank[a] - roleRank[b];
}

/** The higher of two roles, treating undefined as "not a member". */
export function maxRole(a: Role | undefined, b: Role | undefined): Role | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return roleRank[a] >= roleRank[b] ? a : b;
}

/** Whether granting, changing or removing this role needs MANAGE (MANAGER and ADMIN do). */
export function isPrivilegedRole(role: Role): boolean {
  return role !== "MEMBER";
}
