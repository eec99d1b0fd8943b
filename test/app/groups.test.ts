/**
 * GroupService use cases end to end over the real store, called the way the
 * RPC pipeline calls them (authorize with the declared rule, then the use
 * case), without any transport.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupValues } from "../../src/app/index.ts";
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

const updateRule = accessRules.UpdateGroup;

let fx: AppFixture;
beforeAll(async () => {
  fx = await startAppFixture("app_groups");
});
afterAll(async () => {
  await fx.stop();
});

const alice = user("alice");
const bob = user("bob");
const carol = user("carol");

function valuesOf(group: GroupValues): GroupValues {
  return {
    displayName: group.displayName,
    description: group.description,
    parentId: group.parentId,
    labels: group.labels,
    visibility: group.visibility,
    memberVisibility: group.memberVisibility,
  };
}

describe("CreateGroup and GetGroup", () => {
  it("makes the caller the first ADMIN with member_count 1 and returns the stored values", async () => {
    const group = await createGroup(
      fx,
      alice,
      groupInput("create-basic", { displayName: "  Create Basic  ", description: "d", labels: { "team.name": "x" } }),
    );
    expect(group).toMatchObject({
      namespace: "",
      slug: "create-basic",
      displayName: "Create Basic",
      description: "d",
      labels: { "team.name": "x" },
      state: "ACTIVE",
      memberCount: 1,
      createdBy: "user:alice",
      updatedBy: "user:alice",
    });
    expect(group.id).toMatch(/^[a-z2-7]{16}$/);
    const got = await fx.rpc(alice, "GetGroup", { groupId: group.id }, (o) => fx.app.groups.get(alice, { id: group.id }, o));
    expect(got.group).toEqual(group);
    expect(got.access.role).toBe("ADMIN");
    expect(got.access.effectivePermission).toBe("MANAGE");
    expect(got.access.permissions).toContain("members.manage_roles");
    const membership = await fx.app.memberships.get(alice, group.id, "user:alice");
    expect(membership.role).toBe("ADMIN");
  });

  it("finds a group by namespace and slug, and only its live one", async () => {
    const group = await createGroup(fx, alice, groupInput("by-slug", { namespace: "org1" }));
    const got = await fx.rpc(alice, "GetGroup", { groupId: "", namespace: "org1", slug: "by-slug" }, (o) =>
      fx.app.groups.get(alice, { namespace: "org1", slug: "by-slug" }, o),
    );
    expect(got.group.id).toBe(group.id);
    expect(await rejection(fx.rpc(alice, "GetGroup", { groupId: "", namespace: "org2", slug: "by-slug" }, () => Promise.resolve()))).toBe(
      'not_found: group "org2/by-slug" not found',
    );
  });

  it("refuses a live slug twice in a namespace but allows it in another namespace", async () => {
    await createGroup(fx, alice, groupInput("twice"));
    expect(await rejection(createGroup(fx, bob, groupInput("twice")))).toBe(
      'already_exists: a live group with slug "twice" already exists in the global namespace',
    );
    const other = await createGroup(fx, bob, groupInput("twice", { namespace: "elsewhere" }));
    expect(other.namespace).toBe("elsewhere");
  });

  it("names the invalid field", async () => {
    expect(await rejection(createGroup(fx, alice, groupInput("Bad_Slug")))).toBe(
      "invalid_argument: group.slug: must match ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    );
    expect(await rejection(createGroup(fx, alice, groupInput("ok-slug", { displayName: "   " })))).toBe(
      "invalid_argument: group.display_name: is required",
    );
    expect(await rejection(fx.app.groups.create(alice, groupInput("rid"), "x".repeat(129)))).toBe(
      "invalid_argument: request_id: must be at most 128 characters (got 129)",
    );
  });

  it("a missing group and an invisible one are the same NOT_FOUND", async () => {
    const hidden = await createGroup(fx, alice, groupInput("hidden"));
    const missing = "aaaaaaaaaaaaaaaa";
    expect(await rejection(fx.rpc(bob, "GetGroup", { groupId: hidden.id }, () => Promise.resolve()))).toBe(
      `not_found: group "${hidden.id}" not found`,
    );
    expect(await rejection(fx.rpc(bob, "GetGroup", { groupId: missing }, () => Promise.resolve()))).toBe(
      `not_found: group "${missing}" not found`,
    );
    // The use case itself never leaks an invisible group either.
    expect(await rejection(fx.app.groups.get(bob, { id: hidden.id }))).toBe(`not_found: group "${hidden.id}" not found`);
  });
});

describe("request_id idempotency", () => {
  it("returns the first group for a repeated request from the same caller, a new one for another caller", async () => {
    const first = await createGroup(fx, alice, groupInput("idem-1"), "req-1");
    const again = await createGroup(fx, alice, groupInput("idem-1"), "req-1");
    expect(again.id).toBe(first.id);
    const otherCaller = await rejection(createGroup(fx, bob, groupInput("idem-1"), "req-1"));
    expect(otherCaller).toBe('already_exists: a live group with slug "idem-1" already exists in the global namespace');
    const bobs = await createGroup(fx, bob, groupInput("idem-1b"), "req-1");
    expect(bobs.id).not.toBe(first.id);
  });

  it("creates exactly one group when the same request races with itself", async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => fx.app.groups.create(carol, groupInput("idem-race"), "race-1")));
    const ids = new Set(results.map((group) => group.id));
    expect(ids.size).toBe(1);
    const listed = await fx.app.groups.list(carol, {
      namespace: "",
      parentId: undefined,
      query: "idem-race",
      showDeleted: false,
      pageSize: 0,
      pageToken: "",
      orderBy: "",
    });
    expect(listed.groups.map((group) => group.id)).toEqual([...ids]);
    expect(listed.groups[0]?.memberCount).toBe(1);
  });
});

describe("UpdateGroup", () => {
  it("with a mask changes only the named fields and gives a new etag", async () => {
    const group = await createGroup(fx, alice, groupInput("upd-mask", { description: "keep", labels: { a: "1" } }));
    const update = {
      id: group.id,
      values: { ...valuesOf(group), displayName: "Renamed", description: "ignored", labels: { b: "2" } },
      mask: ["display_name", "labels"],
      etag: group.etag,
    };
    const updated = await fx.rpc(alice, "UpdateGroup", { groupId: group.id, update }, (o) =>
      fx.app.groups.update(alice, update, updateRule, o),
    );
    expect(updated).toMatchObject({ displayName: "Renamed", description: "keep", labels: { b: "2" } });
    expect(updated.etag).not.toBe(group.etag);
    expect(updated.updateTime.getTime()).toBeGreaterThanOrEqual(group.updateTime.getTime());
  });

  it("without a mask replaces every mutable field", async () => {
    const group = await createGroup(fx, alice, groupInput("upd-all", { description: "old", labels: { a: "1" } }));
    const update = {
      id: group.id,
      values: { ...valuesOf(group), displayName: "All", description: "", labels: {}, visibility: "AUTHENTICATED" as const },
      mask: undefined,
      etag: "",
    };
    const updated = await fx.rpc(alice, "UpdateGroup", { groupId: group.id, update }, (o) =>
      fx.app.groups.update(alice, update, updateRule, o),
    );
    expect(updated).toMatchObject({ displayName: "All", description: "", labels: {}, visibility: "AUTHENTICATED" });
  });

  it("refuses a stale etag with ABORTED and an unknown mask path with INVALID_ARGUMENT", async () => {
    const group = await createGroup(fx, alice, groupInput("upd-etag"));
    const first = { id: group.id, values: { ...valuesOf(group), description: "one" }, mask: ["description"], etag: group.etag };
    await fx.app.groups.update(alice, first, updateRule, {});
    const stale = { ...first, values: { ...first.values, description: "two" } };
    expect(await rejection(fx.app.groups.update(alice, stale, updateRule))).toBe(
      `aborted: the etag of group "${group.id}" does not match: it changed since it was read`,
    );
    expect(await rejection(fx.app.groups.update(alice, { ...first, mask: ["slug"], etag: "" }, updateRule))).toMatch(
      /^invalid_argument: update_mask: unknown or immutable field "slug"/,
    );
  });

  it("needs MANAGE to change policies: a MANAGER may rename but not change visibility", async () => {
    const group = await createGroup(fx, alice, groupInput("upd-policy"));
    await addMember(fx, alice, group.id, "user:bob", "MANAGER");
    const rename = { id: group.id, values: { ...valuesOf(group), displayName: "By Bob" }, mask: ["display_name"], etag: "" };
    await fx.rpc(bob, "UpdateGroup", { groupId: group.id, update: rename }, (o) => fx.app.groups.update(bob, rename, updateRule, o));
    const policy = { id: group.id, values: { ...valuesOf(group), visibility: "AUTHENTICATED" as const }, mask: ["policies"], etag: "" };
    expect(
      await rejection(
        fx.rpc(bob, "UpdateGroup", { groupId: group.id, update: policy }, (o) => fx.app.groups.update(bob, policy, updateRule, o)),
      ),
    ).toBe(`permission_denied: permission denied: MANAGE on group ${group.id} is required to change group.policies`);
  });
});

describe("parent groups", () => {
  it("refuses a parent_id that would make a group its own ancestor, naming the cycle", async () => {
    const a = await createGroup(fx, alice, groupInput("pc-a"));
    const b = await createGroup(fx, alice, groupInput("pc-b", { parentId: a.id }));
    const c = await createGroup(fx, alice, groupInput("pc-c", { parentId: b.id }));
    const update = { id: a.id, values: { ...valuesOf(a), parentId: c.id }, mask: ["parent_id"], etag: "" };
    expect(await rejection(fx.app.groups.update(alice, update, updateRule))).toBe(
      `failed_precondition: setting parent_id of group "${a.id}" to "${c.id}" would close the cycle ${a.id} → ${b.id} → ${c.id} → ${a.id}`,
    );
  });

  it("moves a subtree and keeps MANAGE flowing from the new ancestors", async () => {
    const oldRoot = await createGroup(fx, alice, groupInput("mv-old"));
    const newRoot = await createGroup(fx, bob, groupInput("mv-new"));
    await addMember(fx, bob, newRoot.id, "user:alice", "MANAGER"); // WRITE on the new parent
    const moved = await createGroup(fx, alice, groupInput("mv-moved", { parentId: oldRoot.id }));
    const leaf = await createGroup(fx, alice, groupInput("mv-leaf", { parentId: moved.id }));
    expect(await rejection(fx.app.groups.get(bob, { id: leaf.id }))).toBe(`not_found: group "${leaf.id}" not found`);
    const update = { id: moved.id, values: { ...valuesOf(moved), parentId: newRoot.id }, mask: ["parent_id"], etag: "" };
    await fx.rpc(alice, "UpdateGroup", { groupId: moved.id, update }, (o) => fx.app.groups.update(alice, update, updateRule, o));
    // bob administers the new root only, yet manages the moved leaf through the new chain.
    const seen = await fx.app.groups.get(bob, { id: leaf.id });
    expect(seen.access.effectivePermission).toBe("MANAGE");
    expect(seen.access.role).toBeUndefined();
  });

  it("refuses a parent where the caller lacks WRITE", async () => {
    const mine = await createGroup(fx, alice, groupInput("np-mine"));
    const theirs = await createGroup(fx, carol, groupInput("np-theirs", { visibility: "AUTHENTICATED" }));
    const update = { id: mine.id, values: { ...valuesOf(mine), parentId: theirs.id }, mask: ["parent_id"], etag: "" };
    expect(await rejection(fx.app.groups.update(alice, update, updateRule))).toBe(
      `permission_denied: permission denied: WRITE on group ${theirs.id} is required to move group ${mine.id} under it`,
    );
  });

  it("refuses a parent chain deeper than 32", async () => {
    let parent = await createGroup(fx, alice, groupInput("deep-0"));
    for (let level = 1; level <= 32; level++) {
      parent = await fx.app.groups.create(alice, groupInput(`deep-${level}`, { parentId: parent.id }), "");
    }
    expect(await rejection(fx.app.groups.create(alice, groupInput("deep-33", { parentId: parent.id }), ""))).toBe(
      `failed_precondition: group "${parent.id}" is already 32 levels deep; a child would exceed the limit of 32`,
    );
  });
});

describe("DeleteGroup and UndeleteGroup", () => {
  it("refuses to delete a group with live children, then deletes once they are gone", async () => {
    const parent = await createGroup(fx, alice, groupInput("del-parent"));
    const child = await createGroup(fx, alice, groupInput("del-child", { parentId: parent.id }));
    expect(
      await rejection(fx.rpc(alice, "DeleteGroup", { groupId: parent.id }, (o) => fx.app.groups.delete(alice, parent.id, "", o))),
    ).toBe(`failed_precondition: group "${parent.id}" has 1 live child group; delete them first`);
    await fx.app.groups.delete(alice, child.id, child.etag);
    const deleted = await fx.app.groups.delete(alice, parent.id, "");
    expect(deleted.state).toBe("DELETED");
    expect(deleted.deleteTime).toBeInstanceOf(Date);
  });

  it("checks the etag on delete", async () => {
    const group = await createGroup(fx, alice, groupInput("del-etag"));
    expect(await rejection(fx.app.groups.delete(alice, group.id, "stale"))).toBe(
      `aborted: the etag of group "${group.id}" does not match: it changed since it was read`,
    );
  });

  it("frees the slug; undelete is ALREADY_EXISTS while it is taken, and works once it is free", async () => {
    const original = await createGroup(fx, alice, groupInput("reuse"));
    await fx.app.groups.delete(alice, original.id, "");
    const replacement = await createGroup(fx, bob, groupInput("reuse"));
    expect(
      await rejection(fx.rpc(alice, "UndeleteGroup", { groupId: original.id }, (o) => fx.app.groups.undelete(alice, original.id, o))),
    ).toBe('already_exists: a live group with slug "reuse" already exists in the global namespace');
    await fx.app.groups.delete(bob, replacement.id, "");
    const restored = await fx.rpc(alice, "UndeleteGroup", { groupId: original.id }, (o) => fx.app.groups.undelete(alice, original.id, o));
    expect(restored.state).toBe("ACTIVE");
    expect(restored.deleteTime).toBeUndefined();
    expect(await rejection(fx.app.groups.undelete(alice, original.id))).toBe(`failed_precondition: group "${original.id}" is not deleted`);
  });

  it("hides a deleted group from non-managers, shows it to its ADMIN, and refuses changes to it", async () => {
    const group = await createGroup(fx, alice, groupInput("del-vis", { visibility: "AUTHENTICATED" }));
    await addMember(fx, alice, group.id, "user:bob");
    await fx.app.groups.delete(alice, group.id, "");
    expect(await rejection(fx.rpc(bob, "GetGroup", { groupId: group.id }, () => Promise.resolve()))).toBe(
      `not_found: group "${group.id}" not found`,
    );
    expect(await rejection(fx.rpc(carol, "GetGroup", { groupId: group.id }, () => Promise.resolve()))).toBe(
      `not_found: group "${group.id}" not found`,
    );
    const seen = await fx.rpc(alice, "GetGroup", { groupId: group.id }, (o) => fx.app.groups.get(alice, { id: group.id }, o));
    expect(seen.group.state).toBe("DELETED");
    expect(seen.access.permissions).toEqual(["group.read", "group.undelete"]);
    expect(await rejection(fx.app.memberships.add(alice, group.id, "user:dave", "MEMBER"))).toBe(
      `failed_precondition: group "${group.id}" is deleted`,
    );
  });

  it("refuses to undelete a child whose parent is deleted", async () => {
    const parent = await createGroup(fx, alice, groupInput("ud-parent"));
    const child = await createGroup(fx, alice, groupInput("ud-child", { parentId: parent.id }));
    await fx.app.groups.delete(alice, child.id, "");
    await fx.app.groups.delete(alice, parent.id, "");
    expect(await rejection(fx.app.groups.undelete(alice, child.id))).toBe(
      `failed_precondition: the parent of group "${child.id}" is deleted; undelete the parent first`,
    );
  });
});

describe("ACL", () => {
  it("stores entries sorted, bumps the etag, and refuses a stale etag", async () => {
    const group = await createGroup(fx, alice, groupInput("acl-basic"));
    const before = await fx.rpc(alice, "GetGroupAcl", { groupId: group.id }, (o) => fx.app.groups.getAcl(alice, group.id, o));
    expect(before).toEqual({ entries: [], etag: group.etag });
    const set = await fx.rpc(alice, "SetGroupAcl", { groupId: group.id }, (o) =>
      fx.app.groups.setAcl(
        alice,
        group.id,
        [
          { principal: "user:zed", permission: "READ" },
          { principal: "service:bot", permission: "WRITE" },
        ],
        before.etag,
        o,
      ),
    );
    expect(set.entries).toEqual([
      { principal: "service:bot", permission: "WRITE" },
      { principal: "user:zed", permission: "READ" },
    ]);
    expect(set.etag).not.toBe(before.etag);
    expect(await rejection(fx.app.groups.setAcl(alice, group.id, [], before.etag))).toBe(
      `aborted: the etag of group "${group.id}" does not match: it changed since it was read`,
    );
    expect(await rejection(fx.app.groups.setAcl(alice, group.id, [{ principal: "user:x", permission: "NONE" }], ""))).toBe(
      "invalid_argument: entries[0].permission: must be READ, WRITE or MANAGE",
    );
  });

  it("a MANAGER cannot read or set the ACL", async () => {
    const group = await createGroup(fx, alice, groupInput("acl-manager"));
    await addMember(fx, alice, group.id, "user:bob", "MANAGER");
    expect(await rejection(fx.rpc(bob, "GetGroupAcl", { groupId: group.id }, () => Promise.resolve()))).toBe(
      `permission_denied: permission denied: MANAGE on group ${group.id} is required`,
    );
  });
});

describe("BatchGetGroups", () => {
  it("returns visible groups in request order and reports missing and invisible ids alike", async () => {
    const mine = await createGroup(fx, alice, groupInput("bg-mine"));
    const open = await createGroup(fx, carol, groupInput("bg-open", { visibility: "AUTHENTICATED" }));
    const closed = await createGroup(fx, carol, groupInput("bg-closed"));
    const result = await fx.app.groups.batchGet(alice, [open.id, "nosuchgroup00000", closed.id, mine.id, open.id]);
    expect(result.groups.map((group) => group.id)).toEqual([open.id, mine.id]);
    expect(result.missingIds).toEqual(["nosuchgroup00000", closed.id]);
    const everything = await fx.app.groups.batchGet(systemAdmin, [closed.id]);
    expect(everything.groups.map((group) => group.id)).toEqual([closed.id]);
    expect(await rejection(fx.app.groups.batchGet(alice, []))).toBe("invalid_argument: ids: must have 1-100 entries (got 0)");
  });
});
