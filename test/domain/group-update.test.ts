import { describe, expect, it } from "vitest";
import { changedGroupValues, manageFieldChanged, mutableGroupFields, parseUpdateMask } from "../../src/domain/group-update.ts";
import type { GroupRecord, GroupValues } from "../../src/domain/model.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";

const stored: GroupRecord = {
  id: "g1",
  namespace: "",
  slug: "eng",
  displayName: "Engineering",
  description: "",
  parentId: "",
  labels: { env: "prod" },
  visibility: "PRIVATE",
  memberVisibility: "MEMBERS",
  joinPolicy: "CLOSED",
  signupFields: [],
  authenticationAssuranceTimeout: 0,
  state: "ACTIVE",
  memberCount: 1,
  acl: [],
  createTime: new Date(0),
  updateTime: new Date(0),
  deleteTime: undefined,
  createdBy: "user:alice",
  updatedBy: "user:alice",
  etag: "e1",
};

const same: GroupValues = {
  displayName: stored.displayName,
  description: stored.description,
  labels: { env: "prod" },
  visibility: stored.visibility,
  memberVisibility: stored.memberVisibility,
  parentId: stored.parentId,
};

describe("parseUpdateMask", () => {
  it("means every mutable field without paths", () => {
    expect([...parseUpdateMask([])]).toEqual(mutableGroupFields);
  });
  it("expands policies", () => {
    expect([...parseUpdateMask(["policies", "display_name"])]).toEqual([
      "policies.visibility",
      "policies.member_visibility",
      "policies.join_policy",
      "policies.signup_fields",
      "policies.authentication_assurance_timeout",
      "display_name",
    ]);
  });
  it.each(["slug", "id", "group.display_name", "policies.other", ""])("refuses %j", (path) => {
    expect(thrownBy(() => parseUpdateMask([path]))).toBe(
      `invalid_argument: update_mask: unknown or immutable field ${JSON.stringify(path)} (allowed: display_name, description, labels, policies, policies.visibility, policies.member_visibility, policies.join_policy, policies.signup_fields, policies.authentication_assurance_timeout, parent_id)`,
    );
  });
});

describe("changedGroupValues and manageFieldChanged", () => {
  const manageFields = ["group.policies", "group.parent_id"];
  const all = parseUpdateMask([]);
  it("reports nothing for an identical full replacement", () => {
    const changes = changedGroupValues(stored, same, all);
    expect(changes).toEqual({});
    expect(manageFieldChanged(changes, manageFields)).toBeUndefined();
  });
  it("reports display changes, trimmed, as WRITE-level", () => {
    const changes = changedGroupValues(stored, { ...same, displayName: " Eng ", labels: { env: "dev" } }, all);
    expect(changes).toEqual({ displayName: "Eng", labels: { env: "dev" } });
    expect(manageFieldChanged(changes, manageFields)).toBeUndefined();
  });
  it("reports policy changes as group.policies", () => {
    const changes = changedGroupValues(stored, { ...same, memberVisibility: "MANAGERS" }, all);
    expect(changes).toEqual({ memberVisibility: "MANAGERS" });
    expect(manageFieldChanged(changes, manageFields)).toBe("group.policies");
  });
  it("reports parent changes as group.parent_id", () => {
    const changes = changedGroupValues(stored, { ...same, parentId: "g0" }, all);
    expect(manageFieldChanged(changes, manageFields)).toBe("group.parent_id");
  });
  it("reports the first changed field in the rule's order, and only fields the rule names", () => {
    const changes = changedGroupValues(stored, { ...same, parentId: "g0", visibility: "AUTHENTICATED" }, all);
    expect(manageFieldChanged(changes, manageFields)).toBe("group.policies");
    expect(manageFieldChanged(changes, ["group.parent_id"])).toBe("group.parent_id");
    expect(manageFieldChanged(changes, [])).toBeUndefined();
  });
  it("ignores unmasked fields, even when they differ", () => {
    const changes = changedGroupValues(
      stored,
      { ...same, visibility: "AUTHENTICATED", description: "new" },
      parseUpdateMask(["description"]),
    );
    expect(changes).toEqual({ description: "new" });
    expect(manageFieldChanged(changes, manageFields)).toBeUndefined();
  });
  it("treats a removed label as a change", () => {
    expect(changedGroupValues(stored, { ...same, labels: {} }, all)).toEqual({ labels: {} });
    expect(changedGroupValues(stored, { ...same, labels: { other: "prod" } }, all)).toEqual({ labels: { other: "prod" } });
  });
  it("validates masked values with field names", () => {
    expect(thrownBy(() => changedGroupValues(stored, { ...same, displayName: "" }, all))).toBe(
      "invalid_argument: group.display_name: is required",
    );
    expect(thrownBy(() => changedGroupValues(stored, { ...same, labels: { Bad: "x" } }, all))).toBe(
      'invalid_argument: group.labels: key "Bad" must be 1-63 characters of [a-z0-9_.-] starting with a letter',
    );
  });
});
