/**
 * Loads the neighbourhood of a new group-in-group edge for the domain's
 * nesting rules (cycle and depth): the groups above the parent and the
 * longest chain of member groups below the child. Both walks include DELETED
 * groups, because undeleting one would revive its edges, and both stop after
 * MAX_NESTING_DEPTH + 1 levels, which is all the rules need to refuse.
 */
import type { Caller } from "../domain/model.ts";
import { longestChain, MAX_NESTING_DEPTH, nestingRefusal, nestingViolation, type GroupEdges, type NewEdge } from "../domain/nesting.ts";
import { groupIdOfPrincipal, groupPrincipal } from "../domain/principal.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { loadVisibleGroupIds } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";

/** Upward edges (group → groups it is a direct member of) of everything above `groupId`, itself included. */
export async function loadUpwardEdges(ctx: AppContext, groupId: string, call: StoreCall): Promise<GroupEdges> {
  const edges = new Map<string, string[]>();
  const seen = new Set<string>([groupId]);
  let frontier = [groupId];
  for (let level = 0; frontier.length > 0 && level <= MAX_NESTING_DEPTH + 1; level++) {
    const found = await ctx.memberships.edgesOfMembers(frontier.map(groupPrincipal), call);
    const next: string[] = [];
    for (const edge of found) {
      const child = groupIdOfPrincipal(edge.member);
      if (child === undefined) continue;
      const parents = edges.get(child) ?? [];
      parents.push(edge.groupId);
      edges.set(child, parents);
      if (!seen.has(edge.groupId)) {
        seen.add(edge.groupId);
        next.push(edge.groupId);
      }
    }
    frontier = next;
  }
  return edges;
}

/** Length in edges of the longest chain of member groups below `groupId` (0 when it has none). */
export async function loadDepthBelow(ctx: AppContext, groupId: string, call: StoreCall): Promise<number> {
  const edges = new Map<string, string[]>();
  const seen = new Set<string>([groupId]);
  let frontier = [groupId];
  for (let level = 0; frontier.length > 0 && level <= MAX_NESTING_DEPTH + 1; level++) {
    const found = await ctx.memberships.groupEdgesOf(frontier, call);
    const next: string[] = [];
    for (const membership of found) {
      const child = groupIdOfPrincipal(membership.member);
      if (child === undefined) continue;
      const children = edges.get(membership.groupId) ?? [];
      children.push(child);
      edges.set(membership.groupId, children);
      if (!seen.has(child)) {
        seen.add(child);
        next.push(child);
      }
    }
    frontier = next;
  }
  return longestChain(groupId, edges);
}

/**
 * Refuses the edge `group:childId ∈ parentId` (FAILED_PRECONDITION) when it
 * would close a cycle or nest too deep; a cycle's message names only the
 * groups on it that `caller` can see.
 */
export async function ensureEdgeAllowed(
  ctx: AppContext,
  caller: Caller,
  parentId: string,
  childId: string,
  call: StoreCall,
): Promise<void> {
  const edge = await loadNewEdge(ctx, parentId, childId, call);
  const violation = nestingViolation(edge);
  if (violation === undefined) return;
  const visible = violation.kind === "cycle" ? await loadVisibleGroupIds(ctx, caller, violation.cycle, call) : new Set<string>();
  throw nestingRefusal(edge, violation, (groupId) => visible.has(groupId));
}

/** Everything the nesting rules need for the edge `group:childId ∈ parentId`. */
async function loadNewEdge(ctx: AppContext, parentId: string, childId: string, call: StoreCall): Promise<NewEdge> {
  // Sequential: this runs inside a transaction, whose session must not carry concurrent operations.
  const upward = await loadUpwardEdges(ctx, parentId, call);
  const depthBelowChild = await loadDepthBelow(ctx, childId, call);
  return { parentId, childId, upward, depthBelowChild };
}
