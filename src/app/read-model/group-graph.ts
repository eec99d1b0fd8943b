/**
 * The read model's memory: every group as stored, and every group-in-group
 * membership (both directions), with the indexes the reads need — live
 * groups by namespace and slug, groups by the principals their ACLs name,
 * children by parent, and the groups every caller may see (visibility
 * AUTHENTICATED, live) in each ListGroups order. Built from a snapshot and
 * changed by the change stream's changes, one at a time, in commit order.
 * Users' and services' memberships are not here (principal-memberships.ts).
 */
import type { GroupListOrder } from "../../storage/group-store.ts";
import { compareListPositions, listPositionOf } from "../../storage/group-store.ts";
import type { GroupNode, StoredMembership } from "../../storage/documents.ts";
import type { GraphChange } from "../../storage/graph-changes.ts";
import { groupIdOfPrincipal } from "../../domain/principal.ts";
import { createSortedIndex, type SortedIndex } from "./sorted-index.ts";

export interface GroupGraph {
  group(id: string): GroupNode | undefined;
  liveBySlug(namespace: string, slug: string): GroupNode | undefined;
  /** Ids of the groups (any state) whose ACL names `principal`. */
  aclGroupsOf(principal: string): ReadonlySet<string> | undefined;
  /** Ids of the groups whose parent is `id` (any state). */
  childrenOf(id: string): ReadonlySet<string> | undefined;
  /** The memberships of `group:<id>`, by the id of the group it is a member of. */
  parentsOf(id: string): ReadonlyMap<string, StoredMembership> | undefined;
  /** The `group:` members of `id`, by the member group's id. */
  memberGroupsOf(id: string): ReadonlyMap<string, StoredMembership> | undefined;
  /** The live AUTHENTICATED groups in `order`'s field, ascending. */
  everyonesGroups(order: GroupListOrder): SortedIndex<GroupNode>;
  /** Whether the membership with this document id is a group edge held here. */
  hasEdge(id: string): boolean;
  /** Applies a change of a group or of a group edge (a user's or service's membership is not for this graph). */
  apply(change: GraphChange): void;
  readonly groupCount: number;
  readonly edgeCount: number;
}

const byName: GroupListOrder = { field: "sortName", descending: false };
const byTime: GroupListOrder = { field: "createTime", descending: false };

function seenByEveryone(group: GroupNode): boolean {
  return group.state === "ACTIVE" && group.visibility === "AUTHENTICATED";
}

function slugKey(namespace: string, slug: string): string {
  return `${namespace}\n${slug}`;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** A graph holding `groups` and `groupEdges` (a snapshot). */
export function createGroupGraph(groups: readonly GroupNode[], groupEdges: readonly StoredMembership[]): GroupGraph {
  const nodes = new Map<string, GroupNode>();
  const live = new Map<string, string>();
  const acl = new Map<string, Set<string>>();
  const children = new Map<string, Set<string>>();
  const parents = new Map<string, Map<string, StoredMembership>>();
  const members = new Map<string, Map<string, StoredMembership>>();
  const edges = new Map<string, StoredMembership>();

  const index = (group: GroupNode): void => {
    if (group.state === "ACTIVE") live.set(slugKey(group.namespace, group.slug), group.id);
    for (const entry of group.acl) addTo(acl, entry.principal, group.id);
    if (group.parentId !== "") addTo(children, group.parentId, group.id);
  };
  const unindex = (group: GroupNode): void => {
    const key = slugKey(group.namespace, group.slug);
    if (live.get(key) === group.id) live.delete(key);
    for (const entry of group.acl) removeFrom(acl, entry.principal, group.id);
    if (group.parentId !== "") removeFrom(children, group.parentId, group.id);
  };
  for (const group of groups) {
    nodes.set(group.id, group);
    index(group);
  }
  const everyone = groups.filter(seenByEveryone);
  const everyoneByName = createSortedIndex(
    (a: GroupNode, b: GroupNode) => compareListPositions(listPositionOf(a, byName), listPositionOf(b, byName)),
    everyone,
  );
  const everyoneByTime = createSortedIndex(
    (a: GroupNode, b: GroupNode) => compareListPositions(listPositionOf(a, byTime), listPositionOf(b, byTime)),
    everyone,
  );

  const putEdge = (edge: StoredMembership): void => {
    const child = groupIdOfPrincipal(edge.member);
    if (child === undefined) return;
    removeEdge(edge.id);
    edges.set(edge.id, edge);
    let up = parents.get(child);
    if (up === undefined) parents.set(child, (up = new Map<string, StoredMembership>()));
    up.set(edge.groupId, edge);
    let down = members.get(edge.groupId);
    if (down === undefined) members.set(edge.groupId, (down = new Map<string, StoredMembership>()));
    down.set(child, edge);
  };
  function removeEdge(id: string): void {
    const edge = edges.get(id);
    if (edge === undefined) return;
    edges.delete(id);
    const child = groupIdOfPrincipal(edge.member) ?? "";
    const up = parents.get(child);
    if (up?.get(edge.groupId) === edge) {
      up.delete(edge.groupId);
      if (up.size === 0) parents.delete(child);
    }
    const down = members.get(edge.groupId);
    if (down?.get(child) === edge) {
      down.delete(child);
      if (down.size === 0) members.delete(edge.groupId);
    }
  }
  for (const edge of groupEdges) putEdge(edge);

  const putGroup = (group: GroupNode): void => {
    const before = nodes.get(group.id);
    if (before !== undefined) {
      unindex(before);
      if (seenByEveryone(before)) {
        everyoneByName.remove(before);
        everyoneByTime.remove(before);
      }
    }
    nodes.set(group.id, group);
    index(group);
    if (seenByEveryone(group)) {
      everyoneByName.add(group);
      everyoneByTime.add(group);
    }
  };
  const removeGroup = (id: string): void => {
    const before = nodes.get(id);
    if (before === undefined) return;
    unindex(before);
    if (seenByEveryone(before)) {
      everyoneByName.remove(before);
      everyoneByTime.remove(before);
    }
    nodes.delete(id);
  };

  return {
    group: (id) => nodes.get(id),
    liveBySlug(namespace, slug) {
      const id = live.get(slugKey(namespace, slug));
      return id === undefined ? undefined : nodes.get(id);
    },
    aclGroupsOf: (principal) => acl.get(principal),
    childrenOf: (id) => children.get(id),
    parentsOf: (id) => parents.get(id),
    memberGroupsOf: (id) => members.get(id),
    everyonesGroups: (order) => (order.field === "sortName" ? everyoneByName : everyoneByTime),
    hasEdge: (id) => edges.has(id),
    apply(change) {
      switch (change.kind) {
        case "group_put":
          putGroup(change.group);
          break;
        case "group_removed":
          removeGroup(change.id);
          break;
        case "membership_put":
          putEdge(change.membership);
          break;
        case "membership_changed": {
          const edge = edges.get(change.id);
          if (edge !== undefined) putEdge(change.update(edge));
          break;
        }
        case "membership_removed":
          removeEdge(change.id);
          break;
      }
    },
    get groupCount() {
      return nodes.size;
    },
    get edgeCount() {
      return edges.size;
    },
  };
}
