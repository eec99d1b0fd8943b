/**
 * Nested groups on a graph with a diamond: transitive listing, checks with
 * paths, authorization through nesting, deleted groups breaking chains,
 * cycles and the depth limit.
 *
 *        top                 T ← L ← B ← user:dave
 *       /   \                T ← R ← B
 *      L     R  (R's edge into T is MANAGER, L's is MEMBER)
 *       \   /                L ← user:erin
 *         B
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Caller, GroupRecord } from "../../src/domain/model.ts";
import {
  addMember,
  createGroup,
  groupInput,
  rejection,
  startAppFixture,
  user,
  type AppFixture,
} from "../fixtures/app-over-test-database.ts";

let fx: AppFixture;
const owner = user("owner");
const dave = user("dave");
const erin = user("erin");
let T: GroupRecord;
let L: GroupRecord;
let R: GroupRecord;
let B: GroupRecord;

beforeAll(async () => {
  fx = await startAppFixture("app_nesting");
  T = await createGroup(fx, owner, groupInput("diamond-top"));
  L = await createGroup(fx, owner, groupInput("diamond-left"));
  R = await createGroup(fx, owner, groupInput("diamond-right"));
  B = await createGroup(fx, owner, groupInput("diamond-bottom"));
  await addMember(fx, owner, T.id, `group:${L.id}`, "MEMBER");
  await addMember(fx, owner, T.id, `group:${R.id}`, "MANAGER");
  await addMember(fx, owner, L.id, `group:${B.id}`, "ADMIN");
  await addMember(fx, owner, R.id, `group:${B.id}`, "MEMBER");
  await addMember(fx, owner, B.id, "user:dave", "MEMBER");
  await addMember(fx, owner, L.id, "user:erin", "MEMBER");
});
afterAll(async () => {
  await fx.stop();
});

function listTransitive(caller: Caller, groupId: string, pageSize = 0, pageToken = "") {
  const query = { groupId, role: undefined, transitive: true, pageSize, pageToken };
  return fx.rpc(caller, "ListMemberships", { groupId }, (o) => fx.app.memberships.list(caller, query, o));
}

describe("diamond", () => {
  it("lists the transitive users once each, with the highest role and the member groups they come through", async () => {
    const page = await listTransitive(owner, T.id);
    const summary = page.memberships.map((m) => [m.member, m.role, m.viaGroupIds]);
    expect(summary).toEqual([
      ["user:dave", "MANAGER", [L.id, R.id].sort()],
      ["user:erin", "MEMBER", [L.id]],
      ["user:owner", "ADMIN", []],
    ]);
    expect(page.totalSize).toBe(3);
    const direct = await fx.app.memberships.list(owner, { groupId: T.id, role: undefined, transitive: false, pageSize: 0, pageToken: "" });
    expect(direct.memberships.map((m) => m.member)).toEqual([`group:${L.id}`, `group:${R.id}`, "user:owner"].sort());
    expect(direct.totalSize).toBe(3);
  });

  it("pages the transitive listing by member", async () => {
    const first = await listTransitive(owner, T.id, 2);
    expect(first.memberships.map((m) => m.member)).toEqual(["user:dave", "user:erin"]);
    const second = await listTransitive(owner, T.id, 2, first.nextPageToken);
    expect(second.memberships.map((m) => m.member)).toEqual(["user:owner"]);
    expect(second.nextPageToken).toBe("");
  });

  it("checks membership through the diamond along the path that carries the reported role", async () => {
    const check = await fx.rpc(dave, "CheckMembership", { groupId: T.id, member: "user:dave" }, (o) =>
      fx.app.memberships.check(dave, { groupId: T.id, principal: "user:dave", directOnly: false }, o),
    );
    expect(check.isMember).toBe(true);
    expect(check.role).toBe("MANAGER");
    // Both sides are as short; only R's edge into T carries MANAGER.
    expect(check.path).toEqual([B.id, R.id, T.id]);
    const direct = await fx.app.memberships.check(dave, { groupId: T.id, principal: "user:dave", directOnly: true });
    expect(direct).toEqual({ isMember: false, role: undefined, path: [] });
    const own = await fx.app.memberships.check(dave, { groupId: B.id, principal: "user:dave", directOnly: false });
    expect(own).toEqual({ isMember: true, role: "MEMBER", status: "ACTIVE", path: [B.id] });
  });

  it("reports the longer path when only it carries the highest role", async () => {
    const top = await createGroup(fx, owner, groupInput("shortcut-top"));
    const mid = await createGroup(fx, owner, groupInput("shortcut-mid"));
    const low = await createGroup(fx, owner, groupInput("shortcut-low"));
    await addMember(fx, owner, top.id, `group:${low.id}`, "MEMBER"); // short path, low role
    await addMember(fx, owner, top.id, `group:${mid.id}`, "MANAGER");
    await addMember(fx, owner, mid.id, `group:${low.id}`, "MEMBER");
    await addMember(fx, owner, low.id, "user:hank", "MEMBER");
    const hank = user("hank");
    const check = await fx.app.memberships.check(hank, { groupId: top.id, principal: "user:hank", directOnly: false });
    expect(check).toEqual({ isMember: true, role: "MANAGER", status: "ACTIVE", path: [low.id, mid.id, top.id] });
  });

  it("authorizes through the diamond: dave holds WRITE on the top group from the MANAGER edge", async () => {
    const got = await fx.app.groups.get(dave, { id: T.id });
    expect(got.access).toMatchObject({ role: "MANAGER", effectivePermission: "WRITE" });
    await addMember(fx, dave, T.id, "user:frank", "MEMBER");
    expect(await rejection(addMember(fx, dave, T.id, "user:gina", "MANAGER"))).toBe(
      `permission_denied: permission denied: MANAGE on group ${T.id} is required to grant role MANAGER`,
    );
    // Asking about someone else needs the right to list members, which READ gives here.
    const erinCheck = await fx.rpc(dave, "CheckMembership", { groupId: T.id, member: "user:erin" }, (o) =>
      fx.app.memberships.check(dave, { groupId: T.id, principal: "user:erin", directOnly: false }, o),
    );
    expect(erinCheck).toEqual({ isMember: true, role: "MEMBER", status: "ACTIVE", path: [L.id, T.id] });
    await fx.rpc(owner, "RemoveMember", { groupId: T.id, member: "user:frank" }, (o) =>
      fx.app.memberships.remove(owner, T.id, "user:frank", o),
    );
  });

  it("grants ACL permissions to members of a nested grantee group", async () => {
    const shared = await createGroup(fx, owner, groupInput("diamond-shared"));
    expect(await rejection(fx.rpc(dave, "GetGroup", { groupId: shared.id }, () => Promise.resolve()))).toBe(
      `not_found: group "${shared.id}" not found`,
    );
    await fx.app.groups.setAcl(owner, shared.id, [{ principal: `group:${L.id}`, permission: "WRITE" }], "");
    const seen = await fx.rpc(dave, "GetGroup", { groupId: shared.id }, (o) => fx.app.groups.get(dave, { id: shared.id }, o));
    expect(seen.access).toMatchObject({ role: undefined, effectivePermission: "WRITE" });
    await addMember(fx, dave, shared.id, "user:hank", "MEMBER");
    expect(await rejection(fx.rpc(dave, "SetGroupAcl", { groupId: shared.id }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: MANAGE on group ${shared.id} is required`,
    );
  });

  it("lists a principal's groups transitively and filters someone else's by list-members right", async () => {
    const mine = await fx.app.memberships.listPrincipalGroups(dave, { principal: "", transitive: true, pageSize: 0, pageToken: "" });
    const byId = new Map(mine.entries.map((entry) => [entry.group.id, entry]));
    expect(byId.get(B.id)).toMatchObject({ role: "MEMBER", direct: true });
    expect(byId.get(L.id)).toMatchObject({ role: "ADMIN", direct: false });
    expect(byId.get(R.id)).toMatchObject({ role: "MEMBER", direct: false });
    expect(byId.get(T.id)).toMatchObject({ role: "MANAGER", direct: false });
    const directOnly = await fx.app.memberships.listPrincipalGroups(dave, { principal: "", transitive: false, pageSize: 0, pageToken: "" });
    expect(directOnly.entries.map((entry) => entry.group.id)).toEqual([B.id]);
    // erin sees dave's groups only where she may list members: T and L (she is in L ⊂ T), not B or R.
    const asErin = await fx.app.memberships.listPrincipalGroups(erin, {
      principal: "user:dave",
      transitive: true,
      pageSize: 0,
      pageToken: "",
    });
    expect(asErin.entries.map((entry) => entry.group.id).sort()).toEqual([L.id, T.id].sort());
  });
});

describe("ListPrincipalGroups pages", () => {
  it("pages by group id without repeating or dropping groups", async () => {
    const all = [B.id, L.id, R.id, T.id].sort();
    const first = await fx.app.memberships.listPrincipalGroups(dave, { principal: "", transitive: true, pageSize: 3, pageToken: "" });
    expect(first.entries.map((entry) => entry.group.id)).toEqual(all.slice(0, 3));
    expect(first.nextPageToken).not.toBe("");
    const second = await fx.app.memberships.listPrincipalGroups(dave, {
      principal: "",
      transitive: true,
      pageSize: 3,
      pageToken: first.nextPageToken,
    });
    expect(second.entries.map((entry) => entry.group.id)).toEqual(all.slice(3));
    expect(second.nextPageToken).toBe("");
  });
});

describe("cycles and depth", () => {
  it("refuses an edge that closes a cycle, naming it", async () => {
    const message = await rejection(addMember(fx, owner, B.id, `group:${T.id}`));
    const viaLeft = `failed_precondition: adding group:${T.id} to ${B.id} would close the cycle ${B.id} → ${T.id} → ${L.id} → ${B.id}`;
    const viaRight = `failed_precondition: adding group:${T.id} to ${B.id} would close the cycle ${B.id} → ${T.id} → ${R.id} → ${B.id}`;
    expect([viaLeft, viaRight]).toContain(message);
    expect(await rejection(addMember(fx, owner, T.id, `group:${T.id}`))).toBe(
      `failed_precondition: adding group:${T.id} to ${T.id} would close the cycle ${T.id} → ${T.id}`,
    );
  });

  it("allows 32 levels of nesting and refuses the 33rd, in either direction", async () => {
    const chain: GroupRecord[] = [];
    for (let i = 0; i <= 33; i++) chain.push(await fx.app.groups.create(owner, groupInput(`chain-${i}`), ""));
    const at = (i: number): GroupRecord => {
      const group = chain[i];
      if (group === undefined) throw new Error(`no chain group ${i}`);
      return group;
    };
    await fx.app.memberships.add(owner, at(0).id, "user:deep", "MEMBER");
    for (let i = 0; i < 32; i++) await fx.app.memberships.add(owner, at(i + 1).id, `group:${at(i).id}`, "MEMBER");
    // chain-0 ⊂ chain-1 ⊂ … ⊂ chain-32: 32 edges.
    const check = await fx.app.memberships.check(owner, { groupId: at(32).id, principal: "user:deep", directOnly: false });
    expect(check.isMember).toBe(true);
    expect(check.path).toHaveLength(33);
    expect(await rejection(fx.app.memberships.add(owner, at(33).id, `group:${at(32).id}`, "MEMBER"))).toBe(
      `failed_precondition: adding group:${at(32).id} to ${at(33).id} would nest groups deeper than the limit of 32 levels`,
    );
    const fresh = await fx.app.groups.create(owner, groupInput("chain-below"), "");
    expect(await rejection(fx.app.memberships.add(owner, at(0).id, `group:${fresh.id}`, "MEMBER"))).toBe(
      `failed_precondition: adding group:${fresh.id} to ${at(0).id} would nest groups deeper than the limit of 32 levels`,
    );
  });

  it("refuses concurrent edges that would together close a cycle", async () => {
    const x = await fx.app.groups.create(owner, groupInput("race-x"), "");
    const y = await fx.app.groups.create(owner, groupInput("race-y"), "");
    const results = await Promise.allSettled([
      fx.app.memberships.add(owner, x.id, `group:${y.id}`, "MEMBER"),
      fx.app.memberships.add(owner, y.id, `group:${x.id}`, "MEMBER"),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failure = results.find((r) => r.status === "rejected");
    expect(String(failure?.reason)).toMatch(/would close the cycle/);
  });
});

describe("deleted groups break the chain", () => {
  it("drops the MANAGER edge and the ACL grant when the groups they come through are deleted", async () => {
    const grantee = await createGroup(fx, owner, groupInput("brk-grantee"));
    const top = await createGroup(fx, owner, groupInput("brk-top"));
    const via = await createGroup(fx, owner, groupInput("brk-via"));
    await addMember(fx, owner, via.id, "user:ivy");
    await addMember(fx, owner, top.id, `group:${via.id}`, "MANAGER");
    await fx.app.groups.setAcl(owner, grantee.id, [{ principal: `group:${via.id}`, permission: "READ" }], "");
    const ivy = user("ivy");
    expect((await fx.app.groups.get(ivy, { id: top.id })).access.role).toBe("MANAGER");
    expect((await fx.app.groups.get(ivy, { id: grantee.id })).access.effectivePermission).toBe("READ");

    await fx.app.groups.delete(owner, via.id, "");
    expect(await rejection(fx.app.groups.get(ivy, { id: top.id }))).toBe(`not_found: group "${top.id}" not found`);
    expect(await rejection(fx.app.groups.get(ivy, { id: grantee.id }))).toBe(`not_found: group "${grantee.id}" not found`);
    expect(await fx.app.memberships.check(owner, { groupId: top.id, principal: "user:ivy", directOnly: false })).toEqual({
      isMember: false,
      role: undefined,
      path: [],
    });
    const listed = await fx.app.memberships.list(owner, { groupId: top.id, role: undefined, transitive: true, pageSize: 0, pageToken: "" });
    expect(listed.memberships.map((m) => m.member)).toEqual(["user:owner"]);

    await fx.app.groups.undelete(owner, via.id);
    expect((await fx.app.groups.get(ivy, { id: top.id })).access.role).toBe("MANAGER");
  });
});
