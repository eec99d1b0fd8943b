/**
 * ListGroups from the read model: the same scope (list-groups.ts computes it
 * from the caller's closure, as for the database) and the same filters and
 * order (storage's `listFilterOf`, `compareListPositions`), evaluated in
 * memory. A caller's own groups — those it is in, those its ACL grants name,
 * the descendants of those it manages — are gathered and sorted (their
 * number is the caller's, not the store's); the groups everyone may see come
 * in order from their sorted index, so a page of them costs its length; the
 * two are merged. The total counts both once. A minimum permission leaves
 * out the groups everyone sees and the ACL entries granting less; a member
 * filter's ids restrict both sets (the ids are the member filter's, computed
 * by list-groups.ts with the same rules over either source).
 */
import type { GroupNode } from "../../storage/documents.ts";
import {
  compareListPositions,
  keysetPosition,
  listFilterOf,
  listPositionOf,
  type GroupKeyset,
  type GroupListCriteria,
  type GroupListOrder,
  type GroupScope,
} from "../../storage/group-store.ts";
import type { GroupGraph } from "./group-graph.ts";

type CallerScope = Extract<GroupScope, { kind: "caller" }>;

/** A caller's own visible groups matching the filters (not those everyone sees, unless also its own). */
function ownGroups(graph: GroupGraph, scope: CallerScope, criteria: GroupListCriteria): Map<string, GroupNode> {
  const matches = listFilterOf(criteria);
  const found = new Map<string, GroupNode>();
  const consider = (id: string, state: GroupNode["state"]): void => {
    const group = graph.group(id);
    if (group?.state === state && !found.has(id) && matches(group)) found.set(id, group);
  };
  const principals = new Set(scope.principals);
  const { aclPermissions } = scope;
  // With a minimum permission, only ACL entries granting one of the permissions that reach it count (as the query's $elemMatch).
  const aclGrants = (id: string): boolean =>
    aclPermissions === undefined ||
    graph.group(id)?.acl.some((entry) => principals.has(entry.principal) && aclPermissions.includes(entry.permission)) === true;
  const descendants = descendantsOf(graph, scope.manageRootIds);
  for (const id of scope.memberOfIds) consider(id, "ACTIVE");
  for (const principal of principals) for (const id of graph.aclGroupsOf(principal) ?? []) if (aclGrants(id)) consider(id, "ACTIVE");
  for (const id of descendants) consider(id, "ACTIVE");
  // Restricted to given ids (the member filter), the groups everyone sees are taken from those ids, not walked.
  if (criteria.ids !== undefined && scope.authenticatedVisible) {
    for (const id of criteria.ids) if (graph.group(id)?.visibility === "AUTHENTICATED") consider(id, "ACTIVE");
  }
  if (criteria.includeDeleted) {
    for (const id of scope.deletedAdminOfIds) consider(id, "DELETED");
    for (const principal of principals) {
      for (const id of graph.aclGroupsOf(principal) ?? []) {
        const group = graph.group(id);
        if (group?.acl.some((entry) => entry.permission === "MANAGE" && principals.has(entry.principal)) === true) consider(id, "DELETED");
      }
    }
    for (const id of descendants) consider(id, "DELETED");
  }
  return found;
}

/**
 * Whether the listing takes the groups everyone sees from their sorted index:
 * when they are in scope (no minimum permission) and not restricted to given
 * ids (then `ownGroups` has taken them from the ids).
 */
function walksEveryone(scope: CallerScope, criteria: GroupListCriteria): boolean {
  return scope.authenticatedVisible && criteria.ids === undefined;
}

/** Every group below `roots` in the parent hierarchy (whatever their state), roots excluded. */
function descendantsOf(graph: GroupGraph, roots: readonly string[]): Set<string> {
  const found = new Set<string>();
  const stack = [...roots];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    for (const child of graph.childrenOf(id) ?? []) {
      if (found.has(child)) continue;
      found.add(child);
      stack.push(child);
    }
  }
  return found;
}

/** Up to `limit` groups of the caller's listing after `after`, in `order`. */
export function visibleGroupsPage(
  graph: GroupGraph,
  scope: CallerScope,
  criteria: GroupListCriteria,
  order: GroupListOrder,
  after: GroupKeyset | undefined,
  limit: number,
): GroupNode[] {
  const direction = order.descending ? -1 : 1;
  const start = after === undefined ? undefined : keysetPosition(after);
  const beyondStart = (group: GroupNode): boolean =>
    start === undefined || direction * compareListPositions(listPositionOf(group, order), start) > 0;
  const own = ownGroups(graph, scope, criteria);
  const mine = [...own.values()]
    .filter(beyondStart)
    .map((group) => ({ group, position: listPositionOf(group, order) }))
    .sort((a, b) => direction * compareListPositions(a.position, b.position))
    .map(({ group }) => group);
  const matches = listFilterOf(criteria);
  const page: GroupNode[] = [];
  let next = 0;
  const everyone = walksEveryone(scope, criteria)
    ? graph.everyonesGroups(order).walk(order.descending, (group) => !beyondStart(group))
    : [];
  for (const group of everyone) {
    if (page.length >= limit) break;
    if (own.has(group.id) || !matches(group)) continue;
    while (
      page.length < limit &&
      next < mine.length &&
      direction * compareListPositions(listPositionOf(mine[next] as GroupNode, order), listPositionOf(group, order)) < 0
    ) {
      page.push(mine[next] as GroupNode);
      next += 1;
    }
    if (page.length < limit) page.push(group);
  }
  while (page.length < limit && next < mine.length) page.push(mine[next++] as GroupNode);
  return page;
}

/** How many groups the caller's listing holds (no keyset). */
export function visibleGroupsCount(graph: GroupGraph, scope: CallerScope, criteria: GroupListCriteria): number {
  const own = ownGroups(graph, scope, criteria);
  const matches = listFilterOf(criteria);
  let count = own.size;
  if (!walksEveryone(scope, criteria)) return count;
  for (const group of graph.everyonesGroups({ field: "sortName", descending: false }).walk(false, () => false)) {
    if (!own.has(group.id) && matches(group)) count += 1;
  }
  return count;
}
