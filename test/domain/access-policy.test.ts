import { describe, expect, it } from "vitest";
import {
  allowedActions,
  canCheckMembership,
  canListMembers,
  canSeeGroup,
  effectivePermission,
  evaluateAccess,
  groupNotFound,
  groupRefBySlug,
  mayReceiveChange,
  showsInGroupList,
  type AccessDecision,
  type AccessFacts,
  type AccessRuleSpec,
  type AccessSituation,
  type ActionName,
} from "../../src/domain/access-policy.ts";
import type { Permission } from "../../src/domain/model.ts";
import { accessRules, type RpcName } from "../fixtures/access-rules-table.ts";
import { strangerFacts } from "../fixtures/stranger-facts.ts";

// ---------------------------------------------------------------------------
// Callers: the facts the app layer would load for each kind of caller on
// group "g1". Grants "through a group" and nested membership reach the domain
// as the same facts as direct ones (the app resolves the closure), which is
// exactly what these rows pin down.
// ---------------------------------------------------------------------------

const base: AccessFacts = strangerFacts;

const callers = {
  stranger: base,
  member: { ...base, role: "MEMBER" },
  manager: { ...base, role: "MANAGER" },
  admin: { ...base, role: "ADMIN" },
  aclRead: { ...base, aclGrants: ["READ"] },
  aclWrite: { ...base, aclGrants: ["WRITE"] },
  aclManage: { ...base, aclGrants: ["MANAGE"] },
  /** ACL WRITE granted to a group the caller is in, plus a weaker direct READ grant. */
  groupGrantee: { ...base, aclGrants: ["READ", "WRITE"] },
  /** MEMBER of g1 through a nested group, with an extra ACL READ: still READ. */
  nestedMember: { ...base, role: "MEMBER", aclGrants: ["READ"] },
  parentAdmin: { ...base, ancestorManage: true },
  sysAdmin: { ...base, isSystemAdmin: true },
  /** A stranger on a group with visibility AUTHENTICATED. */
  authVisible: { ...base, visibility: "AUTHENTICATED" },
  /** A member of a group whose members only managers may list. */
  managersVisMember: { ...base, role: "MEMBER", memberVisibility: "MANAGERS" },
  managersVisManager: { ...base, role: "MANAGER", memberVisibility: "MANAGERS" },
  deletedAdmin: { ...base, state: "DELETED", role: "ADMIN" },
  deletedMember: { ...base, state: "DELETED", role: "MEMBER" },
  deletedAuthVisible: { ...base, state: "DELETED", visibility: "AUTHENTICATED", aclGrants: ["WRITE"] },
  deletedParentAdmin: { ...base, state: "DELETED", ancestorManage: true },
} satisfies Record<string, AccessFacts>;

type CallerName = keyof typeof callers;
const callerNames = Object.keys(callers) as CallerName[];

describe("effectivePermission, canSeeGroup, canListMembers", () => {
  const expected: Record<CallerName, [Permission, boolean, boolean]> = {
    stranger: ["NONE", false, false],
    member: ["READ", true, true],
    manager: ["WRITE", true, true],
    admin: ["MANAGE", true, true],
    aclRead: ["READ", true, true],
    aclWrite: ["WRITE", true, true],
    aclManage: ["MANAGE", true, true],
    groupGrantee: ["WRITE", true, true],
    nestedMember: ["READ", true, true],
    parentAdmin: ["MANAGE", true, true],
    sysAdmin: ["MANAGE", true, true],
    authVisible: ["NONE", true, false],
    managersVisMember: ["READ", true, false],
    managersVisManager: ["WRITE", true, true],
    deletedAdmin: ["MANAGE", true, true],
    deletedMember: ["READ", false, false],
    deletedAuthVisible: ["WRITE", false, false],
    deletedParentAdmin: ["MANAGE", true, true],
  };
  it.each(callerNames)("%s", (name) => {
    const facts = callers[name];
    expect([effectivePermission(facts), canSeeGroup(facts), canListMembers(facts)]).toEqual(expected[name]);
  });

  it("takes the highest of role, grants, ancestors and administration", () => {
    expect(effectivePermission({ ...base, role: "MEMBER", aclGrants: ["MANAGE", "READ"] })).toBe("MANAGE");
    expect(effectivePermission({ ...base, role: "ADMIN", aclGrants: ["READ"] })).toBe("MANAGE");
    expect(effectivePermission({ ...base, role: "MANAGER", aclGrants: ["READ"] })).toBe("WRITE");
    expect(effectivePermission({ ...base, aclGrants: ["NONE"] })).toBe("NONE");
  });
});

describe("canCheckMembership", () => {
  // CheckMemberships and ListGroups' member_principals leave out what CheckMembership would refuse.
  const cases = callerNames.flatMap((name) => [true, false].map((isSelf) => ({ name, isSelf })));
  it.each(cases)("%o equals CheckMembership's declared rule", ({ name, isSelf }) => {
    const facts = callers[name];
    expect(canCheckMembership(facts, isSelf)).toBe(evaluateAccess(accessRules.CheckMembership, facts, { isSelf }).ok);
  });

  it("lets a member ask about itself where it may not list members", () => {
    expect(canCheckMembership(callers.managersVisMember, true)).toBe(true);
    expect(canCheckMembership(callers.managersVisMember, false)).toBe(false);
    expect(canCheckMembership(callers.authVisible, true)).toBe(true);
    expect(canCheckMembership(callers.stranger, true)).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// The matrix: every RPC's declared rule × every caller.
// ---------------------------------------------------------------------------

/** ok; NF = `group "g1" not found`; PD = the scenario's denial message; or an explicit error. */
type Outcome = "ok" | "NF" | "PD" | { readonly nf: string } | { readonly pd: string };

interface Scenario {
  readonly name: string;
  readonly rpc: RpcName;
  readonly situation?: AccessSituation | ((facts: AccessFacts) => AccessSituation);
  /** The PERMISSION_DENIED message the "PD" cells expect. */
  readonly denied?: string;
  readonly outcomes: Record<CallerName, Outcome>;
}

const needs = (permission: Permission, reason = "") => `permission denied: ${permission} on group g1 is required${reason}`;

/** Outcomes of a rule needing `permission` with only visibility deciding NOT_FOUND. */
function row(overrides: Partial<Record<CallerName, Outcome>>, rest: Outcome): Record<CallerName, Outcome> {
  return Object.fromEntries(callerNames.map((name) => [name, overrides[name] ?? rest])) as Record<CallerName, Outcome>;
}

/** The invisible callers: NOT_FOUND on every group rule. */
const invisible = { stranger: "NF", deletedMember: "NF", deletedAuthVisible: "NF" } as const;

/** WRITE-level outcomes: visible callers below WRITE are denied. */
const writeRow = row({ ...invisible, member: "PD", aclRead: "PD", nestedMember: "PD", authVisible: "PD", managersVisMember: "PD" }, "ok");

/** MANAGE-level outcomes: visible callers below MANAGE are denied. */
const manageRow = row(
  {
    ...invisible,
    member: "PD",
    manager: "PD",
    aclRead: "PD",
    aclWrite: "PD",
    groupGrantee: "PD",
    nestedMember: "PD",
    authVisible: "PD",
    managersVisMember: "PD",
    managersVisManager: "PD",
  },
  "ok",
);

/** Visibility only (GetGroup, self checks). */
const seeRow = row(invisible, "ok");

/** The right to list members (READ for MEMBERS visibility, WRITE for MANAGERS). */
const listRow = row(
  {
    ...invisible,
    authVisible: { pd: needs("READ", " to list its members") },
    managersVisMember: { pd: needs("WRITE", " to list its members") },
  },
  "ok",
);

const everyoneOk = row({}, "ok");

const readableMemberGroup = { ...base, groupId: "g2", role: "MEMBER" } satisfies AccessFacts;
const invisibleMemberGroup = { ...base, groupId: "g2" } satisfies AccessFacts;
const visibleUnreadableMemberGroup = { ...base, groupId: "g2", visibility: "AUTHENTICATED" } satisfies AccessFacts;

const managedParent = { ...base, groupId: "p1", role: "ADMIN" } satisfies AccessFacts;
const readableParent = { ...base, groupId: "p1", role: "MEMBER" } satisfies AccessFacts;
const invisibleParent = { ...base, groupId: "p1" } satisfies AccessFacts;
const writableNewParent = { ...base, groupId: "p2", role: "MANAGER" } satisfies AccessFacts;
const readableNewParent = { ...base, groupId: "p2", visibility: "AUTHENTICATED" } satisfies AccessFacts;
const invisibleNewParent = { ...base, groupId: "p2" } satisfies AccessFacts;

/** `outcome` for every caller with MANAGE on g1 (who gets past the group's own rule); the rest as in `manageRow`. */
function onlyManagersOfG1(outcome: Outcome): Partial<Record<CallerName, Outcome>> {
  return Object.fromEntries(callerNames.filter((name) => manageRow[name] === "ok").map((name) => [name, outcome]));
}

const scenarios: Scenario[] = [
  {
    name: "CreateGroup with a parent (facts of the parent)",
    rpc: "CreateGroup",
    denied: needs("WRITE", " to create a child group"),
    outcomes: writeRow,
  },
  { name: "GetGroup", rpc: "GetGroup", outcomes: seeRow },
  { name: "UpdateGroup of display fields", rpc: "UpdateGroup", denied: needs("WRITE"), outcomes: writeRow },
  {
    name: "UpdateGroup changing policies",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.policies" },
    denied: needs("MANAGE", " to change group.policies"),
    outcomes: manageRow,
  },
  {
    name: "UpdateGroup changing the parent",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id" },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: manageRow,
  },
  {
    name: "UpdateGroup detaching the group, with MANAGE on its parent and the top-level create right",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: managedParent, to: undefined, isCreator: true } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: manageRow,
  },
  {
    name: "UpdateGroup detaching the group without MANAGE on its parent",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: readableParent, to: undefined, isCreator: true } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: { ...manageRow, ...onlyManagersOfG1({ pd: "permission denied: MANAGE on group p1 is required to move group g1 out of it" }) },
  },
  {
    name: "UpdateGroup detaching the group from a parent the caller cannot see (it is named by the group: denied, not hidden)",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: invisibleParent, to: undefined, isCreator: true } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: { ...manageRow, ...onlyManagersOfG1({ pd: "permission denied: MANAGE on group p1 is required to move group g1 out of it" }) },
  },
  {
    name: "UpdateGroup detaching the group without the top-level create right (administrators keep it)",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: managedParent, to: undefined, isCreator: false } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: {
      ...manageRow,
      ...onlyManagersOfG1({ pd: "permission denied: membership of the creator group is required to make group g1 top-level" }),
      sysAdmin: "ok",
    },
  },
  {
    name: "UpdateGroup moving a top-level group under a parent the caller may write",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: undefined, to: writableNewParent, isCreator: false } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: manageRow,
  },
  {
    name: "UpdateGroup moving the group between parents, with MANAGE on the old one and WRITE on the new one",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: managedParent, to: writableNewParent, isCreator: false } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: manageRow,
  },
  {
    name: "UpdateGroup moving the group under a parent the caller sees but may not write",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: managedParent, to: readableNewParent, isCreator: true } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: { ...manageRow, ...onlyManagersOfG1({ pd: "permission denied: WRITE on group p2 is required to move group g1 under it" }) },
  },
  {
    name: "UpdateGroup moving the group under a parent the caller cannot see",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: managedParent, to: invisibleNewParent, isCreator: true } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: { ...manageRow, ...onlyManagersOfG1({ nf: 'group "p2" not found' }) },
  },
  {
    name: "UpdateGroup moving the group without MANAGE on the old parent (checked before the new one)",
    rpc: "UpdateGroup",
    situation: { manageFieldChanged: "group.parent_id", parentMove: { from: readableParent, to: invisibleNewParent, isCreator: true } },
    denied: needs("MANAGE", " to change group.parent_id"),
    outcomes: { ...manageRow, ...onlyManagersOfG1({ pd: "permission denied: MANAGE on group p1 is required to move group g1 out of it" }) },
  },
  { name: "DeleteGroup", rpc: "DeleteGroup", denied: needs("MANAGE"), outcomes: manageRow },
  { name: "UndeleteGroup", rpc: "UndeleteGroup", denied: needs("MANAGE"), outcomes: manageRow },
  { name: "GetGroupAcl", rpc: "GetGroupAcl", denied: needs("MANAGE"), outcomes: manageRow },
  { name: "SetGroupAcl", rpc: "SetGroupAcl", denied: needs("MANAGE"), outcomes: manageRow },
  { name: "IssueGroupToken", rpc: "IssueGroupToken", denied: needs("WRITE"), outcomes: writeRow },
  {
    name: "AddMember as MEMBER",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER" },
    denied: needs("WRITE"),
    outcomes: writeRow,
  },
  {
    name: "AddMember as MANAGER",
    rpc: "AddMember",
    situation: { requestedRole: "MANAGER" },
    denied: needs("MANAGE", " to grant role MANAGER"),
    outcomes: manageRow,
  },
  {
    name: "AddMember as ADMIN",
    rpc: "AddMember",
    situation: { requestedRole: "ADMIN" },
    denied: needs("MANAGE", " to grant role ADMIN"),
    outcomes: manageRow,
  },
  {
    name: "AddMember of an existing MANAGER (acting on a privileged member)",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", targetMemberRole: "MANAGER" },
    denied: needs("MANAGE", " to act on a member with role MANAGER"),
    outcomes: manageRow,
  },
  {
    name: "AddMember of a group the caller can read",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", memberGroupId: "g2", memberGroupFacts: readableMemberGroup },
    denied: needs("WRITE"),
    outcomes: writeRow,
  },
  {
    name: "AddMember of a group the caller cannot see",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", memberGroupId: "g2", memberGroupFacts: invisibleMemberGroup },
    denied: needs("WRITE"),
    outcomes: row(
      { ...invisible, member: "PD", aclRead: "PD", nestedMember: "PD", authVisible: "PD", managersVisMember: "PD" },
      { nf: 'group "g2" not found' },
    ),
  },
  {
    name: "AddMember of a group that does not exist",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", memberGroupId: "g2", memberGroupFacts: undefined },
    denied: needs("WRITE"),
    outcomes: row(
      { ...invisible, member: "PD", aclRead: "PD", nestedMember: "PD", authVisible: "PD", managersVisMember: "PD" },
      { nf: 'group "g2" not found' },
    ),
  },
  {
    name: "AddMember of a group the caller sees (AUTHENTICATED) but cannot read",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", memberGroupId: "g2", memberGroupFacts: visibleUnreadableMemberGroup },
    denied: needs("WRITE"),
    outcomes: row(
      { ...invisible, member: "PD", aclRead: "PD", nestedMember: "PD", authVisible: "PD", managersVisMember: "PD" },
      { pd: "permission denied: READ on group g2 is required to add it as a member" },
    ),
  },
  {
    name: "AddMember of a group with only the readability flag (not readable)",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", memberGroupId: "g2", memberGroupReadable: false },
    denied: needs("WRITE"),
    outcomes: row(
      { ...invisible, member: "PD", aclRead: "PD", nestedMember: "PD", authVisible: "PD", managersVisMember: "PD" },
      { nf: 'group "g2" not found' },
    ),
  },
  {
    name: "AddMember of a group with only the readability flag (readable)",
    rpc: "AddMember",
    situation: { requestedRole: "MEMBER", memberGroupId: "g2", memberGroupReadable: true },
    denied: needs("WRITE"),
    outcomes: writeRow,
  },
  {
    name: "RemoveMember of a MEMBER",
    rpc: "RemoveMember",
    situation: { targetMemberRole: "MEMBER", isSelf: false },
    denied: needs("WRITE"),
    outcomes: writeRow,
  },
  {
    name: "RemoveMember of a MANAGER",
    rpc: "RemoveMember",
    situation: { targetMemberRole: "MANAGER", isSelf: false },
    denied: needs("MANAGE", " to act on a member with role MANAGER"),
    outcomes: manageRow,
  },
  {
    name: "RemoveMember of an ADMIN",
    rpc: "RemoveMember",
    situation: { targetMemberRole: "ADMIN", isSelf: false },
    denied: needs("MANAGE", " to act on a member with role ADMIN"),
    outcomes: manageRow,
  },
  {
    name: "RemoveMember of oneself (any role)",
    rpc: "RemoveMember",
    situation: (facts) => ({ targetMemberRole: facts.role, isSelf: true }),
    outcomes: seeRow,
  },
  { name: "UpdateMemberRole", rpc: "UpdateMemberRole", denied: needs("MANAGE"), outcomes: manageRow },
  {
    name: "UpdateMemberRole about oneself (no self exemption)",
    rpc: "UpdateMemberRole",
    situation: { isSelf: true },
    denied: needs("MANAGE"),
    outcomes: manageRow,
  },
  { name: "GetMembership of oneself", rpc: "GetMembership", situation: { isSelf: true }, outcomes: seeRow },
  { name: "GetMembership of someone else", rpc: "GetMembership", situation: { isSelf: false }, outcomes: listRow },
  { name: "ListMemberships", rpc: "ListMemberships", outcomes: listRow },
  {
    name: "ListMemberships ignores isSelf (no self exemption declared)",
    rpc: "ListMemberships",
    situation: { isSelf: true },
    outcomes: listRow,
  },
  { name: "CheckMembership of oneself", rpc: "CheckMembership", situation: { isSelf: true }, outcomes: seeRow },
  { name: "CheckMembership of someone else", rpc: "CheckMembership", situation: { isSelf: false }, outcomes: listRow },
  { name: "BatchGetGroups (filtered)", rpc: "BatchGetGroups", outcomes: everyoneOk },
  { name: "ListGroups (filtered)", rpc: "ListGroups", outcomes: everyoneOk },
  { name: "ListPrincipalGroups (filtered)", rpc: "ListPrincipalGroups", outcomes: everyoneOk },
  { name: "CheckMemberships (filtered)", rpc: "CheckMemberships", outcomes: everyoneOk },
  { name: "BatchMemberships (per item)", rpc: "BatchMemberships", outcomes: everyoneOk },
  { name: "BatchUpdateMemberships (per item)", rpc: "BatchUpdateMemberships", outcomes: everyoneOk },
];

function describeDecision(decision: AccessDecision): string {
  return decision.ok ? "ok" : `${decision.error.kind}: ${decision.error.message}`;
}

function expectedText(outcome: Outcome, scenario: Scenario): string {
  if (outcome === "ok") return "ok";
  if (outcome === "NF") return 'not_found: group "g1" not found';
  if (outcome === "PD") {
    if (scenario.denied === undefined) throw new Error(`scenario "${scenario.name}" has PD cells but no denied message`);
    return `permission_denied: ${scenario.denied}`;
  }
  return "nf" in outcome ? `not_found: ${outcome.nf}` : `permission_denied: ${outcome.pd}`;
}

describe.each(scenarios)("$name", (scenario) => {
  it.each(callerNames)("%s", (name) => {
    const facts = callers[name];
    const situation = typeof scenario.situation === "function" ? scenario.situation(facts) : scenario.situation;
    const decision = evaluateAccess(accessRules[scenario.rpc], facts, situation);
    expect(describeDecision(decision)).toBe(expectedText(scenario.outcomes[name], scenario));
  });
});

describe("evaluateAccess outside the matrix", () => {
  it("refuses a method without a declared rule (fail closed)", () => {
    const rule: AccessRuleSpec = { ...accessRules.GetGroup, requires: "UNSPECIFIED" };
    expect(describeDecision(evaluateAccess(rule, callers.sysAdmin, {}))).toBe(
      "permission_denied: permission denied: the method declares no access rule",
    );
    expect(describeDecision(evaluateAccess(rule, undefined, {}))).toBe(
      "permission_denied: permission denied: the method declares no access rule",
    );
  });

  it("refuses a requirement outside the type (fail closed, no exception)", () => {
    const rule = { ...accessRules.GetGroup, requires: "BOGUS" } as unknown as AccessRuleSpec;
    expect(describeDecision(evaluateAccess(rule, callers.sysAdmin, {}))).toBe(
      "permission_denied: permission denied: the method declares no access rule",
    );
  });

  it("needs no facts for rules that involve no group", () => {
    for (const rpc of ["BatchGetGroups", "ListGroups", "ListPrincipalGroups", "BatchMemberships"] as const) {
      expect(evaluateAccess(accessRules[rpc], undefined, {}).ok).toBe(true);
    }
    expect(evaluateAccess({ ...accessRules.ListGroups, requires: "AUTHENTICATED" }, undefined).ok).toBe(true);
  });

  it("throws (a wiring bug, not a denial) when a group rule gets no facts", () => {
    expect(() => evaluateAccess(accessRules.GetGroup, undefined, {})).toThrow(
      'access rule SEE_GROUP needs the caller\'s facts on group field "id"',
    );
  });

  it.each([
    ["a creator", { isCreator: true }, "ok"],
    ["a system administrator outside the creator group", { isCreator: false, isSystemAdmin: true }, "ok"],
    [
      "anyone else",
      { isCreator: false, isSystemAdmin: false },
      "permission_denied: permission denied: membership of the creator group is required to create a top-level group",
    ],
    [
      "a caller with no creator fact (fail closed)",
      {},
      "permission_denied: permission denied: membership of the creator group is required to create a top-level group",
    ],
  ] as const)("top-level CreateGroup by %s", (_name, situation, expected) => {
    expect(describeDecision(evaluateAccess(accessRules.CreateGroup, undefined, situation))).toBe(expected);
  });

  it("names an invisible group the way the request named it, exactly like a missing one", () => {
    const ref = groupRefBySlug("acme", "eng");
    const decision = evaluateAccess(accessRules.GetGroup, callers.stranger, { groupRef: ref });
    expect(describeDecision(decision)).toBe('not_found: group "acme/eng" not found');
    expect(decision.ok ? undefined : decision.error.message).toBe(groupNotFound(ref).message);
    expect(groupRefBySlug("", "eng")).toBe("eng");
  });

  it("reports the highest unmet need when several apply", () => {
    const decision = evaluateAccess(accessRules.AddMember, callers.member, {
      requestedRole: "ADMIN",
      targetMemberRole: "MANAGER",
    });
    expect(describeDecision(decision)).toBe(`permission_denied: ${needs("MANAGE", " to grant role ADMIN")}`);
  });

  it("checks the target group before the member group, so a stranger learns nothing about either", () => {
    const decision = evaluateAccess(accessRules.AddMember, callers.stranger, {
      memberGroupId: "g2",
      memberGroupFacts: readableMemberGroup,
    });
    expect(describeDecision(decision)).toBe('not_found: group "g1" not found');
  });

  it("treats a deleted member group like a missing one unless the caller manages it", () => {
    const deleted = { ...readableMemberGroup, state: "DELETED" } satisfies AccessFacts;
    expect(describeDecision(evaluateAccess(accessRules.AddMember, callers.admin, { memberGroupId: "g2", memberGroupFacts: deleted }))).toBe(
      'not_found: group "g2" not found',
    );
  });
});

describe("showsInGroupList", () => {
  it.each([
    ["member", false, true],
    ["authVisible", false, true],
    ["stranger", true, false],
    ["deletedAdmin", false, false],
    ["deletedAdmin", true, true],
    ["deletedParentAdmin", true, true],
    ["deletedMember", true, false],
    ["deletedAuthVisible", true, false],
  ] as const)("%s with show_deleted=%s → %s", (name, showDeleted, expected) => {
    expect(showsInGroupList(callers[name], showDeleted)).toBe(expected);
  });
});

describe("allowedActions", () => {
  const read: ActionName[] = ["group.read", "members.list"];
  const write: ActionName[] = ["group.read", "group.update", "group.create_child", "members.list", "members.add", "members.remove"];
  const manage: ActionName[] = [
    "group.read",
    "group.update",
    "group.delete",
    "group.manage_policies",
    "group.read_acl",
    "group.set_acl",
    "group.create_child",
    "members.list",
    "members.add",
    "members.remove",
    "members.manage_roles",
  ];
  const expected: Record<CallerName, ActionName[]> = {
    stranger: [],
    member: read,
    manager: write,
    admin: manage,
    aclRead: read,
    aclWrite: write,
    aclManage: manage,
    groupGrantee: write,
    nestedMember: read,
    parentAdmin: manage,
    sysAdmin: manage,
    authVisible: ["group.read"],
    managersVisMember: ["group.read"],
    managersVisManager: write,
    deletedAdmin: ["group.read", "group.undelete"],
    deletedMember: [],
    deletedAuthVisible: [],
    deletedParentAdmin: ["group.read", "group.undelete"],
  };
  it.each(callerNames)("%s", (name) => {
    expect(allowedActions(callers[name])).toEqual(expected[name]);
  });
});

describe("the lifecycle rules: invitee, join, high assurance", () => {
  const invitee = accessRules.RespondToInvitation;
  const invited: AccessFacts = { ...base, invited: true };

  it("an invitation lets the invitee see the group, and nothing more", () => {
    expect(canSeeGroup(invited)).toBe(true);
    expect(effectivePermission(invited)).toBe("NONE");
    expect(canListMembers(invited)).toBe(false);
    expect(canSeeGroup({ ...invited, state: "DELETED" })).toBe(false);
  });

  it.each<[string, AccessFacts, AccessSituation, string]>([
    ["the invitee itself", invited, { isSelf: true, targetMemberStatus: "INVITED" }, "ok"],
    [
      "a MANAGE holder of an invited group, who cannot see g1",
      base,
      { isSelf: false, targetMemberStatus: "INVITED", memberGroupFacts: { ...base, groupId: "g2", role: "ADMIN" } },
      "ok",
    ],
    [
      "a MANAGER of an invited group",
      base,
      { isSelf: false, targetMemberStatus: "INVITED", memberGroupFacts: { ...base, groupId: "g2", role: "MANAGER" } },
      'not_found: group "g1" not found',
    ],
    ["a stranger asking for itself without an invitation", base, { isSelf: true }, 'not_found: group "g1" not found'],
    ["a member asking for itself without an invitation (the engine says there is none)", callers.member, { isSelf: true }, "ok"],
    [
      "anyone else who sees the group, a system administrator too",
      callers.sysAdmin,
      { isSelf: false, targetMemberStatus: "INVITED" },
      "permission_denied: permission denied: only the invitee (for a group, a caller with MANAGE on it) may answer an invitation to group g1",
    ],
  ])("RespondToInvitation by %s", (_name, facts, situation, expected) => {
    expect(describeDecision(evaluateAccess(invitee, facts, situation))).toBe(expected);
  });

  it.each<[string, AccessFacts, string]>([
    ["a stranger on a PRIVATE group", { ...base, joinPolicy: "REQUEST" }, 'not_found: group "g1" not found'],
    ["anyone who sees a REQUEST group", { ...callers.authVisible, joinPolicy: "REQUEST" }, "ok"],
    ["anyone who sees an OPEN group", { ...callers.authVisible, joinPolicy: "OPEN" }, "ok"],
    [
      "a member of a CLOSED group",
      callers.member,
      "permission_denied: permission denied: group g1 does not accept join requests (join_policy CLOSED)",
    ],
  ])("RequestToJoin by %s", (_name, facts, expected) => {
    expect(describeDecision(evaluateAccess(accessRules.RequestToJoin, facts, {}))).toBe(expected);
  });

  const checkedAt = new Date("2030-01-01T00:10:00.000Z");
  const assured = (authTime: Date | undefined, more: Partial<AccessFacts> = {}): AccessFacts => ({
    ...callers.admin,
    ...more,
    assurance: { timeoutSeconds: 600, authTime, now: checkedAt },
  });

  it.each<[string, AccessFacts, RpcName, string]>([
    ["authenticated exactly at the window's edge", assured(new Date("2030-01-01T00:00:00.000Z")), "GetGroup", "ok"],
    [
      "authenticated 1 ms too early",
      assured(new Date("2029-12-31T23:59:59.999Z")),
      "GetGroup",
      "permission_denied: re-authentication required: group g1 requires authentication within 600 s; token authenticated at 2029-12-31T23:59:59.999Z",
    ],
    [
      "without auth_time",
      assured(undefined),
      "DeleteGroup",
      "permission_denied: re-authentication required: group g1 requires authentication within 600 s; the token has no auth_time",
    ],
    ["without auth_time, a group it cannot see", assured(undefined, { role: undefined }), "GetGroup", 'not_found: group "g1" not found'],
    [
      "without auth_time, a system administrator too",
      assured(undefined, { role: undefined, isSystemAdmin: true }),
      "ListMemberships",
      "permission_denied: re-authentication required: group g1 requires authentication within 600 s; the token has no auth_time",
    ],
    [
      "fresh, but without the permission",
      assured(checkedAt, { role: "MEMBER" }),
      "DeleteGroup",
      "permission_denied: permission denied: MANAGE on group g1 is required",
    ],
  ])("high assurance: %s", (_name, facts, rpc, expected) => {
    expect(describeDecision(evaluateAccess(accessRules[rpc], facts, {}))).toBe(expected);
  });
});

// ---------------------------------------------------------------------------
// The change feed: which changes of g1 each caller receives.
// ---------------------------------------------------------------------------

describe("mayReceiveChange", () => {
  const viewer = { principal: "user:me", readsEverything: false };
  const changes = {
    updated: { kind: "group_updated", member: undefined },
    deleted: { kind: "group_deleted", member: undefined },
    acl: { kind: "group_acl_changed", member: undefined },
    otherAdded: { kind: "member_added", member: "user:other" },
    selfRemoved: { kind: "member_removed", member: "user:me" },
  } as const;
  /** Per caller: updated, deleted, acl, otherAdded, selfRemoved. */
  const expected: Record<CallerName, readonly boolean[]> = {
    stranger: [false, false, false, false, false],
    member: [true, true, false, true, true],
    manager: [true, true, false, true, true],
    admin: [true, true, true, true, true],
    aclRead: [true, true, false, true, true],
    aclWrite: [true, true, false, true, true],
    aclManage: [true, true, true, true, true],
    groupGrantee: [true, true, false, true, true],
    nestedMember: [true, true, false, true, true],
    parentAdmin: [true, true, true, true, true],
    sysAdmin: [true, true, true, true, true],
    // Sees the group, may not list its members: group changes and its own membership only.
    authVisible: [true, true, false, false, true],
    managersVisMember: [true, true, false, false, true],
    managersVisManager: [true, true, false, true, true],
    deletedAdmin: [true, true, true, true, true],
    // A deleted group is invisible to all but MANAGE: nothing, not even one's own membership.
    deletedMember: [false, false, false, false, false],
    deletedAuthVisible: [false, false, false, false, false],
    deletedParentAdmin: [true, true, true, true, true],
  };
  it.each(callerNames)("%s", (name) => {
    const got = Object.values(changes).map((change) => mayReceiveChange(viewer, callers[name], change));
    expect(got).toEqual(expected[name]);
  });

  it.each(callerNames)(
    "%s: an invitation, a join request, their removal and an expire_time change reach whoever sees member additions",
    (name) => {
      for (const kind of ["member_invited", "join_requested", "pending_membership_removed", "member_expire_time_changed"] as const) {
        expect(mayReceiveChange(viewer, callers[name], { kind, member: "user:other" })).toBe(
          mayReceiveChange(viewer, callers[name], changes.otherAdded),
        );
        expect(mayReceiveChange(viewer, callers[name], { kind, member: "user:me" })).toBe(
          mayReceiveChange(viewer, callers[name], changes.selfRemoved),
        );
      }
    },
  );

  it("a reader of every change receives everything, also of a group that no longer exists; nobody else does", () => {
    for (const change of Object.values(changes)) {
      expect(mayReceiveChange({ ...viewer, readsEverything: true }, undefined, change)).toBe(true);
      expect(mayReceiveChange({ ...viewer, readsEverything: true }, callers.stranger, change)).toBe(true);
      expect(mayReceiveChange(viewer, undefined, change)).toBe(false);
    }
  });
});
