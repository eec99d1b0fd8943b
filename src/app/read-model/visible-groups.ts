/**
 * ListGroups from the read model: the same scope (list-groups.ts computes it
 * from the caller's closure, as for the database) and the same filters and
 * order (storage's `listFilterOf`, `compareListPositions`), evaluated in
 * memory. A caller's own groups — those it is in, those its ACL grants name,
 * the descendants of those it manages — are gathered and sorted once and
 * kept until the model applies a change (their number is the caller's, not
 * the store's), and a page walks them from its keyset; the groups everyone
 * may see come in order from their sorted index; so a page costs its length,
 * and the two are merged. The total counts both once. A minimum permission leaves
 * out the groups everyone sees and the ACL entries granting less; a member
 * filter's ids restrict both sets (the ids are the member filter's, computed
 * by list-groups.ts with the same rules over either source).
 */
import { partitionPoint } from "../../domain/partition-point.ts";
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
  type GroupSortField,
  type ListPosition,
} from "../../storage/group-store.ts";
import { createMemoSlot } from "../request-memo.ts";
import type { FactsMemo } from "./facts-memo.ts";
import type { GroupGraph } from "./group-graph.ts";

type CallerScope = Extract<GroupScope, { kind: "caller" }>;

/**
 * A caller's own visible groups (those it is in, those its ACL grants name,
 * the descendants of those it manages; not those everyone sees, unless also
 * its own), before the listing's filters: kept in the facts memo, so that a
 * caller in 2,000 groups does not gather, sort and allocate all of them for
 * every page (`npm run bench:scale`). Each order is sorted when first asked.
 */
interface OwnGroups {
  /** What they were gathered from (compared in full before they are used again). */
  readonly from: OwnGroupsSource;
  readonly groups: readonly GroupNode[];
  readonly ids: ReadonlySet<string>;
  /** Sorted ascending, with their positions, by order field (filled when first asked). */
  readonly sorted: Map<GroupSortField, { readonly groups: readonly GroupNode[]; readonly positions: readonly ListPosition[] }>;
}

/** Everything a caller's own groups are gathered from but the graph (whose every change forgets them). */
interface OwnGroupsSource {
  readonly includeDeleted: boolean;
  readonly aclPermissions: readonly string[] | undefined;
  readonly lists: readonly (readonly string[])[];
}

const ownGroupsSlot = createMemoSlot<OwnGroups>("a caller's own visible groups");

function sourceOf(scope: CallerScope, includeDeleted: boolean): OwnGroupsSource {
  return {
    includeDeleted,
    aclPermissions: scope.aclPermissions,
    lists: [scope.memberOfIds, scope.principals, scope.manageRootIds, includeDeleted ? scope.deletedAdminOfIds : []],
  };
}

const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((value, i) => value === b[i]));

function sameSource(a: OwnGroupsSource, b: OwnGroupsSource): boolean {
  return (
    a.includeDeleted === b.includeDeleted &&
    sameList(a.aclPermissions, b.aclPermissions) &&
    a.lists.length === b.lists.length &&
    a.lists.every((list, i) => sameList(list, b.lists[i]))
  );
}

/**
 * The memo key of a source: short, so a lookup costs no more than its
 * principal (the caller, first of the scope's principals) and the lists'
 * sizes; the kept source is compared in full before its groups are used
 * (the same kept closure gives the same strings, so that is a pass of
 * pointer comparisons), and a different one is gathered and kept instead.
 */
function keyOf(source: OwnGroupsSource): string {
  const [, principals] = source.lists;
  return [
    source.includeDeleted,
    source.aclPermissions?.join(",") ?? "any",
    principals?.[0] ?? "",
    ...source.lists.map((list) => list.length),
  ].join("\0");
}

/** The caller's own groups, from the facts memo or gathered (and kept while the model's facts are unchanged). */
function ownGroupsOf(graph: GroupGraph, facts: FactsMemo, scope: CallerScope, includeDeleted: boolean): OwnGroups {
  const from = sourceOf(scope, includeDeleted);
  const key = keyOf(from);
  const kept = facts.get(ownGroupsSlot, key, 0);
  if (kept !== undefined && sameSource(kept.from, from)) return kept;
  // Everything below reads the graph synchronously: the set is of this generation's facts.
  const generation = facts.generation();
  const found = gatherOwnGroups(graph, scope, includeDeleted);
  const own: OwnGroups = { from, groups: [...found.values()], ids: new Set(found.keys()), sorted: new Map() };
  facts.set(ownGroupsSlot, key, own, { generation, validUntilMs: Number.POSITIVE_INFINITY, weight: own.groups.length });
  return own;
}

/** `own`'s groups sorted ascending in `field`, with their positions. */
function sortedOwn(
  own: OwnGroups,
  field: GroupSortField,
): { readonly groups: readonly GroupNode[]; readonly positions: readonly ListPosition[] } {
  let sorted = own.sorted.get(field);
  if (sorted === undefined) {
    const order: GroupListOrder = { field, descending: false };
    const byPosition = own.groups
      .map((group) => ({ group, position: listPositionOf(group, order) }))
      .sort((a, b) => compareListPositions(a.position, b.position));
    sorted = { groups: byPosition.map(({ group }) => group), positions: byPosition.map(({ position }) => position) };
    own.sorted.set(field, sorted);
  }
  return sorted;
}

/** A caller's own visible groups in `includeDeleted`'s states, by id (the listing's filters are applied later). */
function gatherOwnGroups(graph: GroupGraph, scope: CallerScope, includeDeleted: boolean): Map<string, GroupNode> {
  const found = new Map<string, GroupNode>();
  const consider = (id: string, state: GroupNode["state"]): void => {
    const group = graph.group(id);
    if (group?.state === state && !found.has(id)) found.set(id, group);
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
  if (includeDeleted) {
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
 * Restricted to given ids (the member filter), the listing's own part is
 * those ids that are the caller's own groups or, when in scope, seen by
 * everyone (taken from the ids, not walked), matching the filters: as many
 * as the ids, sorted per call.
 */
function ownAmongIds(
  graph: GroupGraph,
  scope: CallerScope,
  own: OwnGroups,
  ids: readonly string[],
  matches: (group: GroupNode) => boolean,
): GroupNode[] {
  const found: GroupNode[] = [];
  for (const id of new Set(ids)) {
    const group = graph.group(id);
    if (group === undefined) continue;
    const everyones = scope.authenticatedVisible && group.visibility === "AUTHENTICATED" && group.state === "ACTIVE";
    if ((own.ids.has(id) || everyones) && matches(group)) found.push(group);
  }
  return found;
}

/** Whether the listing filters nothing out of the caller's own groups (which hold only the states it lists). */
function filtersNothing(criteria: GroupListCriteria): boolean {
  return criteria.namespace === undefined && criteria.parentId === undefined && criteria.text === "" && criteria.ids === undefined;
}

/**
 * Whether the listing takes the groups everyone sees from their sorted index:
 * when they are in scope (no minimum permission) and not restricted to given
 * ids (then `ownAmongIds` has taken them from the ids).
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

/**
 * The caller's own groups of the listing in `order` after `start`, matching
 * the filters: walked from the kept sorted set (a binary search, then what
 * the page takes), or with the member filter's ids sorted per call.
 */
function* ownInOrder(
  graph: GroupGraph,
  scope: CallerScope,
  own: OwnGroups,
  criteria: GroupListCriteria,
  order: GroupListOrder,
  start: ListPosition | undefined,
): Generator<GroupNode, void, undefined> {
  const direction = order.descending ? -1 : 1;
  const matches = listFilterOf(criteria);
  if (criteria.ids !== undefined) {
    yield* ownAmongIds(graph, scope, own, criteria.ids, matches)
      .map((group) => ({ group, position: listPositionOf(group, order) }))
      .filter(({ position }) => start === undefined || direction * compareListPositions(position, start) > 0)
      .sort((a, b) => direction * compareListPositions(a.position, b.position))
      .map(({ group }) => group);
    return;
  }
  const { groups, positions } = sortedOwn(own, order.field);
  // The walk starts after `start`: ascending at the first position above it, descending at the last one below it.
  const lo =
    start === undefined
      ? order.descending
        ? positions.length
        : 0
      : partitionPoint(0, positions.length, (mid) => {
          const cmp = compareListPositions(positions[mid] as ListPosition, start);
          return order.descending ? cmp < 0 : cmp <= 0;
        });
  if (order.descending) {
    for (let i = lo - 1; i >= 0; i--) if (matches(groups[i] as GroupNode)) yield groups[i] as GroupNode;
  } else {
    for (let i = lo; i < groups.length; i++) if (matches(groups[i] as GroupNode)) yield groups[i] as GroupNode;
  }
}

/** Up to `limit` groups of the caller's listing after `after`, in `order`. */
export function visibleGroupsPage(
  graph: GroupGraph,
  facts: FactsMemo,
  scope: CallerScope,
  criteria: GroupListCriteria,
  order: GroupListOrder,
  after: GroupKeyset | undefined,
  limit: number,
): GroupNode[] {
  const direction = order.descending ? -1 : 1;
  const start = after === undefined ? undefined : keysetPosition(after);
  const own = ownGroupsOf(graph, facts, scope, criteria.includeDeleted);
  const mine = ownInOrder(graph, scope, own, criteria, order, start);
  const matches = listFilterOf(criteria);
  const page: GroupNode[] = [];
  let next = mine.next();
  const everyone = walksEveryone(scope, criteria)
    ? graph
        .everyonesGroups(order)
        .walk(
          order.descending,
          (group) => start !== undefined && direction * compareListPositions(listPositionOf(group, order), start) <= 0,
        )
    : [];
  for (const group of everyone) {
    if (page.length >= limit) break;
    if (own.ids.has(group.id) || !matches(group)) continue;
    const position = listPositionOf(group, order);
    while (page.length < limit && next.done !== true && direction * compareListPositions(listPositionOf(next.value, order), position) < 0) {
      page.push(next.value);
      next = mine.next();
    }
    if (page.length < limit) page.push(group);
  }
  while (page.length < limit && next.done !== true) {
    page.push(next.value);
    next = mine.next();
  }
  return page;
}

/** How many groups the caller's listing holds (no keyset). */
export function visibleGroupsCount(graph: GroupGraph, facts: FactsMemo, scope: CallerScope, criteria: GroupListCriteria): number {
  const own = ownGroupsOf(graph, facts, scope, criteria.includeDeleted);
  const matches = listFilterOf(criteria);
  let count: number;
  if (criteria.ids !== undefined) count = ownAmongIds(graph, scope, own, criteria.ids, matches).length;
  else if (filtersNothing(criteria)) count = own.groups.length;
  else count = own.groups.filter(matches).length;
  if (!walksEveryone(scope, criteria)) return count;
  for (const group of graph.everyonesGroups({ field: "sortName", descending: false }).walk(false, () => false)) {
    if (!own.ids.has(group.id) && matches(group)) count += 1;
  }
  return count;
}
