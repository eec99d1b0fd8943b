/**
 * MembershipService use cases: idempotent add, removal and role rules, the
 * last direct ADMIN, member_count under concurrency, member-group READ, the
 * creator group, and self-service reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupRecord } from "../../src/domain/model.ts";
import { accessRules } from "../fixtures/access-rules-table.ts";
import {
  addMember,
  createGroup,
  groupInput,
  rejection,
  startAppFixture,
  systemAdmin,
  user,
  type AppFixture,
} from "../fixtures/app-over-test-database.ts";

let fx: AppFixture;
beforeAll(async () => {
  fx = await startAppFixture("app_members");
});
afterAll(async () => {
  await fx.stop();
});

const owner = user("m-owner");
const mallory = user("mallory");

async function memberCountOf(group: GroupRecord): Promise<number> {
  return (await fx.app.groups.get(owner, { id: group.id })).group.memberCount;
}

describe("AddMember and RemoveMember", () => {
  it("is idempotent: an existing member comes back unchanged with created = false", async () => {
    const group = await createGroup(fx, owner, groupInput("m-idem"));
    const first = await fx.rpc(owner, "AddMember", { groupId: group.id, member: "user:amy", role: "MEMBER" }, (o) =>
      fx.app.memberships.add(owner, group.id, "user:amy", "MEMBER", o),
    );
    expect(first.created).toBe(true);
    expect(first.membership).toMatchObject({ groupId: group.id, member: "user:amy", role: "MEMBER", createdBy: "user:m-owner" });
    const again = await fx.app.memberships.add(owner, group.id, "user:amy", "ADMIN");
    expect(again.created).toBe(false);
    expect(again.membership.role).toBe("MEMBER");
    expect(await memberCountOf(group)).toBe(2);
  });

  it("answers NOT_FOUND for a non-member and refuses malformed principals naming the field", async () => {
    const group = await createGroup(fx, owner, groupInput("m-notfound"));
    expect(await rejection(fx.app.memberships.remove(owner, group.id, "user:nobody"))).toBe(
      `not_found: user:nobody is not a member of group "${group.id}"`,
    );
    expect(await rejection(fx.app.memberships.get(owner, group.id, "user:nobody"))).toBe(
      `not_found: user:nobody is not a member of group "${group.id}"`,
    );
    expect(await rejection(fx.rpc(owner, "AddMember", { groupId: group.id, member: "bob", role: "MEMBER" }, () => Promise.resolve()))).toBe(
      'invalid_argument: member: must be "user:<id>", "group:<group id>" or "service:<id>"',
    );
    expect(await rejection(fx.app.memberships.updateRole(owner, group.id, "user:m-owner", undefined))).toBe(
      "invalid_argument: role: is required (MEMBER, MANAGER or ADMIN)",
    );
  });

  it("lets anyone remove themselves, but a member cannot remove others and a MANAGER cannot remove an ADMIN", async () => {
    const group = await createGroup(fx, owner, groupInput("m-self"));
    await addMember(fx, owner, group.id, "user:ben");
    await addMember(fx, owner, group.id, "user:cat");
    await addMember(fx, owner, group.id, "user:dan", "MANAGER");
    const ben = user("ben");
    expect(await rejection(fx.rpc(ben, "RemoveMember", { groupId: group.id, member: "user:cat" }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: WRITE on group ${group.id} is required`,
    );
    await fx.rpc(ben, "RemoveMember", { groupId: group.id, member: "user:ben" }, (o) =>
      fx.app.memberships.remove(ben, group.id, "user:ben", o),
    );
    const dan = user("dan");
    await fx.rpc(dan, "RemoveMember", { groupId: group.id, member: "user:cat" }, (o) =>
      fx.app.memberships.remove(dan, group.id, "user:cat", o),
    );
    expect(await rejection(fx.rpc(dan, "RemoveMember", { groupId: group.id, member: "user:m-owner" }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: MANAGE on group ${group.id} is required to act on a member with role ADMIN`,
    );
    expect(await memberCountOf(group)).toBe(2);
  });

  it("never loses the last direct ADMIN, by removal or by demotion", async () => {
    const group = await createGroup(fx, owner, groupInput("m-last-admin"));
    expect(await rejection(fx.app.memberships.remove(owner, group.id, "user:m-owner"))).toBe(
      `failed_precondition: cannot remove user:m-owner: it is the last direct ADMIN of group "${group.id}"`,
    );
    expect(await rejection(fx.app.memberships.updateRole(owner, group.id, "user:m-owner", "MANAGER"))).toBe(
      `failed_precondition: cannot change the role of user:m-owner: it is the last direct ADMIN of group "${group.id}"`,
    );
    await addMember(fx, owner, group.id, "user:second", "ADMIN");
    const demoted = await fx.rpc(owner, "UpdateMemberRole", { groupId: group.id }, (o) =>
      fx.app.memberships.updateRole(owner, group.id, "user:m-owner", "MEMBER", o),
    );
    expect(demoted.role).toBe("MEMBER");
    expect(demoted.updateTime.getTime()).toBeGreaterThanOrEqual(demoted.createTime.getTime());
  });

  it("keeps one ADMIN when two ADMINs remove each other at the same time", async () => {
    const group = await createGroup(fx, owner, groupInput("m-admin-race"));
    await addMember(fx, owner, group.id, "user:other-admin", "ADMIN");
    const results = await Promise.allSettled([
      fx.app.memberships.remove(owner, group.id, "user:m-owner"),
      fx.app.memberships.remove(owner, group.id, "user:other-admin"),
    ]);
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const admins = await fx.app.memberships.list(owner, {
      groupId: group.id,
      role: "ADMIN",
      transitive: false,
      pageSize: 0,
      pageToken: "",
    });
    expect(admins.memberships).toHaveLength(1);
    const loser = results.find((result) => result.status === "rejected");
    expect(String(loser?.reason)).toMatch(/is the last direct ADMIN/);
  });
});

describe("member_count", () => {
  it("stays exact under concurrent adds, duplicate adds and removes", async () => {
    const group = await createGroup(fx, owner, groupInput("m-count"));
    const initial = Array.from({ length: 10 }, (_, i) => `user:early-${i}`);
    for (const member of initial) await fx.app.memberships.add(owner, group.id, member, "MEMBER");
    const adds = Array.from({ length: 20 }, (_, i) => `user:late-${i % 15}`); // 5 duplicates racing
    const operations = [
      ...adds.map((member) => fx.app.memberships.add(owner, group.id, member, "MEMBER")),
      ...initial.slice(0, 6).map((member) => fx.app.memberships.remove(owner, group.id, member)),
    ];
    const results = await Promise.allSettled(operations);
    expect(results.filter((result) => result.status === "rejected").map((r) => String(r.reason))).toEqual([]);
    const listed = await fx.app.memberships.list(owner, {
      groupId: group.id,
      role: undefined,
      transitive: false,
      pageSize: 1000,
      pageToken: "",
    });
    expect(listed.totalSize).toBe(1 + 10 + 15 - 6);
    expect(listed.memberships).toHaveLength(listed.totalSize);
    expect(await memberCountOf(group)).toBe(listed.totalSize);
    const created = results.filter(
      (result) => result.status === "fulfilled" && typeof result.value === "object" && "created" in result.value && result.value.created,
    );
    expect(created).toHaveLength(15);
  });

  it("pages direct members by member with a role filter", async () => {
    const group = await createGroup(fx, owner, groupInput("m-pages"));
    for (const name of ["d", "b", "e", "a", "c"]) await fx.app.memberships.add(owner, group.id, `user:${name}`, "MEMBER");
    const first = await fx.app.memberships.list(owner, {
      groupId: group.id,
      role: "MEMBER",
      transitive: false,
      pageSize: 3,
      pageToken: "",
    });
    expect(first.memberships.map((m) => m.member)).toEqual(["user:a", "user:b", "user:c"]);
    expect(first.totalSize).toBe(5);
    const second = await fx.app.memberships.list(owner, {
      groupId: group.id,
      role: "MEMBER",
      transitive: false,
      pageSize: 3,
      pageToken: first.nextPageToken,
    });
    expect(second.memberships.map((m) => m.member)).toEqual(["user:d", "user:e"]);
    expect(second.nextPageToken).toBe("");
  });
});

describe("member groups and visibility of members", () => {
  it("adding a group needs READ on it: invisible is NOT_FOUND, visible without READ is PERMISSION_DENIED", async () => {
    const target = await createGroup(fx, owner, groupInput("m-target"));
    const secret = await createGroup(fx, mallory, groupInput("m-secret"));
    const visible = await createGroup(fx, mallory, groupInput("m-visible", { visibility: "AUTHENTICATED" }));
    expect(await rejection(addMember(fx, owner, target.id, `group:${secret.id}`))).toBe(`not_found: group "${secret.id}" not found`);
    expect(await rejection(addMember(fx, owner, target.id, `group:${visible.id}`))).toBe(
      `permission_denied: permission denied: READ on group ${visible.id} is required to add it as a member`,
    );
    expect(await rejection(addMember(fx, owner, target.id, "group:nosuchgroup00000"))).toBe(
      'not_found: group "nosuchgroup00000" not found',
    );
  });

  it("with member_visibility MANAGERS, members read only their own membership", async () => {
    const group = await createGroup(fx, owner, groupInput("m-managers-only", { memberVisibility: "MANAGERS" }));
    await addMember(fx, owner, group.id, "user:fay");
    const fay = user("fay");
    const own = await fx.rpc(fay, "GetMembership", { groupId: group.id, member: "user:fay" }, (o) =>
      fx.app.memberships.get(fay, group.id, "user:fay", o),
    );
    expect(own.role).toBe("MEMBER");
    expect(await rejection(fx.rpc(fay, "GetMembership", { groupId: group.id, member: "user:m-owner" }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: WRITE on group ${group.id} is required to list its members`,
    );
    expect(await rejection(fx.rpc(fay, "ListMemberships", { groupId: group.id }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: WRITE on group ${group.id} is required to list its members`,
    );
  });
});

describe("creator group", () => {
  it("limits top-level creation to the creator group's transitive members and system administrators", async () => {
    const creators = await createGroup(fx, owner, groupInput("m-creators"));
    const inner = await createGroup(fx, owner, groupInput("m-creators-inner"));
    await addMember(fx, owner, creators.id, `group:${inner.id}`);
    await addMember(fx, owner, inner.id, "user:gus");
    const restricted = await fx.withDeps({ creatorGroupId: creators.id });
    const topLevel = { groupId: "" };
    await restricted.access.authorize(user("gus"), accessRules.CreateGroup, topLevel);
    expect(await rejection(restricted.access.authorize(mallory, accessRules.CreateGroup, topLevel))).toBe(
      "permission_denied: permission denied: membership of the creator group is required to create a top-level group",
    );
    await restricted.access.authorize(systemAdmin, accessRules.CreateGroup, topLevel);
    // A child group needs WRITE on the parent, not creator-group membership.
    const parent = await createGroup(fx, mallory, groupInput("m-mallory-parent"));
    await restricted.access.authorize(mallory, accessRules.CreateGroup, { groupId: parent.id });
    const strangers = await createGroup(fx, owner, groupInput("m-owner-parent", { visibility: "AUTHENTICATED" }));
    expect(await rejection(restricted.access.authorize(mallory, accessRules.CreateGroup, { groupId: strangers.id }))).toBe(
      `permission_denied: permission denied: WRITE on group ${strangers.id} is required to create a child group`,
    );
  });
});
