/**
 * MembershipService through a real gRPC server: every RPC's success path and
 * its validation errors (exact codes, messages naming the field). The batch
 * RPCs of issue 5 have their own suites.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { MemberVisibility } from "../../gen/roster/v1/group_pb.ts";
import { failureOf, type RosterClient } from "../support/roster-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../support/mongo.ts";
import { startTestRoster, type TestRoster } from "../support/roster-server.ts";
import { uniqueSlug } from "./world.ts";

let mongo: TestMongo;
let roster: TestRoster;
let alice: RosterClient;
let bob: RosterClient;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("membership_service"), admins: ["user:root"] });
  alice = roster.client.as(await roster.token("alice"));
  bob = roster.client.as(await roster.token("bob"));
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- deliberately not a Role value
const undefinedRole: Role = Number("9");

async function expectFailure(call: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  const failure = await failureOf(call);
  expect({ code: failure.code }).toEqual({ code });
  if (typeof message === "string") expect(failure.details).toBe(message);
  else expect(failure.details).toMatch(message);
}

async function newGroup(client: RosterClient = alice, memberVisibility = MemberVisibility.MEMBERS): Promise<string> {
  const slug = uniqueSlug("m");
  const res = await client.groups.createGroup({ group: { slug, displayName: slug, policies: { memberVisibility } } });
  return res.group?.id ?? "";
}

describe("AddMember", () => {
  it("adds a member (ROLE_UNSPECIFIED means MEMBER) and is idempotent", async () => {
    const g = await newGroup();
    const added = await alice.memberships.addMember({ groupId: g, member: "user:bob" });
    expect(added.created).toBe(true);
    expect(added.membership?.groupId).toBe(g);
    expect(added.membership?.member).toBe("user:bob");
    expect(added.membership?.role).toBe(Role.MEMBER);
    expect(added.membership?.createdBy).toBe("user:alice");
    expect(added.membership?.createTime).toBeDefined();

    const again = await alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.ADMIN });
    expect(again.created).toBe(false);
    expect(again.membership?.role).toBe(Role.MEMBER);

    const group = await alice.groups.getGroup({ id: g });
    expect(group.group?.memberCount).toBe(2);
  });

  it("adds services and groups as members", async () => {
    const g = await newGroup();
    const other = await newGroup();
    expect((await alice.memberships.addMember({ groupId: g, member: "service:ci", role: Role.MANAGER })).membership?.role).toBe(Role.MANAGER);
    expect((await alice.memberships.addMember({ groupId: g, member: `group:${other}` })).created).toBe(true);
  });

  it.each([
    { name: "missing group_id", request: { member: "user:bob" }, code: "INVALID_ARGUMENT", message: "group_id: is required" },
    { name: "missing member", request: { groupId: "GROUP" }, code: "INVALID_ARGUMENT", message: "member: is required" },
    {
      name: "member without kind",
      request: { groupId: "GROUP", member: "bob" },
      code: "INVALID_ARGUMENT",
      message: 'member: must be "user:<id>", "group:<group id>" or "service:<id>"',
    },
    {
      name: "member with whitespace",
      request: { groupId: "GROUP", member: "user:bo b" },
      code: "INVALID_ARGUMENT",
      message: "member: id must not contain whitespace or control characters",
    },
    { name: "unknown role", request: { groupId: "GROUP", member: "user:bob", role: undefinedRole }, code: "INVALID_ARGUMENT", message: "role: unknown role 9" },
    { name: "unknown member group", request: { groupId: "GROUP", member: "group:nope" }, code: "NOT_FOUND", message: 'group "nope" not found' },
  ])("refuses $name", async ({ request, code, message }) => {
    const g = await newGroup();
    const req = { ...request, ...("groupId" in request ? { groupId: g } : {}) };
    await expectFailure(alice.memberships.addMember(req), code, message);
  });

  it("needs READ on a group added as a member: an invisible one is NOT_FOUND", async () => {
    const mine = await newGroup();
    const bobs = await newGroup(bob);
    await expectFailure(alice.memberships.addMember({ groupId: mine, member: `group:${bobs}` }), "NOT_FOUND", `group "${bobs}" not found`);
  });

  it("needs MANAGE to grant MANAGER: a manager may add members but not managers", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.MANAGER });
    await bob.memberships.addMember({ groupId: g, member: "user:carol" });
    await expectFailure(
      bob.memberships.addMember({ groupId: g, member: "user:dan", role: Role.MANAGER }),
      "PERMISSION_DENIED",
      `permission denied: MANAGE on group ${g} is required to grant role MANAGER`,
    );
  });
});

describe("RemoveMember", () => {
  it("removes a member, and NOT_FOUND for a non-member", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:bob" });
    expect(await alice.memberships.removeMember({ groupId: g, member: "user:bob" })).toBeDefined();
    await expectFailure(alice.memberships.removeMember({ groupId: g, member: "user:bob" }), "NOT_FOUND", `user:bob is not a member of group "${g}"`);
    expect((await alice.groups.getGroup({ id: g })).group?.memberCount).toBe(1);
  });

  it("lets anyone remove themselves, and never removes the last direct ADMIN", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.ADMIN });
    await bob.memberships.removeMember({ groupId: g, member: "user:bob" });
    await expectFailure(
      alice.memberships.removeMember({ groupId: g, member: "user:alice" }),
      "FAILED_PRECONDITION",
      `cannot remove user:alice: it is the last direct ADMIN of group "${g}"`,
    );
  });

  it("refuses a bad member principal", async () => {
    const g = await newGroup();
    await expectFailure(alice.memberships.removeMember({ groupId: g, member: "" }), "INVALID_ARGUMENT", "member: is required");
  });
});

describe("UpdateMemberRole", () => {
  it("changes a role; the last direct ADMIN cannot be demoted", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:bob" });
    const res = await alice.memberships.updateMemberRole({ groupId: g, member: "user:bob", role: Role.MANAGER });
    expect(res.membership?.role).toBe(Role.MANAGER);
    await expectFailure(
      alice.memberships.updateMemberRole({ groupId: g, member: "user:alice", role: Role.MEMBER }),
      "FAILED_PRECONDITION",
      `cannot change the role of user:alice: it is the last direct ADMIN of group "${g}"`,
    );
  });

  it("refuses a missing role and a non-member", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:bob" });
    await expectFailure(
      alice.memberships.updateMemberRole({ groupId: g, member: "user:bob" }),
      "INVALID_ARGUMENT",
      "role: is required (MEMBER, MANAGER or ADMIN)",
    );
    await expectFailure(
      alice.memberships.updateMemberRole({ groupId: g, member: "user:nobody", role: Role.MEMBER }),
      "NOT_FOUND",
      `user:nobody is not a member of group "${g}"`,
    );
  });
});

describe("GetMembership", () => {
  it("returns a direct membership; anyone may read their own, others need to list members", async () => {
    const g = await newGroup(alice, MemberVisibility.MANAGERS);
    await alice.memberships.addMember({ groupId: g, member: "user:bob" });
    await alice.memberships.addMember({ groupId: g, member: "user:carol" });
    expect((await alice.memberships.getMembership({ groupId: g, member: "user:bob" })).membership?.role).toBe(Role.MEMBER);
    expect((await bob.memberships.getMembership({ groupId: g, member: "user:bob" })).membership?.member).toBe("user:bob");
    await expectFailure(
      bob.memberships.getMembership({ groupId: g, member: "user:carol" }),
      "PERMISSION_DENIED",
      `permission denied: WRITE on group ${g} is required to list its members`,
    );
    await expectFailure(alice.memberships.getMembership({ groupId: g, member: "user:zoe" }), "NOT_FOUND", `user:zoe is not a member of group "${g}"`);
    await expectFailure(alice.memberships.getMembership({ groupId: g, member: "zoe" }), "INVALID_ARGUMENT", /^member: /);
  });
});

describe("ListMemberships", () => {
  it("lists direct members ordered by member, filters by role, and pages", async () => {
    const g = await newGroup();
    for (const name of ["dave", "bob", "carol"]) await alice.memberships.addMember({ groupId: g, member: `user:${name}` });
    await alice.memberships.updateMemberRole({ groupId: g, member: "user:carol", role: Role.MANAGER });
    const all = await alice.memberships.listMemberships({ groupId: g });
    expect(all.memberships.map((m) => m.member)).toEqual(["user:alice", "user:bob", "user:carol", "user:dave"]);
    expect(all.totalSize).toBe(4);
    const managers = await alice.memberships.listMemberships({ groupId: g, role: Role.MANAGER });
    expect(managers.memberships.map((m) => m.member)).toEqual(["user:carol"]);
    const page1 = await alice.memberships.listMemberships({ groupId: g, pageSize: 3 });
    const page2 = await alice.memberships.listMemberships({ groupId: g, pageSize: 3, pageToken: page1.nextPageToken });
    expect([...page1.memberships, ...page2.memberships].map((m) => m.member)).toEqual(all.memberships.map((m) => m.member));
    expect(page2.nextPageToken).toBe("");
  });

  it("refuses a negative page size and a foreign page token", async () => {
    const g = await newGroup();
    await expectFailure(alice.memberships.listMemberships({ groupId: g, pageSize: -5 }), "INVALID_ARGUMENT", "page_size: must not be negative");
    await expectFailure(alice.memberships.listMemberships({ groupId: g, pageToken: "!!" }), "INVALID_ARGUMENT", /^page_token: /);
    await expectFailure(alice.memberships.listMemberships({}), "INVALID_ARGUMENT", "group_id: is required");
  });
});

describe("ListPrincipalGroups", () => {
  it("lists the caller's groups, and for another principal only groups whose members the caller may list", async () => {
    const g1 = await newGroup();
    const g2 = await newGroup(bob);
    await alice.memberships.addMember({ groupId: g1, member: "user:erin" });
    await bob.memberships.addMember({ groupId: g2, member: "user:erin" });
    const erin = roster.client.as(await roster.token("erin"));
    const mine = await erin.memberships.listPrincipalGroups({});
    expect(mine.entries.map((e) => e.group?.id).sort()).toEqual([g1, g2].sort());
    expect(mine.entries.every((e) => e.direct && e.role === Role.MEMBER)).toBe(true);
    const seenByAlice = await alice.memberships.listPrincipalGroups({ principal: "user:erin" });
    expect(seenByAlice.entries.map((e) => e.group?.id)).toEqual([g1]);
    await expectFailure(alice.memberships.listPrincipalGroups({ principal: "erin" }), "INVALID_ARGUMENT", /^principal: /);
  });
});

describe("CheckMembership", () => {
  it("answers for direct members and non-members; anyone may ask about themselves", async () => {
    const g = await newGroup(alice, MemberVisibility.MANAGERS);
    await alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.MEMBER });
    const yes = await alice.memberships.checkMembership({ groupId: g, principal: "user:bob" });
    expect(yes).toMatchObject({ isMember: true, role: Role.MEMBER, path: [g] });
    const no = await alice.memberships.checkMembership({ groupId: g, principal: "user:zoe" });
    expect(no).toMatchObject({ isMember: false, role: Role.UNSPECIFIED, path: [] });
    expect((await bob.memberships.checkMembership({ groupId: g, principal: "user:bob" })).isMember).toBe(true);
    await expectFailure(
      bob.memberships.checkMembership({ groupId: g, principal: "user:alice" }),
      "PERMISSION_DENIED",
      `permission denied: WRITE on group ${g} is required to list its members`,
    );
    await expectFailure(alice.memberships.checkMembership({ groupId: g, principal: "" }), "INVALID_ARGUMENT", "principal: is required");
  });
});
