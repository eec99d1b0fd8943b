/**
 * One page of a group's transitive users and services (ListMemberships with
 * `transitive`): every user and service reached through live nested groups,
 * once, in member order, with the highest role (a member group's members
 * hold the role of that group's edge into the top group; a direct member
 * also its own) and the direct member groups it comes through.
 *
 * A page costs what the page and the nesting cost, never the size of the
 * listing: the groups below the top group are found first (their `group:`
 * edges only, one indexed query per level, at most MAX_NESTING_DEPTH + 1
 * levels; DELETED groups are not entered), then each of those groups and the
 * top group is a source whose users and services are read in member order
 * from the `group_member` index, a keyset batch at a time after the page
 * token's member, and the sources are merged: a member is complete once
 * every source still holding members has read past it. Paging through N
 * members therefore reads each membership about once.
 *
 * The total cannot be counted without reading every member (a principal may
 * come through several groups): it is counted for listings no longer than
 * the longest page, and otherwise an upper bound taken from the groups'
 * member counts (see `transitiveTotalBound`).
 */
import { confers } from "../domain/membership-status.ts";
import type { MembershipRecord, Role } from "../domain/model.ts";
import { MAX_PAGE_SIZE } from "../domain/group-validation.ts";
import { MAX_NESTING_DEPTH } from "../domain/nesting.ts";
import { maxRole } from "../domain/permissions.ts";
import { groupIdOfPrincipal } from "../domain/principal.ts";
import { compareByCodePoint } from "../domain/text-length.ts";
import type { GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import type { AppContext } from "./app-context.ts";
import { readsOf } from "./read-source.ts";

/** The live groups below a group, as transitive listings need them. */
interface Subtree {
  /** The top group's live direct member groups, with their edge into it. */
  readonly edges: ReadonlyMap<string, MembershipRecord>;
  /** Each live group below the top group → the direct member groups it is reached through (itself included). */
  readonly reach: ReadonlyMap<string, ReadonlySet<string>>;
  /** Each group of the walk (the top group included) → how many `group:` members it has (live or not). */
  readonly groupMembers: ReadonlyMap<string, number>;
  /** The live groups below the top group, as stored (their member counts). */
  readonly groups: ReadonlyMap<string, GroupNode>;
}

/**
 * Loads the live subtree below `group`: `group:` edges that confer at `now`
 * (ACTIVE, unexpired) level by level, never the users and services.
 */
async function loadSubtree(ctx: AppContext, group: GroupNode, now: Date, call: StoreCall): Promise<Subtree> {
  const children = new Map<string, string[]>();
  const groupMembers = new Map<string, number>();
  const groups = new Map<string, GroupNode>();
  const edges = new Map<string, MembershipRecord>();
  const seen = new Set<string>([group.id]);
  let frontier = [group.id];
  for (let level = 0; frontier.length > 0 && level <= MAX_NESTING_DEPTH + 1; level++) {
    const found: string[] = [];
    for (const edge of await readsOf(ctx, call).memberships.groupEdgesOf(frontier, call)) {
      const child = groupIdOfPrincipal(edge.member);
      if (child === undefined || !confers(edge, now)) continue;
      groupMembers.set(edge.groupId, (groupMembers.get(edge.groupId) ?? 0) + 1);
      const list = children.get(edge.groupId) ?? [];
      list.push(child);
      children.set(edge.groupId, list);
      if (edge.groupId === group.id) edges.set(child, edge);
      if (!seen.has(child)) {
        seen.add(child);
        found.push(child);
      }
    }
    const live = (await readsOf(ctx, call).groups.getMany(found, call)).filter((g) => g.state === "ACTIVE");
    for (const g of live) groups.set(g.id, g);
    frontier = live.map((g) => g.id);
  }
  for (const id of edges.keys()) if (!groups.has(id)) edges.delete(id);

  // Which direct member groups each live group is reached through.
  const reach = new Map<string, Set<string>>();
  for (const via of edges.keys()) {
    const stack = [via];
    const visited = new Set<string>(stack);
    for (let at = stack.pop(); at !== undefined; at = stack.pop()) {
      const vias = reach.get(at) ?? new Set<string>();
      vias.add(via);
      reach.set(at, vias);
      for (const child of children.get(at) ?? []) {
        if (groups.has(child) && !visited.has(child)) {
          visited.add(child);
          stack.push(child);
        }
      }
    }
  }
  return { edges, reach, groupMembers, groups };
}

/** Where a transitive member can come from: the top group's own members, or a live group below it. */
interface Source {
  readonly groupId: string;
  /** Below the top group: the highest role of the edges it is reached through (its members' role from it). */
  readonly edgeRole: Role | undefined;
  /** Members read so far and not yet merged, in member order. */
  buffer: MembershipRecord[];
  /** The last member read from it. */
  last: string | undefined;
  exhausted: boolean;
}

/** One page of transitive members (see the module comment). */
export interface TransitivePage {
  /** Ordered by member; at most the page size. */
  readonly memberships: MembershipRecord[];
  /** Whether members follow the page. */
  readonly more: boolean;
  /** Exact when the listing has at most MAX_PAGE_SIZE members by `transitiveTotalBound`, else that bound. */
  readonly totalSize: number;
}

/**
 * The transitive users and services of `group` after `after` (a member, from
 * a page token) with the computed `role` when one is asked for: at most
 * `pageSize`, and whether more follow. The total is counted exactly when
 * the bound says the listing is no longer than the longest page (reading it
 * costs no more than a page may); beyond that it is the bound.
 */
export async function transitivePage(
  ctx: AppContext,
  group: GroupNode,
  role: Role | undefined,
  after: string | undefined,
  pageSize: number,
  call: StoreCall,
): Promise<TransitivePage> {
  const now = ctx.clock();
  const subtree = await loadSubtree(ctx, group, now, call);
  const matches = (membership: MembershipRecord): boolean => role === undefined || membership.role === role;
  const page: MembershipRecord[] = [];
  for await (const membership of transitiveMembers(ctx, group, subtree, now, after, pageSize + 1, call)) {
    if (!matches(membership)) continue;
    page.push(membership);
    if (page.length > pageSize) break;
  }
  let totalSize = transitiveTotalBound(group, subtree, role);
  if (totalSize <= MAX_PAGE_SIZE) {
    totalSize = 0;
    for await (const membership of transitiveMembers(ctx, group, subtree, now, undefined, MAX_PAGE_SIZE + 1, call)) {
      if (matches(membership)) totalSize += 1;
    }
  }
  return { memberships: page.slice(0, pageSize), more: page.length > pageSize, totalSize };
}

/**
 * Every transitive member of `group` after `after`, in member order: the
 * sources' keyset batches of `batch` members merged; a member is yielded once
 * every source that may still hold it has read past it.
 */
async function* transitiveMembers(
  ctx: AppContext,
  group: GroupNode,
  subtree: Subtree,
  now: Date,
  after: string | undefined,
  batch: number,
  call: StoreCall,
): AsyncGenerator<MembershipRecord> {
  const sources: Source[] = [group.id, ...subtree.reach.keys()].map((groupId) => ({
    groupId,
    edgeRole: groupId === group.id ? undefined : edgeRoleOf(subtree, groupId),
    buffer: [],
    last: after,
    exhausted: false,
  }));
  for (;;) {
    await Promise.all(
      sources
        .filter((source) => !source.exhausted && source.buffer.length === 0)
        .map(async (source) => {
          const read = await readsOf(ctx, call).memberships.usersAndServicesPage(source.groupId, now, source.last, batch, call);
          source.buffer = read;
          source.exhausted = read.length < batch;
          source.last = read.at(-1)?.member ?? source.last;
        }),
    );
    // Members up to the horizon are complete: every source that may still hold one has read past it.
    let horizon: string | undefined;
    for (const source of sources) {
      if (source.exhausted || source.last === undefined) continue;
      if (horizon === undefined || compareByCodePoint(source.last, horizon) < 0) horizon = source.last;
    }
    let next = smallestBuffered(sources);
    if (next === undefined) return;
    while (next !== undefined && (horizon === undefined || compareByCodePoint(next, horizon) <= 0)) {
      const membership = mergeMember(group.id, next, sources, subtree);
      if (membership !== undefined) yield membership;
      next = smallestBuffered(sources);
    }
  }
}

function edgeRoleOf(subtree: Subtree, groupId: string): Role | undefined {
  let role: Role | undefined;
  for (const via of subtree.reach.get(groupId) ?? []) role = maxRole(role, subtree.edges.get(via)?.role);
  return role;
}

function smallestBuffered(sources: readonly Source[]): string | undefined {
  let smallest: string | undefined;
  for (const source of sources) {
    const head = source.buffer[0]?.member;
    if (head !== undefined && (smallest === undefined || compareByCodePoint(head, smallest) < 0)) smallest = head;
  }
  return smallest;
}

/**
 * Takes `member` off the head of every source holding it and returns its
 * transitive membership: the highest role of its direct membership and of
 * the edges of the groups it comes through; those direct member groups as
 * via_group_ids (empty for a direct member); times and creator from the
 * direct membership, else from the edge of the first of those groups.
 */
function mergeMember(groupId: string, member: string, sources: readonly Source[], subtree: Subtree): MembershipRecord | undefined {
  let direct: MembershipRecord | undefined;
  let role: Role | undefined;
  const vias = new Set<string>();
  for (const source of sources) {
    if (source.buffer[0]?.member !== member) continue;
    const record = source.buffer.shift();
    if (source.groupId === groupId) {
      direct = record;
      role = maxRole(role, record?.role);
    } else {
      role = maxRole(role, source.edgeRole);
      for (const via of subtree.reach.get(source.groupId) ?? []) vias.add(via);
    }
  }
  const viaGroupIds = direct === undefined ? [...vias].sort() : [];
  const origin = direct ?? subtree.edges.get(viaGroupIds[0] ?? "");
  if (role === undefined || origin === undefined) return undefined;
  return { groupId, member, role, createTime: origin.createTime, updateTime: origin.updateTime, createdBy: origin.createdBy, viaGroupIds };
}

/**
 * An upper bound of the transitive listing's size, from member counts alone:
 * the users and services of the top group and of each live group below it,
 * a principal counting once per group it is a direct member of; with a role
 * filter, the groups below whose edges grant another role are left out (their
 * members hold a different role). Exact when every principal comes one way.
 */
function transitiveTotalBound(group: GroupNode, subtree: Subtree, role: Role | undefined): number {
  const usersAndServices = (g: GroupNode): number => Math.max(0, g.memberCount - (subtree.groupMembers.get(g.id) ?? 0));
  let total = usersAndServices(group);
  for (const [id, below] of subtree.groups) {
    if (!subtree.reach.has(id)) continue;
    if (role === undefined || edgeRoleOf(subtree, id) === role) total += usersAndServices(below);
  }
  return total;
}
