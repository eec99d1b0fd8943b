/**
 * The membership lifecycle through the app on a clock the test sets:
 * expiry exact to the millisecond whether swept or not, the sweeper, the
 * never-expiring ADMIN a group keeps, invitations and join requests, and the
 * races the issue names (an expiry against a change, an answer against a
 * revocation), each as an invariant over many runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RosterApp } from "../../src/app/index.ts";
import type { Caller } from "../../src/domain/model.ts";
import { collectionNames } from "../../src/storage/documents.ts";
import { groupInput, rejection, startAppFixture, systemAdmin, user, type AppFixture } from "../fixtures/app-over-test-database.ts";

const T = new Date("2031-03-04T05:06:07.000Z");
let now = new Date(T.getTime() - 3_600_000);
const at = (date: Date): void => {
  now = date;
};
const ms = (offset: number): Date => new Date(T.getTime() + offset);

let fx: AppFixture;
beforeAll(async () => {
  fx = await startAppFixture("app_lifecycle", { clock: () => now });
});
afterAll(async () => {
  await fx.stop();
});

let counter = 0;
/** A group whose only ADMIN is `admin` (root created it and left). */
async function group(admin: Caller, overrides: Parameters<typeof groupInput>[1] = {}): Promise<string> {
  counter += 1;
  at(new Date(T.getTime() - 3_600_000));
  const created = await fx.app.groups.create(systemAdmin, groupInput(`lc-${process.pid}-${counter}`, overrides), "");
  await fx.app.memberships.add(systemAdmin, created.id, admin.principal, "ADMIN");
  await fx.app.memberships.remove(systemAdmin, created.id, systemAdmin.principal);
  return created.id;
}

const alice = user("alice");
const bob = user("bob");
const carol = user("carol");

async function memberCount(app: RosterApp, groupId: string): Promise<number> {
  return (await app.groups.get(systemAdmin, { id: groupId })).group.memberCount;
}

describe("expiry is exact, swept or not", () => {
  it("confers until expire_time and nothing from it on: check, get, list, access", async () => {
    const g = await group(alice);
    await fx.app.memberships.add(alice, g, "user:bob", "MEMBER", {}, T);
    at(ms(-1));
    expect(await fx.app.memberships.check(alice, { groupId: g, principal: "user:bob", directOnly: false })).toEqual({
      isMember: true,
      role: "MEMBER",
      path: [g],
      status: "ACTIVE",
      expireTime: T,
    });
    await fx.rpc(bob, "GetGroup", { groupId: g }, () => Promise.resolve());
    at(T);
    for (const directOnly of [false, true]) {
      expect(await fx.app.memberships.check(alice, { groupId: g, principal: "user:bob", directOnly })).toMatchObject({
        isMember: false,
        path: [],
      });
    }
    expect(await rejection(fx.app.memberships.get(alice, g, "user:bob"))).toBe(`not_found: user:bob is not a member of group "${g}"`);
    const listed = await fx.app.memberships.list(alice, { groupId: g, role: undefined, transitive: false, pageSize: 10, pageToken: "" });
    expect(listed.memberships.map((m) => m.member)).toEqual(["user:alice"]);
    expect(await rejection(fx.rpc(bob, "GetGroup", { groupId: g }, () => Promise.resolve()))).toBe(`not_found: group "${g}" not found`);
    // Unswept: still stored, still counted until the sweeper removes it (documented).
    expect(await fx.db.collection(collectionNames.memberships).countDocuments({ groupId: g, member: "user:bob" })).toBe(1);
    expect(await memberCount(fx.app, g)).toBe(2);
  });

  it("an expired group edge is not followed by nesting", async () => {
    const top = await group(alice);
    const inner = await group(alice);
    await fx.app.memberships.add(alice, inner, "user:carol", "MEMBER");
    await fx.app.memberships.add(alice, top, `group:${inner}`, "MANAGER", {}, T);
    at(ms(-1));
    expect(await fx.app.memberships.check(alice, { groupId: top, principal: "user:carol", directOnly: false })).toMatchObject({
      isMember: true,
      role: "MANAGER",
      path: [inner, top],
    });
    const transitive = await fx.app.memberships.list(alice, {
      groupId: top,
      role: undefined,
      transitive: true,
      pageSize: 10,
      pageToken: "",
    });
    expect(transitive.memberships.map((m) => m.member)).toEqual(["user:alice", "user:carol"]);
    at(T);
    expect(await fx.app.memberships.check(alice, { groupId: top, principal: "user:carol", directOnly: false })).toMatchObject({
      isMember: false,
    });
    const after = await fx.app.memberships.list(alice, { groupId: top, role: undefined, transitive: true, pageSize: 10, pageToken: "" });
    expect(after.memberships.map((m) => m.member)).toEqual(["user:alice"]);
  });

  it("an expired membership can be neither changed nor removed; adding the principal again makes a new one", async () => {
    const g = await group(alice);
    await fx.app.memberships.add(alice, g, "user:bob", "MEMBER", {}, T);
    at(T);
    const gone = `not_found: user:bob is not a member of group "${g}"`;
    expect(await rejection(fx.app.memberships.updateRole(alice, g, "user:bob", "MANAGER"))).toBe(gone);
    expect(
      await rejection(
        fx.app.memberships.update(alice, {
          groupId: g,
          member: "user:bob",
          role: undefined,
          expireTime: ms(3_600_000),
          mask: ["expire_time"],
        }),
      ),
    ).toBe(gone);
    expect(await rejection(fx.app.memberships.remove(alice, g, "user:bob"))).toBe(gone);
    const again = await fx.app.memberships.add(alice, g, "user:bob", "MANAGER");
    expect(again).toMatchObject({ created: true, membership: { role: "MANAGER", createTime: T } });
    expect(again.membership.expireTime).toBeUndefined();
    // The expired document was replaced, not added to: the count is still exact.
    expect(await memberCount(fx.app, g)).toBe(2);
  });

  it("refuses an expire_time that is not in the future", async () => {
    const g = await group(alice);
    at(T);
    expect(await rejection(fx.app.memberships.add(alice, g, "user:bob", "MEMBER", {}, T))).toBe(
      "invalid_argument: expire_time: must be in the future (got 2031-03-04T05:06:07.000Z)",
    );
  });
});

describe("the sweeper", () => {
  it("removes what has expired, oldest first in bounded batches, and keeps member_count exact", async () => {
    const g = await group(alice);
    for (const [i, name] of ["m1", "m2", "m3"].entries()) await fx.app.memberships.add(alice, g, `user:${name}`, "MEMBER", {}, ms(i));
    await fx.app.memberships.invite(alice, { groupId: g, member: "user:inv", role: "MEMBER", message: "", expireTime: ms(1) });
    expect(await memberCount(fx.app, g)).toBe(4);
    // m1, m2 and the invitation have expired; m3 expires 1 ms later.
    at(ms(1));
    // Other tests' expired memberships are swept too; drain them all.
    let removed = 0;
    for (let sweep = await fx.app.expiry.sweep(2); sweep > 0; sweep = await fx.app.expiry.sweep(2)) {
      expect(sweep).toBeLessThanOrEqual(2);
      removed += sweep;
    }
    expect(removed).toBeGreaterThanOrEqual(3);
    const left = await fx.db.collection(collectionNames.memberships).find({ groupId: g }).toArray();
    expect(left.map((doc) => String(doc["member"])).sort()).toEqual(["user:alice", "user:m3"]);
    expect(await memberCount(fx.app, g)).toBe(2);
    expect(await fx.app.expiry.sweep(10)).toBe(0);
    // Each removal is in the history as the sweeper's: an ACTIVE member's as MEMBER_REMOVED, the invitation's as pending.
    const { changes } = await fx.app.changes.listGroupHistory(systemAdmin, {
      groupId: g,
      member: "",
      since: ms(1),
      until: undefined,
      pageSize: 100,
      pageToken: "",
    });
    expect(changes.map((c) => [c.kind, c.member, c.actor, c.roleBefore]).sort()).toEqual([
      ["member_removed", "user:m1", "system:expiry", "MEMBER"],
      ["member_removed", "user:m2", "system:expiry", "MEMBER"],
      ["pending_membership_removed", "user:inv", "system:expiry", "MEMBER"],
    ]);
  });

  it("several sweepers at once remove each expired membership once", async () => {
    const g = await group(alice);
    await fx.app.memberships.add(alice, g, "user:bob", "MEMBER", {}, T);
    at(ms(1));
    const sweepers = await Promise.all([fx.withDeps({ clock: () => ms(1) }), fx.withDeps({ clock: () => ms(1) })]);
    const counts = await Promise.all(sweepers.map((app) => app.expiry.sweep(100)));
    expect(await fx.db.collection(collectionNames.memberships).countDocuments({ groupId: g, member: "user:bob" })).toBe(0);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(await memberCount(fx.app, g)).toBe(1);
  });
});

describe("a group always keeps a direct ADMIN that never expires", () => {
  it("refuses an expire_time on the last one, and removing the last one while the others expire", async () => {
    const g = await group(alice);
    expect(
      await rejection(
        fx.app.memberships.update(alice, { groupId: g, member: "user:alice", role: undefined, expireTime: T, mask: ["expire_time"] }),
      ),
    ).toBe(`failed_precondition: cannot set an expire_time on user:alice: it is the last direct ADMIN of group "${g}" without one`);
    await fx.app.memberships.add(alice, g, "user:bob", "ADMIN", {}, T);
    expect(await rejection(fx.app.memberships.remove(alice, g, "user:alice"))).toBe(
      `failed_precondition: cannot remove user:alice: it is the last direct ADMIN of group "${g}"`,
    );
    expect(
      await rejection(
        fx.app.memberships.update(bob, { groupId: g, member: "user:alice", role: "MEMBER", expireTime: undefined, mask: ["role"] }),
      ),
    ).toBe(`failed_precondition: cannot change the role of user:alice: it is the last direct ADMIN of group "${g}"`);
    // Once bob's expiry is removed, alice may get one.
    await fx.app.memberships.update(alice, {
      groupId: g,
      member: "user:bob",
      role: undefined,
      expireTime: undefined,
      mask: ["expire_time"],
    });
    const updated = await fx.app.memberships.update(bob, {
      groupId: g,
      member: "user:alice",
      role: undefined,
      expireTime: T,
      mask: ["expire_time"],
    });
    expect(updated).toMatchObject({ role: "ADMIN", expireTime: T });
  });
});

describe("invitations", () => {
  it("is INVITED until accepted: confers nothing, not counted, but the invitee sees the group to answer", async () => {
    const g = await group(alice);
    const invited = await fx.app.memberships.invite(alice, {
      groupId: g,
      member: "user:bob",
      role: "MANAGER",
      message: "hi",
      expireTime: undefined,
    });
    expect(invited).toMatchObject({ member: "user:bob", role: "MANAGER", status: "INVITED", message: "hi", createdBy: "user:alice" });
    // The default lifetime: 14 days.
    expect(invited.expireTime).toEqual(new Date(now.getTime() + 14 * 86_400_000));
    expect(await memberCount(fx.app, g)).toBe(1);
    expect(await fx.app.memberships.check(alice, { groupId: g, principal: "user:bob", directOnly: false })).toMatchObject({
      isMember: false,
      status: "INVITED",
    });
    await fx.rpc(bob, "GetGroup", { groupId: g }, () => Promise.resolve());
    expect(await rejection(fx.rpc(bob, "ListMemberships", { groupId: g }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: READ on group ${g} is required to list its members`,
    );
    expect(
      await rejection(
        fx.app.memberships.invite(alice, { groupId: g, member: "user:bob", role: "MEMBER", message: "", expireTime: undefined }),
      ),
    ).toBe(`already_exists: user:bob already has a membership of group "${g}" (status INVITED)`);
    const pending = await fx.app.memberships.list(alice, {
      groupId: g,
      role: undefined,
      statuses: ["INVITED"],
      transitive: false,
      pageSize: 10,
      pageToken: "",
    });
    expect(pending).toMatchObject({ memberships: [{ member: "user:bob", status: "INVITED" }], totalSize: 1 });
    const accepted = await fx.rpc(bob, "RespondToInvitation", { groupId: g, member: "" }, (o) =>
      fx.app.memberships.respond(bob, g, "", true, o),
    );
    expect(accepted).toMatchObject({ member: "user:bob", role: "MANAGER" });
    expect(accepted.status).toBeUndefined();
    expect(accepted.expireTime).toBeUndefined();
    expect(await memberCount(fx.app, g)).toBe(2);
    expect(await rejection(fx.app.memberships.respond(bob, g, "", true))).toBe(
      `not_found: user:bob has no pending invitation to group "${g}"`,
    );
  });

  it("the invitee lists its invitations (and join requests) among its groups when it asks for them", async () => {
    const g = await group(alice);
    const mine = await group(alice, { visibility: "AUTHENTICATED", joinPolicy: "REQUEST" });
    await fx.app.memberships.invite(alice, { groupId: g, member: "user:dave", role: "MANAGER", message: "", expireTime: T });
    await fx.app.memberships.requestToJoin(user("dave"), { groupId: mine, message: "", fields: {} });
    const list = (statuses?: ("ACTIVE" | "INVITED" | "REQUESTED")[]) =>
      fx.app.memberships.listPrincipalGroups(user("dave"), {
        principal: "",
        transitive: false,
        pageSize: 10,
        pageToken: "",
        ...(statuses === undefined ? {} : { statuses }),
      });
    expect((await list()).entries).toEqual([]);
    const invited = await list(["INVITED"]);
    expect(invited.entries.map(({ group: listed, ...entry }) => ({ id: listed.id, ...entry }))).toEqual([
      { id: g, role: "MANAGER", direct: true, status: "INVITED", expireTime: T },
    ]);
    expect((await list(["INVITED", "REQUESTED"])).entries.map((entry) => [entry.group.id, entry.status]).sort()).toEqual(
      [
        [g, "INVITED"],
        [mine, "REQUESTED"],
      ].sort(),
    );
    await fx.app.memberships.respond(user("dave"), g, "", true);
    expect((await list(["ACTIVE", "INVITED"])).entries.map((entry) => [entry.group.id, entry.status, entry.expireTime])).toEqual([
      [g, "ACTIVE", undefined],
    ]);
  });

  it("ListGroups' member_principals matches ACTIVE unexpired memberships only", async () => {
    const invitedTo = await group(alice);
    const expiring = await group(alice);
    await fx.app.memberships.invite(alice, { groupId: invitedTo, member: "user:erin", role: "MEMBER", message: "", expireTime: undefined });
    await fx.app.memberships.add(alice, expiring, "user:erin", "MEMBER", {}, T);
    const listed = async () => {
      const page = await fx.app.groups.list(alice, {
        namespace: undefined,
        parentId: undefined,
        query: "",
        showDeleted: false,
        pageSize: 100,
        pageToken: "",
        orderBy: "",
        memberPrincipals: ["user:erin"],
      });
      return page.groups.map((g) => g.id).filter((id) => id === invitedTo || id === expiring);
    };
    at(ms(-1));
    expect(await listed()).toEqual([expiring]);
    at(T);
    expect(await listed()).toEqual([]);
  });

  it("declining removes it; an invitation past its expire_time cannot be answered", async () => {
    const g = await group(alice);
    await fx.app.memberships.invite(alice, { groupId: g, member: "user:bob", role: "MEMBER", message: "", expireTime: undefined });
    await fx.app.memberships.invite(alice, { groupId: g, member: "user:carol", role: "MEMBER", message: "", expireTime: T });
    expect(await fx.app.memberships.respond(bob, g, "", false)).toMatchObject({ status: "INVITED" });
    expect(await rejection(fx.app.memberships.get(alice, g, "user:bob"))).toBe(`not_found: user:bob is not a member of group "${g}"`);
    at(T);
    expect(await rejection(fx.app.memberships.respond(carol, g, "", true))).toBe(
      `not_found: user:carol has no pending invitation to group "${g}"`,
    );
    expect(await rejection(fx.rpc(carol, "RespondToInvitation", { groupId: g, member: "" }, () => Promise.resolve()))).toBe(
      `not_found: group "${g}" not found`,
    );
  });

  it("a group invitee is answered by a caller with MANAGE on that group, and no one else", async () => {
    const g = await group(alice);
    const team = await group(carol);
    await fx.app.memberships.add(carol, team, "user:bob", "MEMBER");
    await fx.app.memberships.invite(systemAdmin, {
      groupId: g,
      member: `group:${team}`,
      role: "MEMBER",
      message: "",
      expireTime: undefined,
    });
    expect(await rejection(fx.rpc(bob, "RespondToInvitation", { groupId: g, member: `group:${team}` }, () => Promise.resolve()))).toBe(
      `not_found: group "${g}" not found`,
    );
    await fx.rpc(carol, "RespondToInvitation", { groupId: g, member: `group:${team}` }, (o) =>
      fx.app.memberships.respond(carol, g, `group:${team}`, true, o),
    );
    expect(await fx.app.memberships.check(systemAdmin, { groupId: g, principal: "user:bob", directOnly: false })).toMatchObject({
      isMember: true,
      path: [team, g],
    });
    // Alice cannot see carol's team: the path she is shown leaves it out.
    expect(await fx.app.memberships.check(alice, { groupId: g, principal: "user:bob", directOnly: false })).toMatchObject({
      isMember: true,
      path: [g],
    });
  });

  it("a response racing its revocation never leaves an ACTIVE membership after a committed removal", async () => {
    const g = await group(alice);
    for (let run = 0; run < 8; run++) {
      await fx.app.memberships.invite(alice, { groupId: g, member: "user:bob", role: "MEMBER", message: "", expireTime: undefined });
      const [answer, revoke] = await Promise.allSettled([
        fx.app.memberships.respond(bob, g, "", true),
        fx.app.memberships.remove(alice, g, "user:bob"),
      ]);
      // The removal always finds something to remove: the invitation or the membership it became.
      expect(revoke.status).toBe("fulfilled");
      if (answer.status === "rejected") expect(String(answer.reason)).toMatch(/has no pending invitation/);
      expect(await fx.db.collection(collectionNames.memberships).countDocuments({ groupId: g, member: "user:bob" })).toBe(0);
      expect(await memberCount(fx.app, g)).toBe(1);
    }
  });
});

describe("join requests", () => {
  it("REQUEST: signup fields are required and kept; approval needs MANAGE above MEMBER", async () => {
    const g = await group(alice, { joinPolicy: "REQUEST", visibility: "AUTHENTICATED", signupFields: ["institution", "department"] });
    await fx.app.memberships.add(alice, g, "user:mgr", "MANAGER");
    const ask = (fields: Record<string, string>) =>
      fx.rpc(bob, "RequestToJoin", { groupId: g }, (o) =>
        fx.app.memberships.requestToJoin(bob, { groupId: g, message: "please", fields }, o),
      );
    expect(await rejection(ask({ institution: "MIT" }))).toBe(`invalid_argument: fields.department: is required by group "${g}"`);
    expect(await rejection(ask({ institution: "MIT", department: "EE", shoe: "9" }))).toBe(
      `invalid_argument: fields.shoe: is not a signup field of group "${g}"`,
    );
    const requested = await ask({ institution: "MIT", department: "EE" });
    expect(requested).toMatchObject({
      status: "REQUESTED",
      role: "MEMBER",
      message: "please",
      fields: { institution: "MIT", department: "EE" },
    });
    expect(await memberCount(fx.app, g)).toBe(2);
    expect(await rejection(ask({ institution: "MIT", department: "EE" }))).toBe(
      `already_exists: user:bob already has a membership of group "${g}" (status REQUESTED)`,
    );
    const mgr = user("mgr");
    expect(
      await rejection(fx.rpc(mgr, "DecideJoinRequest", { groupId: g, member: "user:bob", role: "MANAGER" }, () => Promise.resolve())),
    ).toBe(`permission_denied: permission denied: MANAGE on group ${g} is required to grant role MANAGER`);
    const approved = await fx.rpc(mgr, "DecideJoinRequest", { groupId: g, member: "user:bob", role: "MEMBER" }, (o) =>
      fx.app.memberships.decideJoinRequest(mgr, { groupId: g, member: "user:bob", approve: true, role: undefined }, o),
    );
    expect(approved).toMatchObject({ role: "MEMBER", fields: { institution: "MIT", department: "EE" } });
    expect(approved.status).toBeUndefined();
    expect(await memberCount(fx.app, g)).toBe(3);
    expect(
      await rejection(fx.app.memberships.decideJoinRequest(mgr, { groupId: g, member: "user:bob", approve: false, role: undefined })),
    ).toBe(`not_found: user:bob has no pending join request to group "${g}"`);
  });

  it("OPEN joins at once as MEMBER; CLOSED refuses whoever sees it; a group the caller cannot see is NOT_FOUND", async () => {
    const open = await group(alice, { joinPolicy: "OPEN", visibility: "AUTHENTICATED" });
    const joined = await fx.rpc(bob, "RequestToJoin", { groupId: open }, (o) =>
      fx.app.memberships.requestToJoin(bob, { groupId: open, message: "", fields: {} }, o),
    );
    expect(joined).toMatchObject({ role: "MEMBER" });
    expect(joined.status).toBeUndefined();
    expect(await fx.app.memberships.check(alice, { groupId: open, principal: "user:bob", directOnly: true })).toMatchObject({
      isMember: true,
    });
    const closed = await group(alice, { visibility: "AUTHENTICATED" });
    expect(await rejection(fx.rpc(bob, "RequestToJoin", { groupId: closed }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: group ${closed} does not accept join requests (join_policy CLOSED)`,
    );
    const hidden = await group(alice, { joinPolicy: "REQUEST" });
    expect(await rejection(fx.rpc(bob, "RequestToJoin", { groupId: hidden }, () => Promise.resolve()))).toBe(
      `not_found: group "${hidden}" not found`,
    );
  });
});

describe("an expiry racing a change", () => {
  it("a renewal and a sweep: exactly one wins, and the outcome matches it", async () => {
    for (let run = 0; run < 6; run++) {
      const g = await group(alice);
      await fx.app.memberships.add(alice, g, "user:bob", "MEMBER", {}, T);
      // The renewal runs just before T; the sweeper just after.
      const before = await fx.withDeps({ clock: () => ms(-1) });
      const after = await fx.withDeps({ clock: () => ms(1) });
      const renewed = ms(3_600_000);
      const [renewal, swept] = await Promise.allSettled([
        before.memberships.update(alice, {
          groupId: g,
          member: "user:bob",
          role: "MANAGER",
          expireTime: renewed,
          mask: ["role", "expire_time"],
        }),
        after.expiry.sweep(1000),
      ]);
      const stored = await fx.db.collection(collectionNames.memberships).findOne({ groupId: g, member: "user:bob" });
      if (renewal.status === "fulfilled") {
        // Renewed first: the sweeper re-read it inside its transaction and left it.
        expect(stored).toMatchObject({ role: "MANAGER", expireTime: renewed });
        expect(await memberCount(fx.app, g)).toBe(2);
      } else {
        expect(String(renewal.reason)).toMatch(/is not a member/);
        expect(stored).toBeNull();
        expect(await memberCount(fx.app, g)).toBe(1);
      }
      expect(swept.status).toBe("fulfilled");
    }
  });
});
