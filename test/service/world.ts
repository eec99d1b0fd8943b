/**
 * Fixtures for the service tests: groups and memberships set up directly
 * through the app (fast, no RPC), so that what the tests then exercise over
 * gRPC is the call under test and nothing else.
 */
import type { RosterApp } from "../../src/app/index.ts";
import type { AclEntry, Caller, JoinPolicy, MemberVisibility, Role, Visibility } from "../../src/domain/model.ts";
import { groupInput } from "../support/group-input.ts";

/** The system administrator configured in every test server (ROSTER_ADMINS). */
export const root: Caller = { principal: "user:root", isSystemAdmin: true };

let counter = 0;
/** A slug no other fixture of this process uses. */
export function uniqueSlug(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

export interface GroupSpec {
  readonly slug?: string;
  readonly displayName?: string;
  readonly namespace?: string;
  readonly parentId?: string;
  readonly visibility?: Visibility;
  readonly memberVisibility?: MemberVisibility;
  readonly joinPolicy?: JoinPolicy;
  readonly signupFields?: readonly string[];
  readonly authenticationAssuranceTimeout?: number;
  /** Direct members besides the creator. */
  readonly members?: Readonly<Record<string, Role>>;
  readonly acl?: readonly AclEntry[];
  /** Who creates it (and becomes its first ADMIN); default root, removed afterwards when other ADMINs exist. */
  readonly creator?: Caller;
}

/** Creates a group as specified and returns its id. */
export async function makeGroup(app: RosterApp, spec: GroupSpec = {}): Promise<string> {
  const creator = spec.creator ?? root;
  const slug = spec.slug ?? uniqueSlug("g");
  const group = await app.groups.create(creator, groupInput(slug, spec), "");
  const members = Object.entries(spec.members ?? {});
  for (const [member, role] of members) {
    if (member === creator.principal) {
      if (role !== "ADMIN") await app.memberships.updateRole(root, group.id, member, role);
      continue;
    }
    await app.memberships.add(root, group.id, member, role);
  }
  if (spec.acl !== undefined) await app.groups.setAcl(root, group.id, spec.acl, "");
  const otherAdmin = members.some(([m, r]) => r === "ADMIN" && m !== creator.principal);
  if (spec.creator === undefined && otherAdmin) await app.memberships.remove(root, group.id, root.principal);
  return group.id;
}
