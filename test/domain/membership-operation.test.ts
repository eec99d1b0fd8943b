/**
 * The one decision behind AddMember, RemoveMember, UpdateMemberRole and
 * every batch operation, as tables over plain state: access (when decided
 * here), the group, then the member; and the situation builder the unary
 * authorization step and the batch share.
 */
import { describe, expect, it } from "vitest";
import { memberSituation, type AccessFacts } from "../../src/domain/access-policy.ts";
import {
  addsGroupEdge,
  decideOperation,
  reportedMembership,
  takesAnAdmin,
  type DecisionContext,
  type MembershipOperation,
  type OperationAccess,
  type OperationState,
} from "../../src/domain/membership-operation.ts";
import type { MembershipRecord, Role } from "../../src/domain/model.ts";
import { parsePrincipal } from "../../src/domain/principal.ts";
import { accessRules } from "../fixtures/access-rules-table.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";
import { strangerFacts } from "../fixtures/stranger-facts.ts";

const now = new Date("2030-01-02T03:04:05Z");
const earlier = new Date("2029-01-01T00:00:00Z");
const context: DecisionContext = { addSetsRole: false, now, actor: "user:caller", invitationTtlMs: 14 * 86_400_000 };
const live = { id: "g1", state: "ACTIVE", joinPolicy: "CLOSED", signupFields: [] } as const;

function membership(member: string, role: Role): MembershipRecord {
  return { groupId: "g1", member, role, createTime: earlier, updateTime: earlier, createdBy: "user:someone" };
}

function state(current: MembershipRecord | undefined, more: Partial<OperationState> = {}): OperationState {
  return { group: live, current, memberGroup: undefined, ...more };
}

const add = (member: string, role: Role = "MEMBER"): MembershipOperation => ({
  kind: "add",
  groupId: "g1",
  member: parsePrincipal(member, "member"),
  role,
});
const remove = (member: string): MembershipOperation => ({ kind: "remove", groupId: "g1", member: parsePrincipal(member, "member") });
const changeRole = (member: string, role: Role): MembershipOperation => ({
  kind: "change_role",
  groupId: "g1",
  member: parsePrincipal(member, "member"),
  role,
});
const authorized: OperationAccess = { kind: "authorized" };

describe("decideOperation on the member's state", () => {
  it("adds a new member, created by the actor at the transaction's time", () => {
    const change = decideOperation(add("user:x", "MANAGER"), state(undefined), authorized, context);
    expect(change).toEqual({
      effect: "added",
      groupId: "g1",
      member: "user:x",
      before: undefined,
      after: { groupId: "g1", member: "user:x", role: "MANAGER", createTime: now, updateTime: now, createdBy: "user:caller" },
    });
  });

  it("leaves an existing member's role on add, unless the stream is a sync", () => {
    const current = membership("user:x", "MEMBER");
    expect(decideOperation(add("user:x", "ADMIN"), state(current), authorized, context)).toMatchObject({
      effect: "unchanged",
      after: current,
    });
    const synced = decideOperation(add("user:x", "ADMIN"), state(current), authorized, { ...context, addSetsRole: true });
    expect(synced).toMatchObject({ effect: "changed", before: current, after: { ...current, role: "ADMIN", updateTime: now } });
    expect(decideOperation(add("user:x", "MEMBER"), state(current), authorized, { ...context, addSetsRole: true }).effect).toBe(
      "unchanged",
    );
  });

  it("removes a member, and reports the membership removed", () => {
    const current = membership("user:x", "MANAGER");
    const change = decideOperation(remove("user:x"), state(current), authorized, context);
    expect(change).toMatchObject({ effect: "removed", before: current, after: undefined });
    expect(reportedMembership(change)).toBe(current);
  });

  it("changes a role, or leaves it when it is the same", () => {
    const current = membership("user:x", "MEMBER");
    expect(decideOperation(changeRole("user:x", "MANAGER"), state(current), authorized, context)).toMatchObject({
      effect: "changed",
      after: { role: "MANAGER", createTime: earlier, updateTime: now },
    });
    expect(decideOperation(changeRole("user:x", "MEMBER"), state(current), authorized, context).effect).toBe("unchanged");
  });

  it.each([
    ["removing a non-member", remove("user:x"), state(undefined), 'not_found: user:x is not a member of group "g1"'],
    ["re-roling a non-member", changeRole("user:x", "ADMIN"), state(undefined), 'not_found: user:x is not a member of group "g1"'],
    ["any change to a missing group", add("user:x"), state(undefined, { group: undefined }), 'not_found: group "g1" not found'],
    [
      "any change to a deleted group",
      remove("user:x"),
      state(membership("user:x", "MEMBER"), { group: { id: "g1", state: "DELETED", joinPolicy: "CLOSED", signupFields: [] } }),
      'failed_precondition: group "g1" is deleted',
    ],
    ["adding a missing group", add("group:g2"), state(undefined), 'not_found: group "g2" not found'],
    [
      "adding a deleted group",
      add("group:g2"),
      state(undefined, { memberGroup: { id: "g2", state: "DELETED", joinPolicy: "CLOSED", signupFields: [] } }),
      'failed_precondition: group "g2" is deleted',
    ],
  ])("refuses %s", (_name, operation, operationState, expected) => {
    expect(thrownBy(() => decideOperation(operation, operationState, authorized, context))).toBe(expected);
  });

  it("reports what the group must still check: an ADMIN taken away, a group edge added", () => {
    const admin = membership("user:a", "ADMIN");
    expect(takesAnAdmin(decideOperation(remove("user:a"), state(admin), authorized, context))).toBe(true);
    expect(takesAnAdmin(decideOperation(changeRole("user:a", "MANAGER"), state(admin), authorized, context))).toBe(true);
    expect(takesAnAdmin(decideOperation(changeRole("user:a", "ADMIN"), state(admin), authorized, context))).toBe(false);
    expect(takesAnAdmin(decideOperation(remove("user:m"), state(membership("user:m", "MANAGER")), authorized, context))).toBe(false);
    const nested = add("group:g2");
    expect(
      addsGroupEdge(
        nested,
        decideOperation(
          nested,
          state(undefined, { memberGroup: { id: "g2", state: "ACTIVE", joinPolicy: "CLOSED", signupFields: [] } }),
          authorized,
          context,
        ),
      ),
    ).toEqual({
      parentId: "g1",
      childId: "g2",
    });
    const existing = membership("group:g2", "MEMBER");
    expect(addsGroupEdge(nested, decideOperation(nested, state(existing), authorized, context))).toBeUndefined();
  });
});

describe("decideOperation with access decided here (a batch operation)", () => {
  const facts = (more: Partial<AccessFacts> = {}): AccessFacts => ({ ...strangerFacts, ...more });
  const decide = (
    operation: MembershipOperation,
    groupFacts: AccessFacts | undefined,
    memberGroupFacts?: AccessFacts,
  ): OperationAccess => ({
    kind: "decide",
    rule:
      operation.kind === "add"
        ? accessRules.AddMember
        : operation.kind === "remove"
          ? accessRules.RemoveMember
          : accessRules.UpdateMemberRole,
    callerPrincipal: "user:caller",
    facts: groupFacts,
    memberGroupFacts,
  });

  it.each([
    ["a group the caller cannot see, like a missing one", add("user:x"), facts(), state(undefined), 'not_found: group "g1" not found'],
    ["a missing group", add("user:x"), undefined, state(undefined, { group: undefined }), 'not_found: group "g1" not found'],
    [
      "adding without WRITE",
      add("user:x"),
      facts({ role: "MEMBER" }),
      state(undefined),
      "permission_denied: permission denied: WRITE on group g1 is required",
    ],
    [
      "granting ADMIN without MANAGE",
      add("user:x", "ADMIN"),
      facts({ role: "MANAGER" }),
      state(undefined),
      "permission_denied: permission denied: MANAGE on group g1 is required to grant role ADMIN",
    ],
    [
      "removing a MANAGER without MANAGE",
      remove("user:m"),
      facts({ role: "MANAGER" }),
      state(membership("user:m", "MANAGER")),
      "permission_denied: permission denied: MANAGE on group g1 is required to act on a member with role MANAGER",
    ],
  ])("refuses %s before looking at the member", (_name, operation, groupFacts, operationState, expected) => {
    expect(thrownBy(() => decideOperation(operation, operationState, decide(operation, groupFacts), context))).toBe(expected);
  });

  it("lets a member remove itself, and a manager add a member it may read", () => {
    const self = remove("user:caller");
    const selfState = state({ ...membership("user:caller", "MEMBER") });
    expect(decideOperation(self, selfState, decide(self, facts({ role: "MEMBER" })), context).effect).toBe("removed");
    const nested = add("group:g2");
    const nestedState = state(undefined, { memberGroup: { id: "g2", state: "ACTIVE", joinPolicy: "CLOSED", signupFields: [] } });
    const readable = { ...facts({ role: "MEMBER" }), groupId: "g2" };
    expect(decideOperation(nested, nestedState, decide(nested, facts({ role: "MANAGER" }), readable), context).effect).toBe("added");
    expect(thrownBy(() => decideOperation(nested, nestedState, decide(nested, facts({ role: "MANAGER" }), undefined), context))).toBe(
      'not_found: group "g2" not found',
    );
  });
});

describe("memberSituation", () => {
  const member = parsePrincipal("group:g2", "member");
  const request = { member, role: "ADMIN" as const, currentRole: "MANAGER" as const, memberGroupFacts: undefined };

  it("builds what AddMember's rule reads: the role granted, self, the current role, the member group", () => {
    expect(memberSituation(accessRules.AddMember, "user:caller", request)).toEqual({
      requestedRole: "ADMIN",
      isSelf: false,
      targetMemberRole: "MANAGER",
      memberGroupId: "g2",
      memberGroupFacts: undefined,
    });
  });

  it("reads no current role for a rule that is not a change, and nothing about a member the rule does not name", () => {
    expect(memberSituation(accessRules.GetMembership, "group:g2", request)).toEqual({ isSelf: true });
    expect(memberSituation(accessRules.GetGroup, "user:caller", request)).toEqual({});
  });
});

describe("decideOperation on the lifecycle operations", () => {
  const principal = (member: string) => parsePrincipal(member, "member");
  const invite = (member: string, expireTime?: Date): MembershipOperation => ({
    kind: "invite",
    groupId: "g1",
    member: principal(member),
    role: "MANAGER",
    message: "hi",
    expireTime,
  });
  const respond = (accept: boolean): MembershipOperation => ({ kind: "respond", groupId: "g1", member: principal("user:x"), accept });
  const request = (fields: Record<string, string> = {}): MembershipOperation => ({
    kind: "request",
    groupId: "g1",
    member: principal("user:x"),
    message: "",
    fields,
  });
  const decideRequest = (approve: boolean): MembershipOperation => ({
    kind: "decide",
    groupId: "g1",
    member: principal("user:x"),
    approve,
    role: "MANAGER",
  });
  const expire: MembershipOperation = { kind: "expire", groupId: "g1", member: principal("user:x") };
  const invited: MembershipRecord = { ...membership("user:x", "MANAGER"), status: "INVITED", expireTime: new Date(now.getTime() + 1000) };
  const requested: MembershipRecord = { ...membership("user:x", "MEMBER"), status: "REQUESTED" };
  const policy = (joinPolicy: "CLOSED" | "REQUEST" | "OPEN", signupFields: string[] = []) => ({
    group: { ...live, joinPolicy, signupFields },
  });

  it("invites with the context's lifetime, or the expire_time given", () => {
    const change = decideOperation(invite("user:x"), state(undefined), authorized, context);
    expect(change.after).toEqual({
      groupId: "g1",
      member: "user:x",
      role: "MANAGER",
      status: "INVITED",
      message: "hi",
      expireTime: new Date(now.getTime() + context.invitationTtlMs),
      createTime: now,
      updateTime: now,
      createdBy: "user:caller",
    });
    const given = new Date(now.getTime() + 5);
    expect(decideOperation(invite("user:x", given), state(undefined), authorized, context).after?.expireTime).toBe(given);
  });

  it("accepts an invitation (ACTIVE, no expiry) or declines it (removed)", () => {
    const accepted = decideOperation(respond(true), state(invited), authorized, context);
    expect(accepted).toMatchObject({ effect: "changed", after: { role: "MANAGER", updateTime: now } });
    expect(accepted.after).not.toHaveProperty("status");
    expect(accepted.after).not.toHaveProperty("expireTime");
    expect(decideOperation(respond(false), state(invited), authorized, context)).toMatchObject({ effect: "removed", before: invited });
  });

  it("asks to join: REQUESTED, or ACTIVE MEMBER in an OPEN group, with the signup values kept", () => {
    const asked = decideOperation(
      request({ institution: "MIT" }),
      state(undefined, policy("REQUEST", ["institution"])),
      authorized,
      context,
    );
    expect(asked.after).toMatchObject({ status: "REQUESTED", role: "MEMBER", fields: { institution: "MIT" } });
    const joined = decideOperation(request(), state(undefined, policy("OPEN")), authorized, context);
    expect(joined.after).toMatchObject({ role: "MEMBER" });
    expect(joined.after).not.toHaveProperty("status");
  });

  it("approves a join request with the role given, or rejects it", () => {
    const approved = decideOperation(decideRequest(true), state(requested), authorized, context);
    expect(approved).toMatchObject({ effect: "changed", after: { role: "MANAGER" } });
    expect(approved.after).not.toHaveProperty("status");
    expect(decideOperation(decideRequest(false), state(requested), authorized, context)).toMatchObject({ effect: "removed" });
  });

  it("adding a pending principal makes it ACTIVE with the role added", () => {
    const change = decideOperation(add("user:x", "MEMBER"), state(invited), authorized, context);
    expect(change).toMatchObject({ effect: "changed", after: { role: "MEMBER" } });
    expect(change.after).not.toHaveProperty("status");
  });

  it("expires only a membership that has expired at the decision's time", () => {
    const expired = { ...membership("user:x", "MEMBER"), expireTime: now };
    expect(decideOperation(expire, state(expired), authorized, context)).toMatchObject({ effect: "removed", before: expired });
    expect(
      thrownBy(() => decideOperation(expire, state({ ...expired, expireTime: new Date(now.getTime() + 1) }), authorized, context)),
    ).toBe('not_found: user:x has no expired membership of group "g1"');
  });

  it.each([
    [
      "inviting a member",
      invite("user:x"),
      state(membership("user:x", "MEMBER")),
      'already_exists: user:x already has a membership of group "g1" (status ACTIVE)',
    ],
    [
      "inviting an invitee",
      invite("user:x"),
      state(invited),
      'already_exists: user:x already has a membership of group "g1" (status INVITED)',
    ],
    [
      "an invitation in the past",
      invite("user:x", now),
      state(undefined),
      "invalid_argument: expire_time: must be in the future (got 2030-01-02T03:04:05.000Z)",
    ],
    ["answering without an invitation", respond(true), state(requested), 'not_found: user:x has no pending invitation to group "g1"'],
    [
      "answering an expired invitation",
      respond(true),
      state({ ...invited, expireTime: now }),
      'not_found: user:x has no pending invitation to group "g1"',
    ],
    [
      "asking a CLOSED group",
      request(),
      state(undefined),
      "permission_denied: permission denied: group g1 does not accept join requests (join_policy CLOSED)",
    ],
    [
      "asking without a signup field",
      request({}),
      state(undefined, policy("REQUEST", ["institution"])),
      'invalid_argument: fields.institution: is required by group "g1"',
    ],
    [
      "asking with a blank signup field",
      request({ institution: " " }),
      state(undefined, policy("REQUEST", ["institution"])),
      'invalid_argument: fields.institution: is required by group "g1"',
    ],
    [
      "asking with another field",
      request({ shoe: "9" }),
      state(undefined, policy("REQUEST")),
      'invalid_argument: fields.shoe: is not a signup field of group "g1"',
    ],
    [
      "asking again",
      request(),
      state(requested, policy("REQUEST")),
      'already_exists: user:x already has a membership of group "g1" (status REQUESTED)',
    ],
    ["deciding without a request", decideRequest(true), state(invited), 'not_found: user:x has no pending join request to group "g1"'],
  ])("refuses %s", (_name, operation, operationState, expected) => {
    expect(thrownBy(() => decideOperation(operation, operationState, authorized, context))).toBe(expected);
  });

  it("an ADMIN that gets an expire_time is taken from the never-expiring ADMINs the group must keep", () => {
    const admin = membership("user:a", "ADMIN");
    const update: MembershipOperation = {
      kind: "update",
      groupId: "g1",
      member: principal("user:a"),
      role: undefined,
      expireTime: { value: new Date(now.getTime() + 1) },
    };
    expect(takesAnAdmin(decideOperation(update, state(admin), authorized, context))).toBe(true);
    const expiring = { ...admin, expireTime: new Date(now.getTime() + 1) };
    expect(takesAnAdmin(decideOperation(remove("user:a"), state(expiring), authorized, context))).toBe(false);
  });
});
