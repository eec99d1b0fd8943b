/**
 * Through both doors (gRPC, and Connect JSON on the web door): CreateGroup
 * with initial members (flowserv), applied in the creating transaction with
 * per-member validation and AddMember's access rule, so a refused member
 * creates nothing; and ListGroups' permission and member_principals filters
 * with every group's caller_access (Civis).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { createProtocolClient, type Outcome, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";
import { makeGroup, root, uniqueSlug } from "../fixtures/groups-through-app.ts";

const doors: readonly ProtocolName[] = ["gRPC", "Connect JSON"];

let mongo: TestMongo;
let roster: TestRoster;
const clients = new Map<ProtocolName, ProtocolClient>();
const tokens = new Map<string, string>();
/** alice READs `readable`; `hidden` is invisible to her; `public` she sees (AUTHENTICATED) without READ. */
let readable = "";
let hidden = "";
let publicGroup = "";
let deletedGroup = "";

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("create_list"), admins: ["user:root"] });
  const app = roster.server.app;
  readable = await makeGroup(app, { members: { "user:alice": "MEMBER" } });
  hidden = await makeGroup(app);
  publicGroup = await makeGroup(app, { visibility: "AUTHENTICATED" });
  deletedGroup = await makeGroup(app, { members: { "user:alice": "ADMIN" } });
  await app.groups.delete(root, deletedGroup, "");
  for (const door of doors) clients.set(door, createProtocolClient(door, { grpcAddress: roster.address, webUrl: roster.httpUrl }));
  for (const name of ["alice", "bob"]) tokens.set(name, await roster.token(name));
}, 120_000);

afterAll(async () => {
  for (const client of clients.values()) client.close();
  await roster.stop();
  await mongo.stop();
});

function call(door: ProtocolName, service: typeof GroupService | typeof MembershipService, method: string, request: object, as = "alice") {
  const client = clients.get(door);
  if (client === undefined) throw new Error(`no ${door} client`);
  return client.call(service, method, request, tokens.get(as));
}

function responseOf(outcome: Outcome): Record<string, unknown> {
  if (outcome.code !== "OK") throw new Error(`call failed: ${JSON.stringify(outcome)}`);
  return outcome.response as Record<string, unknown>;
}

/** Whether a live group with `slug` exists (in the global namespace). */
async function slugTaken(slug: string): Promise<boolean> {
  const page = await roster.server.app.groups.list(root, {
    namespace: "",
    parentId: undefined,
    query: slug,
    showDeleted: false,
    pageSize: 10,
    pageToken: "",
    orderBy: "",
  });
  return page.groups.some((group) => group.slug === slug);
}

describe.each(doors)("CreateGroup with members over %s", (door) => {
  it("creates the group with its members in one call; the creator stays ADMIN", async () => {
    const slug = uniqueSlug("team");
    const created = responseOf(
      await call(door, GroupService, "CreateGroup", {
        group: { slug, displayName: "Team" },
        members: [
          { member: "user:bob" },
          { member: "service:ci", role: 2 },
          { member: `group:${readable}`, role: 1 },
          { member: "user:alice", role: 3 },
        ],
      }),
    );
    const group = created["group"] as { id: string; memberCount: number };
    expect(group.memberCount).toBe(4);
    const members = responseOf(await call(door, MembershipService, "ListMemberships", { groupId: group.id }));
    expect(
      (members["memberships"] as { member: string; role: string; createdBy: string }[]).map((m) => [m.member, m.role, m.createdBy]),
    ).toEqual([
      [`group:${readable}`, "ROLE_MEMBER", "user:alice"],
      ["service:ci", "ROLE_MANAGER", "user:alice"],
      ["user:alice", "ROLE_ADMIN", "user:alice"],
      ["user:bob", "ROLE_MEMBER", "user:alice"],
    ]);
    // bob is a member at once.
    expect(responseOf(await call(door, GroupService, "GetGroup", { id: group.id }, "bob"))["callerAccess"]).toMatchObject({
      role: "ROLE_MEMBER",
      effectivePermission: "PERMISSION_READ",
    });
  });

  it("refuses a malformed member list naming the entry, and creates nothing", async () => {
    const slug = uniqueSlug("bad");
    const cases: [object[], string][] = [
      [[{ member: "user:bob" }, { member: "bob" }], 'members[1].member: must be "user:<id>", "group:<group id>" or "service:<id>"'],
      [
        [{ member: "user:bob" }, { member: "user:carol" }, { member: "user:bob", role: 2 }],
        "members[2].member: user:bob is already members[0]",
      ],
      [
        [{ member: "user:alice", role: 1 }],
        "members[0].role: the creator user:alice becomes the group's ADMIN and cannot be listed as MEMBER",
      ],
      [[{ member: "user:bob", role: 9 }], "members[0].role: unknown role 9"],
      [Array.from({ length: 1001 }, (_, i) => ({ member: `user:u${i}` })), "members: must have at most 1000 entries (got 1001)"],
    ];
    for (const [members, message] of cases) {
      expect(await call(door, GroupService, "CreateGroup", { group: { slug, displayName: "Bad" }, members })).toEqual({ code: 3, message });
    }
    expect(await slugTaken(slug)).toBe(false);
  });

  it("adds a group member only with READ on it, as AddMember does; a refused member creates nothing", async () => {
    const slug = uniqueSlug("nested");
    const attempt = (member: string) =>
      call(door, GroupService, "CreateGroup", { group: { slug, displayName: "Nested" }, members: [{ member: "user:bob" }, { member }] });
    expect(await attempt(`group:${hidden}`)).toEqual({ code: 5, message: `members[1]: group "${hidden}" not found` });
    expect(await attempt("group:no-such-group")).toEqual({ code: 5, message: 'members[1]: group "no-such-group" not found' });
    expect(await attempt(`group:${deletedGroup}`)).toEqual({ code: 9, message: `members[1]: group "${deletedGroup}" is deleted` });
    expect(await attempt(`group:${publicGroup}`)).toEqual({
      code: 7,
      message: `members[1]: permission denied: READ on group ${publicGroup} is required to add it as a member`,
    });
    expect(await slugTaken(slug)).toBe(false);
    expect(responseOf(await attempt(`group:${readable}`))["group"]).toMatchObject({ slug, memberCount: 3 });
  });

  it("replays a request_id without adding anyone again", async () => {
    const slug = uniqueSlug("replay");
    const requestId = uniqueSlug("req");
    const request = { group: { slug, displayName: "Replay" }, members: [{ member: "user:bob" }], requestId };
    const first = responseOf(await call(door, GroupService, "CreateGroup", request))["group"] as { id: string; memberCount: number };
    expect(first.memberCount).toBe(2);
    const again = responseOf(await call(door, GroupService, "CreateGroup", { ...request, members: [{ member: "user:carol" }] }))["group"];
    expect(again).toMatchObject({ id: first.id, memberCount: 2 });
  });
});

describe.each(doors)("ListGroups filters over %s", (door) => {
  const ns = `lf-${door === "gRPC" ? "grpc" : "json"}`;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const app = roster.server.app;
    ids["read"] = await makeGroup(app, { namespace: ns, slug: `${ns}-read`, members: { "user:alice": "MEMBER", "user:bob": "MEMBER" } });
    ids["write"] = await makeGroup(app, { namespace: ns, slug: `${ns}-write`, members: { "user:alice": "MANAGER" } });
    ids["manage"] = await makeGroup(app, { namespace: ns, slug: `${ns}-manage`, members: { "user:alice": "ADMIN" } });
    ids["child"] = await makeGroup(app, { namespace: ns, slug: `${ns}-child`, parentId: ids["manage"], members: { "user:bob": "MEMBER" } });
    ids["public"] = await makeGroup(app, {
      namespace: ns,
      slug: `${ns}-public`,
      visibility: "AUTHENTICATED",
      members: { "user:bob": "MEMBER" },
    });
  });

  const slugs = (response: Record<string, unknown>) => (response["groups"] as { slug: string }[]).map((g) => g.slug.slice(ns.length + 1));

  it("lists by minimum permission with each group's caller_access", async () => {
    const all = responseOf(await call(door, GroupService, "ListGroups", { namespace: ns }));
    expect(slugs(all)).toEqual(["child", "manage", "public", "read", "write"]);
    const access = all["callerAccess"] as Record<string, { effectivePermission?: string; role?: string; permissions: string[] }>;
    expect(Object.keys(access).sort()).toEqual(Object.values(ids).sort());
    expect(access[ids["public"] ?? ""]).toEqual({ permissions: ["group.read"] });
    expect(access[ids["write"] ?? ""]).toMatchObject({ role: "ROLE_MANAGER", effectivePermission: "PERMISSION_WRITE" });
    for (const id of Object.values(ids)) {
      expect(access[id]).toEqual(responseOf(await call(door, GroupService, "GetGroup", { id }))["callerAccess"]);
    }
    const writable = responseOf(await call(door, GroupService, "ListGroups", { namespace: ns, permission: 2 }));
    expect(slugs(writable)).toEqual(["child", "manage", "write"]);
    expect(writable["totalSize"]).toBe(3);
    expect(slugs(responseOf(await call(door, GroupService, "ListGroups", { namespace: ns, permission: 1 })))).toEqual([
      "child",
      "manage",
      "read",
      "write",
    ]);
  });

  it("lists groups with given direct members the caller may ask about", async () => {
    const withBob = responseOf(await call(door, GroupService, "ListGroups", { namespace: ns, memberPrincipals: ["user:bob"] }));
    // bob is also in `public`, whose members alice (without READ) may not list.
    expect(slugs(withBob)).toEqual(["child", "read"]);
    const mine = responseOf(
      await call(door, GroupService, "ListGroups", { namespace: ns, memberPrincipals: ["user:alice"], permission: 3 }),
    );
    expect(slugs(mine)).toEqual(["manage"]);
  });

  it("binds page tokens to the filters and refuses bad filters naming the field", async () => {
    const first = responseOf(await call(door, GroupService, "ListGroups", { namespace: ns, permission: 1, pageSize: 1 }));
    const token = first["nextPageToken"] as string;
    expect(token).not.toBe("");
    expect(await call(door, GroupService, "ListGroups", { namespace: ns, permission: 2, pageSize: 1, pageToken: token })).toEqual({
      code: 3,
      message: "page_token: was issued for a different request (the other fields must be unchanged)",
    });
    expect(await call(door, GroupService, "ListGroups", { namespace: ns, permission: 7 })).toEqual({
      code: 3,
      message: "permission: must be PERMISSION_READ, PERMISSION_WRITE or PERMISSION_MANAGE",
    });
    expect(await call(door, GroupService, "ListGroups", { memberPrincipals: ["user:bob", "bob"] })).toEqual({
      code: 3,
      message: 'member_principals[1]: must be "user:<id>", "group:<group id>" or "service:<id>"',
    });
  });
});
