/**
 * Nested groups over gRPC: cycles and excessive depth refused with
 * FAILED_PRECONDITION naming the problem; transitive listing, checking and
 * authorization on a diamond; deleted groups breaking the chain.
 *
 * The diamond:      TOP
 *            (MANAGER) / \ (MEMBER)
 *                   LEFT  RIGHT
 *            (MEMBER)  \ /  (MEMBER)
 *                    BOTTOM ── user:dave (MEMBER), service:bot (ADMIN)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission, Role } from "../../gen/roster/v1/access_pb.ts";
import { failureOf, type RosterClient } from "../fixtures/roster-grpc-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { expectFailure } from "../fixtures/roster-with-user-clients.ts";
import { makeGroup, root } from "../fixtures/groups-through-app.ts";

let mongo: TestMongo;
let roster: TestRoster;
let owner: RosterClient;
let dave: RosterClient;
let top: string;
let left: string;
let right: string;
let bottom: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("nesting"), admins: ["user:root"] });
  const app = roster.server.app;
  const admin = { "user:owner": "ADMIN" } as const;
  bottom = await makeGroup(app, { members: { ...admin, "user:dave": "MEMBER", "service:bot": "ADMIN" } });
  left = await makeGroup(app, { members: { ...admin, [`group:${bottom}`]: "MEMBER" } });
  right = await makeGroup(app, { members: { ...admin, [`group:${bottom}`]: "MEMBER" } });
  top = await makeGroup(app, { members: { ...admin, [`group:${left}`]: "MANAGER", [`group:${right}`]: "MEMBER" } });
  owner = roster.client.as(await roster.token("owner"));
  dave = roster.client.as(await roster.token("dave"));
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

describe("cycles and depth", () => {
  it("refuses an edge that would close a cycle, naming it", async () => {
    const failure = await failureOf(owner.memberships.addMember({ groupId: bottom, member: `group:${top}` }));
    expect(failure.code).toBe("FAILED_PRECONDITION");
    // bottom → top (the new edge), then down again through either side of the diamond.
    expect(failure.details).toMatch(
      new RegExp(`^adding group:${top} to ${bottom} would close the cycle ${bottom} → ${top} → (${left}|${right}) → ${bottom}$`),
    );
  });

  it("names only the groups on the cycle the caller can see, in AddMember and in batches", async () => {
    const app = roster.server.app;
    // erin may write A (an ACL grant, not a membership: she is in none of the
    // groups A is in) and read B; H, between them, she cannot see.
    const a = await makeGroup(app, { acl: [{ principal: "user:erin", permission: "WRITE" }] });
    const b = await makeGroup(app, { members: { "user:erin": "MEMBER" } });
    const h = await makeGroup(app);
    await app.memberships.add(root, h, `group:${a}`, "MEMBER");
    await app.memberships.add(root, b, `group:${h}`, "MEMBER");
    const erin = roster.client.as(await roster.token("erin"));
    await expectFailure(erin.groups.getGroup({ id: h }), "NOT_FOUND", `group "${h}" not found`);

    const message = `adding group:${b} to ${a} would close the cycle ${a} → ${b} → … → ${a} (… stands for groups you cannot see)`;
    await expectFailure(erin.memberships.addMember({ groupId: a, member: `group:${b}` }), "FAILED_PRECONDITION", message);
    const batch = await erin.memberships.batchUpdateMemberships({
      operations: [{ operation: { case: "add", value: { groupId: a, member: `group:${b}` } } }],
    });
    expect(batch.results.map((r) => r.status)).toMatchObject([{ code: 9, message }]);
    // The system administrator sees every group, and gets them all named.
    const rootClient = roster.client.as(await roster.token("root"));
    await expectFailure(
      rootClient.memberships.addMember({ groupId: a, member: `group:${b}` }),
      "FAILED_PRECONDITION",
      `adding group:${b} to ${a} would close the cycle ${a} → ${b} → ${h} → ${a}`,
    );
  });

  it("refuses a group as its own member", async () => {
    const failure = await failureOf(owner.memberships.addMember({ groupId: top, member: `group:${top}` }));
    expect(failure).toMatchObject({
      code: "FAILED_PRECONDITION",
      details: `adding group:${top} to ${top} would close the cycle ${top} → ${top}`,
    });
  });

  it("allows 32 levels of nesting and refuses the 33rd", async () => {
    const app = roster.server.app;
    const chain: string[] = [];
    for (let i = 0; i < 33; i++) chain.push(await makeGroup(app, { members: { "user:owner": "ADMIN" } }));
    // chain[0] ⊃ chain[1] ⊃ ... ⊃ chain[32]: 32 edges.
    for (let i = 0; i < 32; i++) await app.memberships.add(root, chain[i] ?? "", `group:${chain[i + 1] ?? ""}`, "MEMBER");
    const extra = await makeGroup(app, { members: { "user:owner": "ADMIN" } });
    const deepest = chain[32] ?? "";
    const failure = await failureOf(owner.memberships.addMember({ groupId: deepest, member: `group:${extra}` }));
    expect(failure).toMatchObject({
      code: "FAILED_PRECONDITION",
      details: `adding group:${extra} to ${deepest} would nest groups deeper than the limit of 32 levels`,
    });
    // The same edge one level up (33 groups deep counting from chain[0]) is fine.
    const ok = await owner.memberships.addMember({ groupId: chain[31] ?? "", member: `group:${extra}` });
    expect(ok.created).toBe(true);
  }, 60_000);
});

describe("transitive resolution on a diamond", () => {
  it("lists users and services of nested groups once, with the highest role and the groups they come through", async () => {
    const res = await owner.memberships.listMemberships({ groupId: top, transitive: true });
    const byMember = new Map(res.memberships.map((m) => [m.member, m]));
    expect(byMember.get("user:dave")?.role).toBe(Role.MANAGER);
    expect(byMember.get("user:dave")?.viaGroupIds).toEqual([left, right].sort());
    // service:bot is ADMIN of BOTTOM, but a member group's members hold the role of the edge.
    expect(byMember.get("service:bot")?.role).toBe(Role.MANAGER);
    expect(res.memberships.filter((m) => m.member === "user:dave")).toHaveLength(1);
    expect(res.memberships.some((m) => m.member.startsWith("group:"))).toBe(false);
    const direct = await owner.memberships.listMemberships({ groupId: top });
    expect(direct.memberships.map((m) => m.member).sort()).toEqual([`group:${left}`, `group:${right}`, "user:owner"].sort());
  });

  it("checks membership through nesting, with the path up to the group", async () => {
    const res = await owner.memberships.checkMembership({ groupId: top, principal: "user:dave" });
    expect(res.isMember).toBe(true);
    expect(res.role).toBe(Role.MANAGER);
    // Either side of the diamond is a valid path from dave's direct group up to TOP.
    expect(res.path).toHaveLength(3);
    expect(res.path[0]).toBe(bottom);
    expect([left, right]).toContain(res.path[1]);
    expect(res.path[2]).toBe(top);
    const directOnly = await owner.memberships.checkMembership({ groupId: top, principal: "user:dave", directOnly: true });
    expect(directOnly).toMatchObject({ isMember: false, role: Role.UNSPECIFIED, path: [] });
    const self = await dave.memberships.checkMembership({ groupId: top, principal: "user:dave" });
    expect(self.isMember).toBe(true);
  });

  it("lists a principal's groups transitively", async () => {
    const res = await dave.memberships.listPrincipalGroups({ transitive: true });
    const entries = new Map(res.entries.map((e) => [e.group?.id, e]));
    expect([...entries.keys()].sort()).toEqual([top, left, right, bottom].sort());
    expect(entries.get(bottom)).toMatchObject({ direct: true, role: Role.MEMBER });
    expect(entries.get(top)).toMatchObject({ direct: false, role: Role.MANAGER });
    const directOnly = await dave.memberships.listPrincipalGroups({});
    expect(directOnly.entries.map((e) => e.group?.id)).toEqual([bottom]);
  });

  it("authorizes through nesting: dave may edit TOP (WRITE via LEFT) but not delete it", async () => {
    const access = await dave.groups.getGroup({ id: top });
    expect(access.callerAccess?.role).toBe(Role.MANAGER);
    expect(access.callerAccess?.effectivePermission).toBe(Permission.WRITE);
    await dave.groups.updateGroup({ group: { id: top, displayName: "Top, renamed by dave" }, updateMask: { paths: ["display_name"] } });
    const failure = await failureOf(dave.groups.deleteGroup({ id: top }));
    expect(failure).toMatchObject({ code: "PERMISSION_DENIED", details: `permission denied: MANAGE on group ${top} is required` });
  });

  it("a deleted group breaks the chain: with LEFT deleted, dave is only a MEMBER of TOP, through RIGHT", async () => {
    const app = roster.server.app;
    await app.groups.delete(root, left, "");
    try {
      const check = await owner.memberships.checkMembership({ groupId: top, principal: "user:dave" });
      expect(check).toMatchObject({ isMember: true, role: Role.MEMBER, path: [bottom, right, top] });
      const access = await dave.groups.getGroup({ id: top });
      expect(access.callerAccess?.effectivePermission).toBe(Permission.READ);
      const failure = await failureOf(
        dave.groups.updateGroup({ group: { id: top, displayName: "no" }, updateMask: { paths: ["display_name"] } }),
      );
      expect(failure.code).toBe("PERMISSION_DENIED");
    } finally {
      await app.groups.undelete(root, left);
    }
    const restored = await owner.memberships.checkMembership({ groupId: top, principal: "user:dave" });
    expect(restored.role).toBe(Role.MANAGER);
  });
});
