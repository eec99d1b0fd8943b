import { describe, expect, it } from "vitest";
import {
  aclChangedDraft,
  groupStateDraft,
  groupUpdatedDraft,
  membershipChangeDraft,
  validateReason,
  type ChangeOrigin,
} from "../../src/domain/change-record.ts";
import { decodeChangeToken, encodeChangeToken } from "../../src/domain/change-token.ts";
import type { GroupRecord, MembershipRecord } from "../../src/domain/model.ts";
import { errorText, thrownBy } from "../fixtures/expect-roster-error.ts";

const origin: ChangeOrigin = { actor: "user:alice", requestId: "r1", method: "roster.v1.GroupService/UpdateGroup", reason: "why" };
const at = new Date("2026-01-02T03:04:05Z");
const group: GroupRecord = {
  id: "g1",
  namespace: "acme",
  slug: "payroll",
  displayName: "Payroll",
  description: "",
  parentId: "",
  labels: { cost: "7" },
  visibility: "PRIVATE",
  memberVisibility: "MEMBERS",
  joinPolicy: "CLOSED",
  signupFields: [],
  authenticationAssuranceTimeout: 0,
  state: "ACTIVE",
  acl: [{ principal: "user:bob", permission: "READ" }],
  etag: "e1",
  memberCount: 1,
  createTime: at,
  updateTime: at,
  createdBy: "user:alice",
  updatedBy: "user:alice",
  deleteTime: undefined,
};

describe("change records", () => {
  it("an update records only the values it changed, before and after, in a fixed order", () => {
    const draft = groupUpdatedDraft(group, { labels: { cost: "8" }, displayName: "Payroll EU" }, origin, at);
    expect(draft).toMatchObject({
      kind: "group_updated",
      groupId: "g1",
      namespace: "acme",
      changedFields: ["display_name", "labels"],
      before: { displayName: "Payroll", labels: { cost: "7" } },
      after: { displayName: "Payroll EU", labels: { cost: "8" } },
      actor: "user:alice",
      reason: "why",
      requestId: "r1",
      time: at,
    });
    expect(groupUpdatedDraft(group, {}, origin, at)).toBeUndefined();
  });

  it("an ACL replaced by the same grants records nothing; other grants record both lists", () => {
    expect(aclChangedDraft(group, [{ principal: "user:bob", permission: "READ" }], origin, at)).toBeUndefined();
    expect(aclChangedDraft(group, [], origin, at)).toMatchObject({
      changedFields: ["acl"],
      before: { acl: group.acl },
      after: { acl: [] },
    });
  });

  it("deletion and undeletion record the state", () => {
    expect(groupStateDraft(group, "DELETED", origin, at)).toMatchObject({
      kind: "group_deleted",
      before: { state: "ACTIVE" },
      after: { state: "DELETED" },
    });
  });

  it("a membership change records the roles; an unchanged one records nothing", () => {
    const before: MembershipRecord = {
      groupId: "g1",
      member: "user:bob",
      role: "MEMBER",
      createTime: at,
      updateTime: at,
      createdBy: "user:alice",
    };
    const after: MembershipRecord = { ...before, role: "MANAGER" };
    expect(
      membershipChangeDraft({ effect: "changed", groupId: "g1", member: "user:bob", before, after }, "acme", origin, at),
    ).toMatchObject({
      kind: "member_role_changed",
      member: "user:bob",
      roleBefore: "MEMBER",
      roleAfter: "MANAGER",
      changedFields: [],
    });
    expect(
      membershipChangeDraft({ effect: "unchanged", groupId: "g1", member: "user:bob", before, after: before }, "acme", origin, at),
    ).toBeUndefined();
  });

  it("a reason is at most 1,024 characters, counted as code points", () => {
    expect(validateReason("😀".repeat(1024))).toHaveLength(2048);
    expect(thrownBy(() => validateReason("x".repeat(1025)))).toBe(
      errorText("invalid_argument", "reason: must be at most 1024 characters (got 1025)"),
    );
  });
});

describe("change tokens", () => {
  it("round-trip a position; empty means now", () => {
    expect(decodeChangeToken(encodeChangeToken("8263A1B2"), "start_token")).toBe("8263A1B2");
    expect(decodeChangeToken("", "start_token")).toBeUndefined();
  });

  it.each([
    ["not base64url", "a token!"],
    ["not JSON", Buffer.from("nope").toString("base64url")],
    ["another version", Buffer.from(JSON.stringify({ v: 2, p: "82" })).toString("base64url")],
    ["a position that is not a token's", Buffer.from(JSON.stringify({ v: 1, p: "{}" })).toString("base64url")],
    ["too long", "A".repeat(2049)],
  ])("refuse %s naming the field", (_name, token) => {
    expect(thrownBy(() => decodeChangeToken(token, "start_token"))).toBe(
      errorText("invalid_argument", "start_token: is not a valid change token"),
    );
  });
});
