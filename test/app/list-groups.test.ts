/**
 * ListGroups: visibility computed in the query agrees with GetGroup's
 * per-group decision, search and ordering, and keyset pagination that stays
 * exact while another task inserts and deletes groups.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListGroupsQuery } from "../../src/app/index.ts";
import type { Caller, GroupRecord } from "../../src/domain/model.ts";
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
  fx = await startAppFixture("app_list");
});
afterAll(async () => {
  await fx.stop();
});

function query(overrides: Partial<ListGroupsQuery>): ListGroupsQuery {
  return {
    namespace: undefined,
    parentId: undefined,
    query: "",
    showDeleted: false,
    pageSize: 0,
    pageToken: "",
    orderBy: "",
    ...overrides,
  };
}

/** Every page of a listing, following next_page_token (bounded). */
async function listAll(caller: Caller, q: ListGroupsQuery): Promise<GroupRecord[]> {
  const all: GroupRecord[] = [];
  let token = "";
  for (let page = 0; page < 200; page++) {
    const result = await fx.app.groups.list(caller, { ...q, pageToken: token });
    all.push(...result.groups);
    token = result.nextPageToken;
    if (token === "") return all;
  }
  throw new Error("more than 200 pages");
}

describe("visibility", () => {
  const ns = "vis";
  const owner = user("vis-owner");
  const viewer = user("vis-viewer");
  const groups: Record<string, GroupRecord> = {};

  beforeAll(async () => {
    const make = async (key: string, overrides = {}) => {
      groups[key] = await createGroup(fx, owner, groupInput(`vis-${key}`, { namespace: ns, ...overrides }));
      return groups[key];
    };
    const member = await make("member");
    await addMember(fx, owner, member.id, "user:vis-viewer");
    const aclUser = await make("acl-user");
    await fx.app.groups.setAcl(owner, aclUser.id, [{ principal: "user:vis-viewer", permission: "READ" }], "");
    const team = await make("team");
    const inner = await make("inner");
    await addMember(fx, owner, inner.id, "user:vis-viewer");
    await addMember(fx, owner, team.id, `group:${inner.id}`);
    const aclGroup = await make("acl-group");
    await fx.app.groups.setAcl(owner, aclGroup.id, [{ principal: `group:${team.id}`, permission: "WRITE" }], "");
    const managed = await make("managed");
    await addMember(fx, owner, managed.id, "user:vis-viewer", "ADMIN");
    const child = await make("child", { parentId: managed.id });
    await make("grandchild", { parentId: child.id });
    await make("public", { visibility: "AUTHENTICATED" });
    await make("private");
    const gone = await make("gone");
    await addMember(fx, owner, gone.id, "user:vis-viewer", "ADMIN");
    await fx.app.groups.delete(owner, gone.id, "");
    const goneMember = await make("gone-member");
    await addMember(fx, owner, goneMember.id, "user:vis-viewer");
    await fx.app.groups.delete(owner, goneMember.id, "");
  });

  it("lists exactly the groups GetGroup lets the caller see", async () => {
    const listed = (await listAll(viewer, query({ namespace: ns }))).map((group) => group.slug).sort();
    expect(listed).toEqual(
      [
        "vis-member",
        "vis-acl-user",
        "vis-team",
        "vis-inner",
        "vis-acl-group",
        "vis-managed",
        "vis-child",
        "vis-grandchild",
        "vis-public",
      ].sort(),
    );
    for (const group of Object.values(groups)) {
      const visible = await fx.app.groups.get(viewer, { id: group.id }).then(
        (got) => got.group.state === "ACTIVE",
        () => false,
      );
      expect(listed.includes(group.slug), group.slug).toBe(visible);
    }
  });

  it("adds deleted groups only where the caller may manage them with show_deleted", async () => {
    const listed = (await listAll(viewer, query({ namespace: ns, showDeleted: true }))).map((group) => group.slug);
    expect(listed).toContain("vis-gone");
    expect(listed).not.toContain("vis-gone-member");
    // GetGroup shows a deleted group exactly to those who may manage it: the same rule.
    for (const group of Object.values(groups)) {
      const visible = await fx.app.groups.get(viewer, { id: group.id }).then(
        () => true,
        () => false,
      );
      expect(listed.includes(group.slug), group.slug).toBe(visible);
    }
    const stranger = (await listAll(user("vis-stranger"), query({ namespace: ns, showDeleted: true }))).map((group) => group.slug);
    expect(stranger).toEqual(["vis-public"]);
    const admin = await listAll(systemAdmin, query({ namespace: ns, showDeleted: true }));
    expect(admin).toHaveLength(Object.keys(groups).length);
  });

  it("filters by parent and reports total_size", async () => {
    const managed = groups["managed"];
    if (managed === undefined) throw new Error("setup");
    const children = await fx.app.groups.list(viewer, query({ namespace: ns, parentId: managed.id }));
    expect(children.groups.map((group) => group.slug)).toEqual(["vis-child"]);
    expect(children.totalSize).toBe(1);
    const firstPage = await fx.app.groups.list(viewer, query({ namespace: ns, pageSize: 2 }));
    expect(firstPage.groups).toHaveLength(2);
    expect(firstPage.totalSize).toBe(9);
  });
});

describe("permission and member filters, caller access", () => {
  const ns = "flt";
  const owner = user("flt-owner");
  const viewer = user("flt-viewer");
  const peer = "user:flt-peer";
  const ids: Record<string, string> = {};
  const slugsOf = (list: readonly GroupRecord[]) => list.map((group) => group.slug.replace("flt-", "")).sort();

  beforeAll(async () => {
    const make = async (key: string, members: Record<string, "MEMBER" | "MANAGER" | "ADMIN">, overrides = {}) => {
      const group = await createGroup(fx, owner, groupInput(`flt-${key}`, { namespace: ns, ...overrides }));
      for (const [member, role] of Object.entries(members)) await addMember(fx, owner, group.id, member, role);
      ids[key] = group.id;
      return group.id;
    };
    await make("read", { "user:flt-viewer": "MEMBER", [peer]: "MEMBER" });
    await make("quiet", { "user:flt-viewer": "MEMBER", [peer]: "MEMBER" }, { memberVisibility: "MANAGERS" });
    await make("write", { "user:flt-viewer": "MANAGER" });
    const manage = await make("manage", { "user:flt-viewer": "ADMIN" });
    await make("child", { [peer]: "MEMBER" }, { parentId: manage });
    const aclw = await make("aclw", { [peer]: "MEMBER" });
    await fx.app.groups.setAcl(owner, aclw, [{ principal: "user:flt-viewer", permission: "WRITE" }], "");
    await make("public", { [peer]: "MEMBER" }, { visibility: "AUTHENTICATED" });
    await make("hidden", { [peer]: "MEMBER" });
  });

  it("lists by the caller's minimum permission, exactly as its access on each group says", async () => {
    const everything = await listAll(viewer, query({ namespace: ns }));
    expect(slugsOf(everything)).toEqual(["aclw", "child", "manage", "public", "quiet", "read", "write"]);
    const expected = {
      READ: ["aclw", "child", "manage", "quiet", "read", "write"],
      WRITE: ["aclw", "child", "manage", "write"],
      MANAGE: ["child", "manage"],
    };
    for (const permission of ["READ", "WRITE", "MANAGE"] as const) {
      expect(slugsOf(await listAll(viewer, query({ namespace: ns, permission })))).toEqual(expected[permission]);
      const page = await fx.app.groups.list(viewer, query({ namespace: ns, permission }));
      expect(page.totalSize).toBe(expected[permission].length);
    }
    // A system administrator has MANAGE everywhere.
    expect(slugsOf(await listAll(systemAdmin, query({ namespace: ns, permission: "MANAGE" })))).toHaveLength(8);
  });

  it("gives every listed group the caller's access, as GetGroup gives it", async () => {
    const page = await fx.app.groups.list(viewer, query({ namespace: ns }));
    expect([...page.access.keys()].sort()).toEqual(page.groups.map((group) => group.id).sort());
    for (const group of page.groups) {
      expect(page.access.get(group.id), group.slug).toEqual((await fx.app.groups.get(viewer, { id: group.id })).access);
    }
    const byPermission = Object.fromEntries(page.groups.map((group) => [group.slug, page.access.get(group.id)?.effectivePermission]));
    expect(byPermission).toEqual({
      "flt-aclw": "WRITE",
      "flt-child": "MANAGE",
      "flt-manage": "MANAGE",
      "flt-public": "NONE",
      "flt-quiet": "READ",
      "flt-read": "READ",
      "flt-write": "WRITE",
    });
  });

  it("lists groups with given direct members, only where the caller may ask about them", async () => {
    expect(slugsOf(await listAll(viewer, query({ namespace: ns, memberPrincipals: ["user:flt-viewer"] })))).toEqual([
      "manage",
      "quiet",
      "read",
      "write",
    ]);
    // peer is also in quiet (only managers list its members), public (the viewer has no READ) and hidden (invisible).
    expect(slugsOf(await listAll(viewer, query({ namespace: ns, memberPrincipals: [peer] })))).toEqual(["aclw", "child", "read"]);
    expect(slugsOf(await listAll(viewer, query({ namespace: ns, memberPrincipals: [peer, "user:flt-viewer", peer] })))).toEqual([
      "aclw",
      "child",
      "manage",
      "quiet",
      "read",
      "write",
    ]);
    expect(slugsOf(await listAll(viewer, query({ namespace: ns, memberPrincipals: [peer], permission: "MANAGE" })))).toEqual(["child"]);
    expect(slugsOf(await listAll(viewer, query({ namespace: ns, memberPrincipals: ["user:flt-nobody"] })))).toEqual([]);
    expect(slugsOf(await listAll(systemAdmin, query({ namespace: ns, memberPrincipals: [peer] })))).toEqual([
      "aclw",
      "child",
      "hidden",
      "public",
      "quiet",
      "read",
    ]);
  });

  it("pages through a filtered listing, with tokens bound to the filters", async () => {
    const filtered = query({ namespace: ns, permission: "READ", memberPrincipals: [peer, "user:flt-viewer"], pageSize: 1 });
    expect(slugsOf(await listAll(viewer, filtered))).toEqual(["aclw", "child", "manage", "quiet", "read", "write"]);
    const first = await fx.app.groups.list(viewer, filtered);
    // The same filters in another order are the same request.
    const reordered = await fx.app.groups.list(viewer, {
      ...filtered,
      memberPrincipals: ["user:flt-viewer", peer],
      pageToken: first.nextPageToken,
    });
    expect(reordered.groups).toHaveLength(1);
    const foreign = "invalid_argument: page_token: was issued for a different request (the other fields must be unchanged)";
    expect(await rejection(fx.app.groups.list(viewer, { ...filtered, permission: "WRITE", pageToken: first.nextPageToken }))).toBe(foreign);
    expect(await rejection(fx.app.groups.list(viewer, { ...filtered, permission: undefined, pageToken: first.nextPageToken }))).toBe(
      foreign,
    );
    expect(await rejection(fx.app.groups.list(viewer, { ...filtered, memberPrincipals: [peer], pageToken: first.nextPageToken }))).toBe(
      foreign,
    );
  });

  it("refuses malformed member principals naming the entry", async () => {
    expect(await rejection(fx.app.groups.list(viewer, query({ memberPrincipals: ["user:a", "flt-viewer"] })))).toBe(
      'invalid_argument: member_principals[1]: must be "user:<id>", "group:<group id>" or "service:<id>"',
    );
    const many = Array.from({ length: 101 }, (_, i) => `user:u${i}`);
    expect(await rejection(fx.app.groups.list(viewer, query({ memberPrincipals: many })))).toBe(
      "invalid_argument: member_principals: must have at most 100 entries (got 101)",
    );
  });
});

describe("search and order", () => {
  const ns = "search";
  const owner = user("search-owner");

  beforeAll(async () => {
    // Apart by a few milliseconds so that create_time alone orders them.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    await createGroup(fx, owner, groupInput("alpha", { namespace: ns, displayName: "Zeta Team" }));
    await pause();
    await createGroup(fx, owner, groupInput("beta", { namespace: ns, displayName: "alpha squad", description: "C++ (Beta) hackers" }));
    await pause();
    await createGroup(fx, owner, groupInput("gamma", { namespace: ns, displayName: "Middle", description: "nothing" }));
  });

  it("matches a case-insensitive substring of slug, display name or description, literally", async () => {
    const slugs = async (text: string) => (await listAll(owner, query({ namespace: ns, query: text }))).map((g) => g.slug).sort();
    expect(await slugs("ALPHA")).toEqual(["alpha", "beta"]);
    expect(await slugs("+ (b")).toEqual(["beta"]);
    expect(await slugs(".*")).toEqual([]);
    expect(await slugs("ZETA")).toEqual(["alpha"]);
    expect(await rejection(fx.app.groups.list(owner, query({ query: "x".repeat(201) })))).toBe(
      "invalid_argument: query: must be at most 200 characters (got 201)",
    );
  });

  it("orders by display name (case-insensitively) or create time, ascending or descending", async () => {
    const names = async (orderBy: string) =>
      (await listAll(owner, query({ namespace: ns, orderBy, pageSize: 1 }))).map((g) => g.displayName);
    expect(await names("")).toEqual(["alpha squad", "Middle", "Zeta Team"]);
    expect(await names("display_name desc")).toEqual(["Zeta Team", "Middle", "alpha squad"]);
    expect(await names("create_time")).toEqual(["Zeta Team", "alpha squad", "Middle"]);
    expect(await names("create_time desc")).toEqual(["Middle", "alpha squad", "Zeta Team"]);
    expect(await rejection(fx.app.groups.list(owner, query({ orderBy: "slug" })))).toBe(
      'invalid_argument: order_by: must be "display_name" or "create_time", optionally followed by " desc"',
    );
  });

  it("refuses a page token from another request or garbage", async () => {
    const page = await fx.app.groups.list(owner, query({ namespace: ns, pageSize: 1 }));
    expect(page.nextPageToken).not.toBe("");
    expect(
      await rejection(
        fx.app.groups.list(owner, query({ namespace: ns, pageSize: 1, orderBy: "create_time", pageToken: page.nextPageToken })),
      ),
    ).toBe("invalid_argument: page_token: was issued for a different request (the other fields must be unchanged)");
    expect(await rejection(fx.app.groups.list(owner, query({ namespace: ns, pageToken: "garbage!" })))).toBe(
      "invalid_argument: page_token: is not a valid page token",
    );
    expect(await rejection(fx.app.groups.list(owner, query({ pageSize: -1 })))).toBe("invalid_argument: page_size: must not be negative");
  });
});

describe("keyset pagination under concurrent change", () => {
  for (const orderBy of ["display_name", "create_time desc"]) {
    it(`never repeats or skips a group that existed throughout (${orderBy})`, async () => {
      const ns = orderBy === "display_name" ? "keyset-a" : "keyset-b";
      const owner = user(`${ns}-owner`);
      const originals: GroupRecord[] = [];
      for (let i = 0; i < 60; i++) {
        const name = `g${String((i * 37) % 60).padStart(2, "0")}`;
        originals.push(await fx.app.groups.create(owner, groupInput(`${ns}-${i}`, { namespace: ns, displayName: name }), ""));
      }
      const deletedOriginals = new Set<string>();
      const control = { stop: false };
      let mutations = 0;
      const mutator = (async () => {
        for (let i = 0; !control.stop && i < 200; i++) {
          // Names spread over the whole key range, before and after the cursor.
          const created = await fx.app.groups.create(
            owner,
            groupInput(`${ns}-new-${i}`, { namespace: ns, displayName: `g${String((i * 13) % 60).padStart(2, "0")}x` }),
            "",
          );
          if (i % 2 === 0) await fx.app.groups.delete(owner, created.id, "");
          if (i % 5 === 0) {
            const victim = originals[(i * 7) % originals.length];
            if (victim !== undefined && !deletedOriginals.has(victim.id)) {
              deletedOriginals.add(victim.id);
              await fx.app.groups.delete(owner, victim.id, "");
            }
          }
          mutations += 1;
        }
      })();

      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const page = await fx.app.groups.list(owner, query({ namespace: ns, pageSize: 7, orderBy, pageToken: token }));
        seen.push(...page.groups.map((group) => group.id));
        token = page.nextPageToken;
        pages += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
      } while (token !== "" && pages < 100);
      const mutationsWhilePaging = mutations;
      control.stop = true;
      await mutator;

      expect(mutationsWhilePaging).toBeGreaterThan(0);
      expect(new Set(seen).size).toBe(seen.length);
      const throughout = originals.filter((group) => !deletedOriginals.has(group.id)).map((group) => group.id);
      const seenSet = new Set(seen);
      expect(throughout.filter((id) => !seenSet.has(id))).toEqual([]);
    });
  }
});
