/**
 * Role names as people type them in files and flags: MEMBER, MANAGER, ADMIN
 * in any case, with or without the enum's ROLE_ prefix (so the proto JSON
 * that `roster export --format jsonl` writes reads back).
 */
import { Role } from "../../../gen/roster/v1/access_pb.ts";

const byName: Readonly<Record<string, Role>> = { MEMBER: Role.MEMBER, MANAGER: Role.MANAGER, ADMIN: Role.ADMIN };

/** The role `text` names, or undefined when it names none. */
export function parseRoleName(text: string): Role | undefined {
  const name = text
    .trim()
    .toUpperCase()
    .replace(/^ROLE_/, "");
  return Object.hasOwn(byName, name) ? byName[name] : undefined;
}

/** "MEMBER", "MANAGER", "ADMIN" ("" for unspecified). */
export function roleName(role: Role): string {
  return role === Role.UNSPECIFIED ? "" : Role[role];
}

/** The message for a role that names none, as the field's name then the problem (the server's style). */
export function roleProblem(field: string, text: string): string {
  return `${field}: must be MEMBER, MANAGER or ADMIN, got "${text}"`;
}
