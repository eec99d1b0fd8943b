/**
 * The caller profiles of the service-level authorization matrices, and the
 * world they are defined by: a target group G (child of a parent P) whose
 * members are admin (ADMIN), manager (MANAGER) and member (MEMBER), whose ACL
 * grants user:acl-direct WRITE and group:ACLG READ where ACLG contains ACLSUB
 * which contains user:acl-nested (a grant through nested groups);
 * parent-admin is ADMIN of P only; root is a system administrator.
 */
import type { RosterApp } from "../../src/app/index.ts";
import type { AclEntry } from "../../src/domain/model.ts";
import { makeGroup } from "./world.ts";

export const callerProfiles = [
  "stranger",
  "member",
  "manager",
  "admin",
  "acl grantee",
  "nested acl grantee",
  "parent admin",
  "system admin",
] as const;
export type CallerProfile = (typeof callerProfiles)[number];

/** Each profile's principal id (tokens are signed for `user:<id>`). */
export const profilePrincipals: Readonly<Record<CallerProfile, string>> = {
  stranger: "stranger",
  member: "member",
  manager: "manager",
  admin: "admin",
  "acl grantee": "acl-direct",
  "nested acl grantee": "acl-nested",
  "parent admin": "parent-admin",
  "system admin": "root",
};

/** Creates ACLSUB and ACLG and returns the ACL every target group gets. */
export async function makeProfileAcl(app: RosterApp): Promise<AclEntry[]> {
  const aclSub = await makeGroup(app, { members: { "user:acl-nested": "MEMBER" } });
  const aclGroup = await makeGroup(app, { members: { [`group:${aclSub}`]: "MEMBER" } });
  return [
    { principal: "user:acl-direct", permission: "WRITE" },
    { principal: `group:${aclGroup}`, permission: "READ" },
  ];
}

/** A target group G under `parentId`, as described above. */
export function makeProfileTarget(app: RosterApp, parentId: string, acl: readonly AclEntry[]): Promise<string> {
  return makeGroup(app, {
    parentId,
    members: { "user:admin": "ADMIN", "user:manager": "MANAGER", "user:member": "MEMBER" },
    acl,
  });
}
