/**
 * GroupService through a real gRPC server: every RPC's success path and its
 * validation errors, with exact codes and messages that name the field.
 */
import { describe, expect, it } from "vitest";
import { Permission, Role } from "../../gen/roster/v1/access_pb.ts";
import { GroupState, MemberVisibility, Visibility } from "../../gen/roster/v1/group_pb.ts";
import type { RosterClient } from "../fixtures/roster-grpc-client.ts";
import { expectFailure, useServiceSuite } from "../fixtures/roster-with-user-clients.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

const suite = useServiceSuite("group_service");

// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- deliberately not a Visibility value
const undefinedVisibility: Visibility = Number("9");

async function createGroup(
  client: RosterClient,
  fields: { slug?: string; displayName?: string; parentId?: string; namespace?: string; description?: string } = {},
) {
  const slug = fields.slug ?? uniqueSlug("grp");
  const res = await client.groups.createGroup({ group: { displayName: fields.displayName ?? `Group ${slug}`, ...fields, slug } });
  if (res.group === undefined) throw new Error("no group in CreateGroup response");
  return res.group;
}

describe("CreateGroup", () => {
  it("creates a group with the caller as its first ADMIN", async () => {
    const slug = uniqueSlug("eng");
    const res = await suite.alice.groups.createGroup({
      group: {
        slug,
        displayName: "  Engineering  ",
        description: "Builds things",
        labels: { team: "core" },
        policies: { visibility: Visibility.AUTHENTICATED, memberVisibility: MemberVisibility.MANAGERS },
        // Output-only fields are ignored.
        id: "chosen-by-client",
        memberCount: 42,
        createdBy: "user:mallory",
      },
    });
    const group = res.group;
    expect(group).toBeDefined();
    expect(group?.id).not.toBe("chosen-by-client");
    expect(group?.id).not.toBe("");
    expect(group?.slug).toBe(slug);
    expect(group?.displayName).toBe("Engineering");
    expect(group?.description).toBe("Builds things");
    expect(group?.labels).toEqual({ team: "core" });
    expect(group?.policies?.visibility).toBe(Visibility.AUTHENTICATED);
    expect(group?.policies?.memberVisibility).toBe(MemberVisibility.MANAGERS);
    expect(group?.state).toBe(GroupState.ACTIVE);
    expect(group?.memberCount).toBe(1);
    expect(group?.createdBy).toBe("user:alice");
    expect(group?.updatedBy).toBe("user:alice");
    expect(group?.etag).not.toBe("");
    expect(group?.createTime).toBeDefined();
    expect(group?.deleteTime).toBeUndefined();

    const membership = await suite.alice.memberships.getMembership({ groupId: group?.id ?? "", member: "user:alice" });
    expect(membership.membership?.role).toBe(Role.ADMIN);
  });

  it("defaults policies to PRIVATE / MEMBERS", async () => {
    const group = await createGroup(suite.alice);
    expect(group.policies?.visibility).toBe(Visibility.PRIVATE);
    expect(group.policies?.memberVisibility).toBe(MemberVisibility.MEMBERS);
  });

  it("returns the first group again for a repeated request_id from the same caller", async () => {
    const slug = uniqueSlug("idem");
    const first = await suite.alice.groups.createGroup({ group: { slug, displayName: "Once" }, requestId: `req-${slug}` });
    const again = await suite.alice.groups.createGroup({ group: { slug, displayName: "Once" }, requestId: `req-${slug}` });
    expect(again.group?.id).toBe(first.group?.id);
    // Another caller's identical request_id is a different request: the slug is taken now.
    await expectFailure(
      suite.bob.groups.createGroup({ group: { slug, displayName: "Once" }, requestId: `req-${slug}` }),
      "ALREADY_EXISTS",
      /slug/,
    );
  });

  it("answers a replayed request_id with what GetGroup shows the caller now, and NOT_FOUND once it cannot see the group or it is deleted", async () => {
    const app = suite.roster.server.app;
    const root = { principal: "user:root", isSystemAdmin: true };
    const replay = (slug: string, visibility = Visibility.PRIVATE) =>
      suite.alice.groups.createGroup({ group: { slug, displayName: "Mine", policies: { visibility } }, requestId: `replay-${slug}` });
    const gone = (slug: string) => `the group created by request_id "replay-${slug}" was not found`;

    // Access lost: alice is no longer a member of her PRIVATE group.
    const lost = uniqueSlug("lost");
    const lostGroup = (await replay(lost)).group?.id ?? "";
    await app.memberships.add(root, lostGroup, "user:bob", "ADMIN");
    await app.memberships.remove(root, lostGroup, "user:alice");
    await expectFailure(replay(lost), "NOT_FOUND", gone(lost));

    // Deleted, even though alice, its ADMIN, may still read it with GetGroup.
    const deleted = uniqueSlug("deleted");
    const deletedGroup = (await replay(deleted)).group?.id ?? "";
    await suite.alice.groups.deleteGroup({ id: deletedGroup });
    await expectFailure(replay(deleted), "NOT_FOUND", gone(deleted));

    // Still visible (AUTHENTICATED) without membership: its current state, exactly as GetGroup shows it.
    const open = uniqueSlug("open");
    const openGroup = (await replay(open, Visibility.AUTHENTICATED)).group?.id ?? "";
    await app.memberships.add(root, openGroup, "user:bob", "ADMIN");
    await app.memberships.remove(root, openGroup, "user:alice");
    await suite.bob.groups.updateGroup({
      group: { id: openGroup, displayName: "Renamed by bob" },
      updateMask: { paths: ["display_name"] },
    });
    const replayed = await replay(open, Visibility.AUTHENTICATED);
    expect(replayed.group).toEqual((await suite.alice.groups.getGroup({ id: openGroup })).group);
    expect(replayed.group?.displayName).toBe("Renamed by bob");
  });

  it("creates a child group under a parent the caller may write", async () => {
    const parent = await createGroup(suite.alice);
    const child = await createGroup(suite.alice, { parentId: parent.id });
    expect(child.parentId).toBe(parent.id);
  });

  it.each([
    { name: "missing group", request: {}, message: "group: is required" },
    { name: "missing slug", request: { group: { displayName: "X" } }, message: "group.slug: is required" },
    { name: "bad slug", request: { group: { slug: "Not A Slug", displayName: "X" } }, message: /^group\.slug: must match / },
    { name: "blank display name", request: { group: { slug: "ok-slug", displayName: "   " } }, message: "group.display_name: is required" },
    {
      name: "long display name",
      request: { group: { slug: "ok-slug", displayName: "x".repeat(201) } },
      message: "group.display_name: must be at most 200 characters (got 201)",
    },
    {
      name: "long description",
      request: { group: { slug: "ok-slug", displayName: "X", description: "d".repeat(4097) } },
      message: "group.description: must be at most 4096 characters (got 4097)",
    },
    {
      name: "bad label key",
      request: { group: { slug: "ok-slug", displayName: "X", labels: { "Bad Key": "v" } } },
      message: /^group\.labels: key "Bad Key"/,
    },
    {
      name: "bad namespace",
      request: { group: { slug: "ok-slug", displayName: "X", namespace: "Bad NS" } },
      message: /^group\.namespace: /,
    },
    {
      // An enum number the contract does not define, as an outdated or broken client might send.
      name: "unknown visibility",
      request: { group: { slug: "ok-slug", displayName: "X", policies: { visibility: undefinedVisibility } } },
      message: "group.policies.visibility: unknown visibility 9",
    },
    {
      name: "long request_id",
      request: { group: { slug: "ok-slug", displayName: "X" }, requestId: "r".repeat(129) },
      message: "request_id: must be at most 128 characters (got 129)",
    },
  ])("refuses $name with INVALID_ARGUMENT naming the field", async ({ request, message }) => {
    await expectFailure(suite.alice.groups.createGroup(request), "INVALID_ARGUMENT", message);
  });

  it("refuses a live slug of the same namespace with ALREADY_EXISTS, but allows it in another namespace", async () => {
    const slug = uniqueSlug("dup");
    await createGroup(suite.alice, { slug });
    await expectFailure(suite.alice.groups.createGroup({ group: { slug, displayName: "Again" } }), "ALREADY_EXISTS", /slug/);
    const other = await createGroup(suite.alice, { slug, namespace: "other-ns" });
    expect(other.namespace).toBe("other-ns");
  });

  it("answers NOT_FOUND for a parent that does not exist", async () => {
    await expectFailure(
      suite.alice.groups.createGroup({ group: { slug: uniqueSlug("orphan"), displayName: "X", parentId: "no-such-group" } }),
      "NOT_FOUND",
      'group "no-such-group" not found',
    );
  });
});

describe("GetGroup", () => {
  it("returns a group by id with what the caller may do", async () => {
    const group = await createGroup(suite.alice);
    const res = await suite.alice.groups.getGroup({ id: group.id });
    expect(res.group?.id).toBe(group.id);
    expect(res.callerAccess?.role).toBe(Role.ADMIN);
    expect(res.callerAccess?.effectivePermission).toBe(Permission.MANAGE);
    expect(res.callerAccess?.permissions).toEqual(expect.arrayContaining(["group.read", "group.set_acl", "members.manage_roles"]));
  });

  it("returns a group by namespace and slug, with the caller's lesser access", async () => {
    const slug = uniqueSlug("byslug");
    const group = await createGroup(suite.alice, { slug, namespace: "acme" });
    await suite.alice.memberships.addMember({ groupId: group.id, member: "user:bob", role: Role.MEMBER });
    const res = await suite.bob.groups.getGroup({ namespace: "acme", slug });
    expect(res.group?.id).toBe(group.id);
    expect(res.callerAccess?.role).toBe(Role.MEMBER);
    expect(res.callerAccess?.effectivePermission).toBe(Permission.READ);
    expect(res.callerAccess?.permissions).toContain("group.read");
    expect(res.callerAccess?.permissions).not.toContain("group.update");
  });

  it("shows AUTHENTICATED groups to everyone, without membership", async () => {
    const group = (
      await suite.alice.groups.createGroup({
        group: { slug: uniqueSlug("open"), displayName: "Open", policies: { visibility: Visibility.AUTHENTICATED } },
      })
    ).group;
    const res = await suite.bob.groups.getGroup({ id: group?.id ?? "" });
    expect(res.callerAccess?.role).toBe(Role.UNSPECIFIED);
    expect(res.callerAccess?.effectivePermission).toBe(Permission.UNSPECIFIED);
    expect(res.callerAccess?.permissions).toEqual(["group.read"]);
  });

  it("refuses an empty request, and answers NOT_FOUND for unknown ids and slugs", async () => {
    await expectFailure(suite.alice.groups.getGroup({}), "INVALID_ARGUMENT", "id: is required (or namespace and slug)");
    await expectFailure(suite.alice.groups.getGroup({ id: "missing-id" }), "NOT_FOUND", 'group "missing-id" not found');
    await expectFailure(
      suite.alice.groups.getGroup({ namespace: "acme", slug: "no-such-slug" }),
      "NOT_FOUND",
      'group "acme/no-such-slug" not found',
    );
    await expectFailure(suite.alice.groups.getGroup({ id: "has space" }), "INVALID_ARGUMENT", /^id: /);
  });
});

describe("BatchGetGroups", () => {
  it("returns visible groups in request order and reports missing and invisible ids alike", async () => {
    const a = await createGroup(suite.alice);
    const b = await createGroup(suite.alice);
    const hidden = await createGroup(suite.bob);
    const res = await suite.alice.groups.batchGetGroups({ ids: [b.id, "nope", hidden.id, a.id, b.id] });
    expect(res.groups.map((g) => g.id)).toEqual([b.id, a.id]);
    expect(res.missingIds).toEqual(["nope", hidden.id]);
  });

  it("refuses no ids and more than 100", async () => {
    await expectFailure(suite.alice.groups.batchGetGroups({ ids: [] }), "INVALID_ARGUMENT", "ids: must have 1-100 entries (got 0)");
    const ids = Array.from({ length: 101 }, (_, i) => `id${i}`);
    await expectFailure(suite.alice.groups.batchGetGroups({ ids }), "INVALID_ARGUMENT", "ids: must have 1-100 entries (got 101)");
    await expectFailure(suite.alice.groups.batchGetGroups({ ids: ["ok", ""] }), "INVALID_ARGUMENT", "ids[1]: is required");
  });
});

describe("ListGroups", () => {
  it("lists only readable groups, filtered by namespace, parent and query, ordered and paged", async () => {
    const ns = uniqueSlug("list");
    const names = ["Delta", "alpha", "Charlie", "bravo"];
    for (const name of names) await createGroup(suite.alice, { namespace: ns, displayName: name, description: `the ${name} team` });
    await createGroup(suite.bob, { namespace: ns, displayName: "Bob's secret" });

    const all = await suite.alice.groups.listGroups({ namespace: ns });
    // display_name order is case-insensitive.
    expect(all.groups.map((g) => g.displayName)).toEqual(["alpha", "bravo", "Charlie", "Delta"]);
    expect(all.totalSize).toBe(4);

    const desc = await suite.alice.groups.listGroups({ namespace: ns, orderBy: "display_name desc" });
    expect(desc.groups.map((g) => g.displayName)).toEqual([...all.groups.map((g) => g.displayName)].reverse());

    const byQuery = await suite.alice.groups.listGroups({ namespace: ns, query: "CHARLIE" });
    expect(byQuery.groups.map((g) => g.displayName)).toEqual(["Charlie"]);
    const byDescription = await suite.alice.groups.listGroups({ namespace: ns, query: "the delta" });
    expect(byDescription.groups.map((g) => g.displayName)).toEqual(["Delta"]);

    const page1 = await suite.alice.groups.listGroups({ namespace: ns, pageSize: 3 });
    expect(page1.groups).toHaveLength(3);
    expect(page1.nextPageToken).not.toBe("");
    const page2 = await suite.alice.groups.listGroups({ namespace: ns, pageSize: 3, pageToken: page1.nextPageToken });
    expect(page2.groups).toHaveLength(1);
    expect(page2.nextPageToken).toBe("");
    expect([...page1.groups, ...page2.groups].map((g) => g.id)).toEqual(all.groups.map((g) => g.id));

    const bobs = await suite.bob.groups.listGroups({ namespace: ns });
    expect(bobs.groups.map((g) => g.displayName)).toEqual(["Bob's secret"]);
  });

  it('lists the children of a parent, and top-level groups with parent_id ""', async () => {
    const ns = uniqueSlug("tree");
    const parent = await createGroup(suite.alice, { namespace: ns });
    const child = await createGroup(suite.alice, { namespace: ns, parentId: parent.id });
    const children = await suite.alice.groups.listGroups({ namespace: ns, parentId: parent.id });
    expect(children.groups.map((g) => g.id)).toEqual([child.id]);
    const top = await suite.alice.groups.listGroups({ namespace: ns, parentId: "" });
    expect(top.groups.map((g) => g.id)).toEqual([parent.id]);
  });

  it.each([
    { name: "negative page_size", request: { pageSize: -1 }, message: "page_size: must not be negative" },
    {
      name: "unknown order_by",
      request: { orderBy: "slug" },
      message: 'order_by: must be "display_name" or "create_time", optionally followed by " desc"',
    },
    { name: "garbage page_token", request: { pageToken: "garbage" }, message: "page_token: is not a valid page token" },
    { name: "long query", request: { query: "q".repeat(201) }, message: "query: must be at most 200 characters (got 201)" },
  ])("refuses $name with INVALID_ARGUMENT naming the field", async ({ request, message }) => {
    await expectFailure(suite.alice.groups.listGroups(request), "INVALID_ARGUMENT", message);
  });

  it("refuses a page token reused with different request fields", async () => {
    const ns = uniqueSlug("tok");
    for (let i = 0; i < 3; i++) await createGroup(suite.alice, { namespace: ns });
    const page = await suite.alice.groups.listGroups({ namespace: ns, pageSize: 1 });
    await expectFailure(
      suite.alice.groups.listGroups({ namespace: ns, pageSize: 1, pageToken: page.nextPageToken, query: "x" }),
      "INVALID_ARGUMENT",
      /^page_token: /,
    );
  });
});

describe("UpdateGroup", () => {
  it("changes only the masked fields and a new etag", async () => {
    const group = await createGroup(suite.alice, { description: "keep me" });
    const res = await suite.alice.groups.updateGroup({
      group: { id: group.id, displayName: "Renamed", description: "ignored", labels: { a: "b" } },
      updateMask: { paths: ["display_name", "labels"] },
    });
    expect(res.group?.displayName).toBe("Renamed");
    expect(res.group?.labels).toEqual({ a: "b" });
    expect(res.group?.description).toBe("keep me");
    expect(res.group?.etag).not.toBe(group.etag);
    expect(res.group?.updatedBy).toBe("user:alice");
  });

  it("replaces every mutable field without a mask", async () => {
    const group = await createGroup(suite.alice, { description: "old" });
    const res = await suite.alice.groups.updateGroup({ group: { id: group.id, displayName: "Whole" } });
    expect(res.group?.displayName).toBe("Whole");
    expect(res.group?.description).toBe("");
    expect(res.group?.slug).toBe(group.slug);
  });

  it("answers ABORTED for a stale etag", async () => {
    const group = await createGroup(suite.alice);
    await suite.alice.groups.updateGroup({
      group: { id: group.id, displayName: "First" },
      updateMask: { paths: ["display_name"] },
      etag: group.etag,
    });
    await expectFailure(
      suite.alice.groups.updateGroup({
        group: { id: group.id, displayName: "Second" },
        updateMask: { paths: ["display_name"] },
        etag: group.etag,
      }),
      "ABORTED",
      /etag/,
    );
  });

  it("refuses unknown mask paths, a missing group and invalid values", async () => {
    const group = await createGroup(suite.alice);
    await expectFailure(
      suite.alice.groups.updateGroup({ group: { id: group.id, slug: "new" }, updateMask: { paths: ["slug"] } }),
      "INVALID_ARGUMENT",
      "update_mask: unknown field 'slug'",
    );
    await expectFailure(suite.alice.groups.updateGroup({}), "INVALID_ARGUMENT", "group: is required");
    await expectFailure(
      suite.alice.groups.updateGroup({ group: { id: group.id, displayName: "" }, updateMask: { paths: ["display_name"] } }),
      "INVALID_ARGUMENT",
      "group.display_name: is required",
    );
    await expectFailure(suite.alice.groups.updateGroup({ group: { displayName: "x" } }), "INVALID_ARGUMENT", "group.id: is required");
  });

  it("needs MANAGE to change policies: a manager may rename but not open the group", async () => {
    const group = await createGroup(suite.alice);
    await suite.alice.memberships.addMember({ groupId: group.id, member: "user:bob", role: Role.MANAGER });
    await suite.bob.groups.updateGroup({ group: { id: group.id, displayName: "By manager" }, updateMask: { paths: ["display_name"] } });
    await expectFailure(
      suite.bob.groups.updateGroup({
        group: { id: group.id, policies: { visibility: Visibility.AUTHENTICATED } },
        updateMask: { paths: ["policies.visibility"] },
      }),
      "PERMISSION_DENIED",
      /^permission denied: MANAGE on group \S+ is required to change group\.policies/,
    );
  });

  it("decides MANAGE-only changes on the version it writes: a manager's full replace cannot undo a concurrent policy change", async () => {
    const group = await createGroup(suite.alice, { description: "before" });
    await suite.alice.memberships.addMember({ groupId: group.id, member: "user:bob", role: Role.MANAGER });
    // bob read the group while it was PRIVATE and replaces every field with
    // what he read plus a new description: no MANAGE-only change, on that version.
    const replace = {
      group: {
        id: group.id,
        displayName: group.displayName,
        description: "by bob",
        policies: { visibility: Visibility.PRIVATE, memberVisibility: MemberVisibility.MEMBERS },
      },
    };
    // Deterministic race: right after the pipeline's authorization step read
    // the group for bob's call, alice's policy change commits.
    const app = suite.roster.server.app;
    const authorize = app.access.authorize.bind(app.access);
    let raced = false;
    app.access.authorize = async (caller, rule, target, options) => {
      await authorize(caller, rule, target, options);
      if (!raced && caller.principal === "user:bob" && target.groupId === group.id) {
        raced = true;
        await suite.alice.groups.updateGroup({
          group: { id: group.id, policies: { visibility: Visibility.AUTHENTICATED } },
          updateMask: { paths: ["policies.visibility"] },
        });
      }
    };
    try {
      await expectFailure(
        suite.bob.groups.updateGroup(replace),
        "PERMISSION_DENIED",
        `permission denied: MANAGE on group ${group.id} is required to change group.policies`,
      );
    } finally {
      app.access.authorize = authorize;
    }
    expect(raced).toBe(true);
    const after = await suite.alice.groups.getGroup({ id: group.id });
    expect(after.group?.policies?.visibility).toBe(Visibility.AUTHENTICATED);
    expect(after.group?.description).toBe("before");
  });
});

describe("DeleteGroup and UndeleteGroup", () => {
  it("soft-deletes, hides from lists, frees the slug, and undeletes", async () => {
    const ns = uniqueSlug("del");
    const slug = uniqueSlug("gone");
    const group = await createGroup(suite.alice, { namespace: ns, slug });
    const deleted = await suite.alice.groups.deleteGroup({ id: group.id, etag: group.etag });
    expect(deleted.group?.state).toBe(GroupState.DELETED);
    expect(deleted.group?.deleteTime).toBeDefined();

    expect((await suite.alice.groups.listGroups({ namespace: ns })).groups).toHaveLength(0);
    const withDeleted = await suite.alice.groups.listGroups({ namespace: ns, showDeleted: true });
    expect(withDeleted.groups.map((g) => g.id)).toEqual([group.id]);

    const restored = await suite.alice.groups.undeleteGroup({ id: group.id });
    expect(restored.group?.state).toBe(GroupState.ACTIVE);
    expect(restored.group?.deleteTime).toBeUndefined();
  });

  it("refuses to undelete when the slug was taken meanwhile (ALREADY_EXISTS)", async () => {
    const slug = uniqueSlug("reuse");
    const group = await createGroup(suite.alice, { slug });
    await suite.alice.groups.deleteGroup({ id: group.id });
    await createGroup(suite.alice, { slug });
    await expectFailure(suite.alice.groups.undeleteGroup({ id: group.id }), "ALREADY_EXISTS", /slug/);
  });

  it("refuses a group with live children (FAILED_PRECONDITION) and a stale etag (ABORTED)", async () => {
    const parent = await createGroup(suite.alice);
    await createGroup(suite.alice, { parentId: parent.id });
    await expectFailure(suite.alice.groups.deleteGroup({ id: parent.id }), "FAILED_PRECONDITION", /child/);
    const lone = await createGroup(suite.alice);
    await suite.alice.groups.updateGroup({ group: { id: lone.id, displayName: "changed" }, updateMask: { paths: ["display_name"] } });
    await expectFailure(suite.alice.groups.deleteGroup({ id: lone.id, etag: lone.etag }), "ABORTED", /etag/);
  });

  it("refuses an empty id and undeleting a live group", async () => {
    await expectFailure(suite.alice.groups.deleteGroup({}), "INVALID_ARGUMENT", "id: is required");
    await expectFailure(suite.alice.groups.undeleteGroup({}), "INVALID_ARGUMENT", "id: is required");
    const live = await createGroup(suite.alice);
    await expectFailure(suite.alice.groups.undeleteGroup({ id: live.id }), "FAILED_PRECONDITION", /not deleted/);
  });
});

describe("GetGroupAcl and SetGroupAcl", () => {
  it("replaces the ACL, returns it sorted by principal with a new etag, and the grant takes effect", async () => {
    const group = await createGroup(suite.alice);
    await expectFailure(suite.bob.groups.getGroup({ id: group.id }), "NOT_FOUND", `group "${group.id}" not found`);
    const before = await suite.alice.groups.getGroupAcl({ groupId: group.id });
    expect(before.entries).toEqual([]);
    const set = await suite.alice.groups.setGroupAcl({
      groupId: group.id,
      etag: before.etag,
      entries: [
        { principal: "user:zed", permission: Permission.MANAGE },
        { principal: "user:bob", permission: Permission.READ },
      ],
    });
    expect(set.entries.map((e) => [e.principal, e.permission])).toEqual([
      ["user:bob", Permission.READ],
      ["user:zed", Permission.MANAGE],
    ]);
    expect(set.etag).not.toBe(before.etag);
    const after = await suite.alice.groups.getGroupAcl({ groupId: group.id });
    expect(after.entries.map((e) => e.principal)).toEqual(["user:bob", "user:zed"]);
    expect(after.etag).toBe(set.etag);
    const seen = await suite.bob.groups.getGroup({ id: group.id });
    expect(seen.callerAccess?.effectivePermission).toBe(Permission.READ);
  });

  it("refuses entries without a permission, bad principals and duplicates; ABORTED for a stale etag", async () => {
    const group = await createGroup(suite.alice);
    await expectFailure(
      suite.alice.groups.setGroupAcl({ groupId: group.id, entries: [{ principal: "user:bob" }] }),
      "INVALID_ARGUMENT",
      "entries[0].permission: must be PERMISSION_READ, PERMISSION_WRITE or PERMISSION_MANAGE",
    );
    await expectFailure(
      suite.alice.groups.setGroupAcl({ groupId: group.id, entries: [{ principal: "bob", permission: Permission.READ }] }),
      "INVALID_ARGUMENT",
      /^entries\[0\]\.principal: /,
    );
    await expectFailure(
      suite.alice.groups.setGroupAcl({
        groupId: group.id,
        entries: [
          { principal: "user:bob", permission: Permission.READ },
          { principal: "user:bob", permission: Permission.WRITE },
        ],
      }),
      "INVALID_ARGUMENT",
      /^entries\[1\]\.principal: duplicate principal "user:bob"/,
    );
    await expectFailure(suite.alice.groups.setGroupAcl({ groupId: group.id, entries: [], etag: "stale" }), "ABORTED", /etag/);
    await expectFailure(suite.alice.groups.getGroupAcl({}), "INVALID_ARGUMENT", "group_id: is required");
  });
});
