/**
 * MembershipService through a real gRPC server: every RPC's success path and
 * its validation errors (exact codes, messages naming the field). The batch
 * RPCs have their own suites (test/batch/).
 */
import { describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { MemberVisibility } from "../../gen/roster/v1/group_pb.ts";
import type { RosterClient } from "../fixtures/roster-grpc-client.ts";
import { expectFailure, useServiceSuite } from "../fixtures/roster-with-user-clients.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

const suite = useServiceSuite("membership_service");

// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- deliberately not a Role value
const undefinedRole: Role = Number("9");

async function newGroup(client: RosterClient = suite.alice, memberVisibility = MemberVisibility.MEMBERS): Promise<string> {
  const slug = uniqueSlug("m");
  const res = await client.groups.createGroup({ group: { slug, displayName: slug, policies: { memberVisibility } } });
  return res.group?.id ?? "";
}

describe("AddMember", () => {
  it("adds a member (ROLE_UNSPECIFIED means MEMBER) and is idempotent", async () => {
    const g = await newGroup();
    const added = await suite.alice.memberships.addMember({ groupId: g, member: "user:bob" });
    expect(added.created).toBe(true);
    expect(added.membership?.groupId).toBe(g);
    expect(added.membership?.member).toBe("user:bob");
    expect(added.membership?.role).toBe(Role.MEMBER);
    expect(added.membership?.createdBy).toBe("user:alice");
    expect(added.membership?.createTime).toBeDefined();

    const again = await suite.alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.ADMIN });
    expect(again.created).toBe(false);
    expect(again.membership?.role).toBe(Role.MEMBER);

    const group = await suite.alice.groups.getGroup({ id: g });
    expect(group.group?.memberCount).toBe(2);
  });

  it("adds services and groups as members", async () => {
    const g = await newGroup();
    const other = await newGroup();
    expect((await suite.alice.memberships.addMember({ groupId: g, member: "service:ci", role: Role.MANAGER })).membership?.role).toBe(
      Role.MANAGER,
    );
    expect((await suite.alice.memberships.addMember({ groupId: g, member: `group:${other}` })).created).toBe(true);
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
    {
      name: "unknown role",
      request: { groupId: "GROUP", member: "user:bob", role: undefinedRole },
      code: "INVALID_ARGUMENT",
      message: "role: unknown role 9",
    },
    {
      name: "unknown member group",
      request: { groupId: "GROUP", member: "group:nope" },
      code: "NOT_FOUND",
      message: 'group "nope" not found',
    },
  ])("refuses $name", async ({ request, code, message }) => {
    const g = await newGroup();
    const req = { ...request, ...("groupId" in request ? { groupId: g } : {}) };
    await expectFailure(suite.alice.memberships.addMember(req), code, message);
  });

  it("needs READ on a group added as a member: an invisible one is NOT_FOUND", async () => {
    const mine = await newGroup();
    const bobs = await newGroup(suite.bob);
    await expectFailure(
      suite.alice.memberships.addMember({ groupId: mine, member: `group:${bobs}` }),
      "NOT_FOUND",
      `group "${bobs}" not found`,
    );
  });

  it("needs MANAGE to grant MANAGER: a manager may add members but not managers", async () => {
    const g = await newGroup();
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.MANAGER });
    await suite.bob.memberships.addMember({ groupId: g, member: "user:carol" });
    await expectFailure(
      suite.bob.memberships.addMember({ groupId: g, member: "user:dan", role: Role.MANAGER }),
      "PERMISSION_DENIED",
      `permission denied: MANAGE on group ${g} is required to grant role MANAGER`,
    );
  });
});

describe("RemoveMember", () => {
  it("removes a member, and NOT_FOUND for a non-member", async () => {
    const g = await newGroup();
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob" });
    expect(await suite.alice.memberships.removeMember({ groupId: g, member: "user:bob" })).toBeDefined();
    await expectFailure(
      suite.alice.memberships.removeMember({ groupId: g, member: "user:bob" }),
      "NOT_FOUND",
      `user:bob is not a member of group "${g}"`,
    );
    expect((await suite.alice.groups.getGroup({ id: g })).group?.memberCount).toBe(1);
  });

  it("lets anyone remove themselves, and never removes the last direct ADMIN", async () => {
    const g = await newGroup();
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.ADMIN });
    await suite.bob.memberships.removeMember({ groupId: g, member: "user:bob" });
    await expectFailure(
      suite.alice.memberships.removeMember({ groupId: g, member: "user:alice" }),
      "FAILED_PRECONDITION",
      `cannot remove user:alice: it is the last direct ADMIN of group "${g}"`,
    );
  });

  it("refuses a bad member principal", async () => {
    const g = await newGroup();
    await expectFailure(suite.alice.memberships.removeMember({ groupId: g, member: "" }), "INVALID_ARGUMENT", "member: is required");
  });
});

describe("UpdateMemberRole", () => {
  it("changes a role; the last direct ADMIN cannot be demoted", async () => {
    const g = await newGroup();
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob" });
    const res = await suite.alice.memberships.updateMemberRole({ groupId: g, member: "user:bob", role: Role.MANAGER });
    expect(res.membership?.role).toBe(Role.MANAGER);
    await expectFailure(
      suite.alice.memberships.updateMemberRole({ groupId: g, member: "user:alice", role: Role.MEMBER }),
      "FAILED_PRECONDITION",
      `cannot change the role of user:alice: it is the last direct ADMIN of group "${g}"`,
    );
  });

  it("refuses a missing role and a non-member", async () => {
    const g = await newGroup();
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob" });
    await expectFailure(
      suite.alice.memberships.updateMemberRole({ groupId: g, member: "user:bob" }),
      "INVALID_ARGUMENT",
      "role: is required (MEMBER, MANAGER or ADMIN)",
    );
    await expectFailure(
      suite.alice.memberships.updateMemberRole({ groupId: g, member: "user:nobody", role: Role.MEMBER }),
      "NOT_FOUND",
      `user:nobody is not a member of group "${g}"`,
    );
  });
});

describe("GetMembership", () => {
  it("returns a direct membership; anyone may read their own, others need to list members", async () => {
    const g = await newGroup(suite.alice, MemberVisibility.MANAGERS);
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob" });
    await suite.alice.memberships.addMember({ groupId: g, member: "user:carol" });
    expect((await suite.alice.memberships.getMembership({ groupId: g, member: "user:bob" })).membership?.role).toBe(Role.MEMBER);
    expect((await suite.bob.memberships.getMembership({ groupId: g, member: "user:bob" })).membership?.member).toBe("user:bob");
    await expectFailure(
      suite.bob.memberships.getMembership({ groupId: g, member: "user:carol" }),
      "PERMISSION_DENIED",
      `permission denied: WRITE on group ${g} is required to list its members`,
    );
    await expectFailure(
      suite.alice.memberships.getMembership({ groupId: g, member: "user:zoe" }),
      "NOT_FOUND",
      `user:zoe is not a member of group "${g}"`,
    );
    await expectFailure(suite.alice.memberships.getMembership({ groupId: g, member: "zoe" }), "INVALID_ARGUMENT", /^member: /);
  });
});

describe("ListMemberships", () => {
  it("lists direct members ordered by member, filters by role, and pages", async () => {
    const g = await newGroup();
    for (const name of ["dave", "bob", "carol"]) await suite.alice.memberships.addMember({ groupId: g, member: `user:${name}` });
    await suite.alice.memberships.updateMemberRole({ groupId: g, member: "user:carol", role: Role.MANAGER });
    const all = await suite.alice.memberships.listMemberships({ groupId: g });
    expect(all.memberships.map((m) => m.member)).toEqual(["user:alice", "user:bob", "user:carol", "user:dave"]);
    expect(all.totalSize).toBe(4);
    const managers = await suite.alice.memberships.listMemberships({ groupId: g, role: Role.MANAGER });
    expect(managers.memberships.map((m) => m.member)).toEqual(["user:carol"]);
    const page1 = await suite.alice.memberships.listMemberships({ groupId: g, pageSize: 3 });
    const page2 = await suite.alice.memberships.listMemberships({ groupId: g, pageSize: 3, pageToken: page1.nextPageToken });
    expect([...page1.memberships, ...page2.memberships].map((m) => m.member)).toEqual(all.memberships.map((m) => m.member));
    expect(page2.nextPageToken).toBe("");
  });

  it("refuses a negative page size and a foreign page token", async () => {
    const g = await newGroup();
    await expectFailure(
      suite.alice.memberships.listMemberships({ groupId: g, pageSize: -5 }),
      "INVALID_ARGUMENT",
      "page_size: must not be negative",
    );
    await expectFailure(suite.alice.memberships.listMemberships({ groupId: g, pageToken: "!!" }), "INVALID_ARGUMENT", /^page_token: /);
    await expectFailure(suite.alice.memberships.listMemberships({}), "INVALID_ARGUMENT", "group_id: is required");
  });
});

describe("ListPrincipalGroups", () => {
  it("lists the caller's groups, and for another principal only groups whose members the caller may list", async () => {
    const g1 = await newGroup();
    const g2 = await newGroup(suite.bob);
    await suite.alice.memberships.addMember({ groupId: g1, member: "user:erin" });
    await suite.bob.memberships.addMember({ groupId: g2, member: "user:erin" });
    const erin = suite.roster.client.as(await suite.roster.token("erin"));
    const mine = await erin.memberships.listPrincipalGroups({});
    expect(mine.entries.map((e) => e.group?.id).sort()).toEqual([g1, g2].sort());
    expect(mine.entries.every((e) => e.direct && e.role === Role.MEMBER)).toBe(true);
    const seenByAlice = await suite.alice.memberships.listPrincipalGroups({ principal: "user:erin" });
    expect(seenByAlice.entries.map((e) => e.group?.id)).toEqual([g1]);
    await expectFailure(suite.alice.memberships.listPrincipalGroups({ principal: "erin" }), "INVALID_ARGUMENT", /^principal: /);
  });
});

describe("CheckMembership", () => {
  it("answers for direct members and non-members; anyone may ask about themselves", async () => {
    const g = await newGroup(suite.alice, MemberVisibility.MANAGERS);
    await suite.alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.MEMBER });
    const yes = await suite.alice.memberships.checkMembership({ groupId: g, principal: "user:bob" });
    expect(yes).toMatchObject({ isMember: true, role: Role.MEMBER, path: [g] });
    const no = await suite.alice.memberships.checkMembership({ groupId: g, principal: "user:zoe" });
    expect(no).toMatchObject({ isMember: false, role: Role.UNSPECIFIED, path: [] });
    expect((await suite.bob.memberships.checkMembership({ groupId: g, principal: "user:bob" })).isMember).toBe(true);
    await expectFailure(
      suite.bob.memberships.checkMembership({ groupId: g, principal: "user:alice" }),
      "PERMISSION_DENIED",
      `permission denied: WRITE on group ${g} is required to list its members`,
    );
    await expectFailure(
      suite.alice.memberships.checkMembership({ groupId: g, principal: "" }),
      "INVALID_ARGUMENT",
      "principal: is required",
    );
  });
});
