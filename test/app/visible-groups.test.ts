/**
 * The read model's ListGroups (src/app/read-model/visible-groups.ts) keeps a
 * caller's own groups in the facts memo: pages and counts come from the kept
 * set (walked from the keyset), a different scope never gets another's set,
 * and the set is the graph's of the generation it was kept at, so the model
 * must forget it at every change it applies (read-model.ts invalidates the
 * memo; here the test does).
 */
import { describe, expect, it } from "vitest";
import { createFactsMemo } from "../../src/app/read-model/facts-memo.ts";
import { createGroupGraph, type GroupGraph } from "../../src/app/read-model/group-graph.ts";
import { visibleGroupsCount, visibleGroupsPage } from "../../src/app/read-model/visible-groups.ts";
import type { GroupNode } from "../../src/storage/documents.ts";
import type { GroupKeyset, GroupListCriteria, GroupListOrder, GroupScope } from "../../src/storage/group-store.ts";
import { groupNode } from "../fixtures/group-node.ts";

type CallerScope = Extract<GroupScope, { kind: "caller" }>;

const created = new Date("2024-01-01T00:00:00Z");

/** Group `id`, created at the number in its id (seconds after `created`). */
function node(id: string, overrides: Partial<GroupNode> = {}): GroupNode {
  return groupNode(id, new Date(created.getTime() + Number(id.replace(/\D/gu, "") || "0") * 1000), overrides);
}

/** Groups g0…g9 (the caller's), p0…p2 seen by everyone (created after them), x0 nobody's. */
function world(): GroupGraph {
  const groups = [
    ...Array.from({ length: 10 }, (_, i) => node(`g${i}`)),
    ...Array.from({ length: 3 }, (_, i) =>
      node(`p${i}`, { visibility: "AUTHENTICATED", createTime: new Date(created.getTime() + (20 + i) * 1000) }),
    ),
    node("x0"),
  ];
  return createGroupGraph(groups, []);
}

function scopeOf(memberOfIds: readonly string[], principal = "user:caller"): CallerScope {
  return {
    kind: "caller",
    memberOfIds,
    principals: [principal, ...memberOfIds.map((id) => `group:${id}`)],
    aclPermissions: undefined,
    manageRootIds: [],
    deletedAdminOfIds: [],
    authenticatedVisible: true,
  };
}

const byName: GroupListOrder = { field: "sortName", descending: false };
const criteriaOf = (scope: CallerScope, overrides: Partial<GroupListCriteria> = {}): GroupListCriteria => ({
  scope,
  includeDeleted: false,
  namespace: undefined,
  parentId: undefined,
  text: "",
  ...overrides,
});

function ids(groups: readonly GroupNode[]): string[] {
  return groups.map((group) => group.id);
}

/** Every page of `limit` after one another, as ListGroups pages them. */
function allPages(
  graph: GroupGraph,
  facts: ReturnType<typeof createFactsMemo>,
  criteria: GroupListCriteria,
  order: GroupListOrder,
  limit: number,
): string[][] {
  const pages: string[][] = [];
  let after: GroupKeyset | undefined;
  for (;;) {
    if (criteria.scope.kind !== "caller") throw new Error("a caller's scope");
    const page = visibleGroupsPage(graph, facts, criteria.scope, criteria, order, after, limit);
    if (page.length === 0) return pages;
    pages.push(ids(page));
    const last = page.at(-1) as GroupNode;
    after = order.field === "sortName" ? { key: last.displayName.toLowerCase(), id: last.id } : { key: last.createTime, id: last.id };
  }
}

describe("a caller's kept own groups", () => {
  it("page in order from the keyset, merged with the groups everyone sees, both ways and in both orders", () => {
    const graph = world();
    const facts = createFactsMemo(1_000);
    const scope = scopeOf(["g3", "g1", "g4"]);
    const criteria = criteriaOf(scope);
    expect(allPages(graph, facts, criteria, byName, 2)).toEqual([
      ["g1", "g3"],
      ["g4", "p0"],
      ["p1", "p2"],
    ]);
    expect(allPages(graph, facts, criteria, { field: "sortName", descending: true }, 4)).toEqual([
      ["p2", "p1", "p0", "g4"],
      ["g3", "g1"],
    ]);
    expect(allPages(graph, facts, criteria, { field: "createTime", descending: true }, 2)).toEqual([
      ["p2", "p1"],
      ["p0", "g4"],
      ["g3", "g1"],
    ]);
    expect(visibleGroupsCount(graph, facts, scope, criteria)).toBe(6);
    expect(visibleGroupsCount(graph, facts, scope, criteriaOf(scope, { text: "g3" }))).toBe(1);
    expect(ids(visibleGroupsPage(graph, facts, scope, criteriaOf(scope, { text: "g3" }), byName, undefined, 10))).toEqual(["g3"]);
    // The member filter's ids: the caller's own and everyone's among them, nothing else.
    const restricted = criteriaOf(scope, { ids: ["x0", "p1", "g4", "g9"] });
    expect(ids(visibleGroupsPage(graph, facts, scope, restricted, byName, undefined, 10))).toEqual(["g4", "p1"]);
    expect(visibleGroupsCount(graph, facts, scope, restricted)).toBe(2);
  });

  it("are kept: a graph change the memo is not told of is not seen, and is once it is invalidated", () => {
    const graph = world();
    const facts = createFactsMemo(1_000);
    const scope = scopeOf(["g1", "g2"]);
    const criteria = criteriaOf(scope);
    const page = () => ids(visibleGroupsPage(graph, facts, scope, criteria, byName, undefined, 10));
    expect(page()).toEqual(["g1", "g2", "p0", "p1", "p2"]);
    expect(facts.weight).toBeGreaterThan(0);

    graph.apply({ kind: "group_put", group: node("g1", { displayName: "Group z-last" }) });
    graph.apply({ kind: "group_put", group: node("g2", { state: "DELETED" }) });
    // Without the invalidation the model does at every applied change, the kept set (and its order) is what answers.
    expect(page()).toEqual(["g1", "g2", "p0", "p1", "p2"]);
    facts.invalidate();
    expect(page()).toEqual(["p0", "p1", "p2", "g1"]);
    expect(visibleGroupsCount(graph, facts, scope, criteria)).toBe(4);
  });

  it("are never another scope's, even under the same caller with as many groups", () => {
    const graph = world();
    const facts = createFactsMemo(1_000);
    const first = scopeOf(["g1", "g2"]);
    const second = scopeOf(["g5", "g6"]);
    const page = (scope: CallerScope) => ids(visibleGroupsPage(graph, facts, scope, criteriaOf(scope), byName, undefined, 2));
    expect(page(first)).toEqual(["g1", "g2"]);
    expect(page(second)).toEqual(["g5", "g6"]);
    expect(page(first)).toEqual(["g1", "g2"]);
    const withPermission: CallerScope = { ...first, aclPermissions: ["READ"], authenticatedVisible: false };
    expect(visibleGroupsCount(graph, facts, withPermission, criteriaOf(withPermission))).toBe(2);
    expect(visibleGroupsCount(graph, facts, first, criteriaOf(first))).toBe(5);
  });
});
