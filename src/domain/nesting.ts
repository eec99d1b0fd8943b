/**
 * Rules for nested groups: adding `group:<child>` as a member of `parent`
 * must not close a cycle and must not make a chain of group-in-group edges
 * longer than MAX_NESTING_DEPTH. The app loads the neighbourhood (bounded by
 * the limit) and these pure functions decide.
 */
import { failedPrecondition, type RosterError } from "./errors.ts";

/** The longest allowed chain of group-in-group membership edges. */
export const MAX_NESTING_DEPTH = 32;

/**
 * Group-to-group edges in one direction, e.g. upward: group id → ids of the
 * groups it is a direct member of. A group without an entry has no edges.
 */
export type GroupEdges = ReadonlyMap<string, readonly string[]>;

/** The data the app supplies to check a new edge `child ∈ parent`. */
export interface NewEdge {
  readonly parentId: string;
  readonly childId: string;
  /**
   * Upward edges of every group reachable upward from the parent (the parent
   * included), at least MAX_NESTING_DEPTH + 1 levels deep or to the top.
   * Include edges through deleted groups: undeleting one would revive them.
   */
  readonly upward: GroupEdges;
  /** Length (in edges) of the longest chain of member groups below the child; 0 when it has none. */
  readonly depthBelowChild: number;
}

/** Why a new edge is refused. */
export type NestingViolation =
  /** The groups of the cycle in containment order, from the parent back to it ("A → A" for a group added to itself). */
  | { readonly kind: "cycle"; readonly cycle: readonly string[] }
  /** The chain the edge would make is longer than MAX_NESTING_DEPTH. */
  | { readonly kind: "depth" };

/**
 * What the new edge would break: a cycle (the shortest one, "A → B → C → A"
 * when adding group:B to A while A is in C and C in B), a chain deeper than
 * MAX_NESTING_DEPTH, or nothing (undefined).
 */
export function nestingViolation(edge: NewEdge): NestingViolation | undefined {
  const path = findUpwardPath(edge.parentId, edge.childId, edge.upward);
  if (path !== undefined) return { kind: "cycle", cycle: [edge.parentId, ...path.reverse()] };
  const depth = longestChain(edge.parentId, edge.upward) + 1 + edge.depthBelowChild;
  return depth > MAX_NESTING_DEPTH ? { kind: "depth" } : undefined;
}

/**
 * The FAILED_PRECONDITION refusing `edge` for `violation`. Errors never
 * reveal groups the caller cannot see: a cycle names only the groups
 * `isVisible` says the caller sees (see `describeCycle`), and a refusal for
 * depth does not count levels, which may run through groups it cannot see.
 */
export function nestingRefusal(edge: NewEdge, violation: NestingViolation, isVisible: (groupId: string) => boolean): RosterError {
  const adding = `adding group:${edge.childId} to ${edge.parentId}`;
  if (violation.kind === "cycle") return failedPrecondition(`${adding} would close the cycle ${describeCycle(violation.cycle, isVisible)}`);
  return failedPrecondition(`${adding} would nest groups deeper than the limit of ${MAX_NESTING_DEPTH} levels`);
}

const hiddenGroups = "…";

/**
 * A cycle as errors write it: its groups in order joined by " → ", each run
 * of groups the caller cannot see written as one "…" (so neither their ids
 * nor their number show), followed by a note saying so when there is one.
 */
export function describeCycle(cycle: readonly string[], isVisible: (groupId: string) => boolean): string {
  const parts: string[] = [];
  for (const groupId of cycle) {
    const part = isVisible(groupId) ? groupId : hiddenGroups;
    if (part !== hiddenGroups || parts.at(-1) !== hiddenGroups) parts.push(part);
  }
  const text = parts.join(" → ");
  return parts.includes(hiddenGroups) ? `${text} (${hiddenGroups} stands for groups you cannot see)` : text;
}

/**
 * The shortest path from `from` to `to` following `edges` (both ends
 * included; `[from]` when they are equal), or undefined when unreachable.
 * Breadth-first, so the cycle reported is the shortest one.
 */
export function findUpwardPath(from: string, to: string, edges: GroupEdges): string[] | undefined {
  const previous = new Map<string, string | undefined>([[from, undefined]]);
  let frontier = [from];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const node of frontier) {
      if (node === to) return pathTo(node, previous);
      for (const neighbour of edges.get(node) ?? []) {
        if (previous.has(neighbour)) continue;
        previous.set(neighbour, node);
        next.push(neighbour);
      }
    }
    frontier = next;
  }
  return undefined;
}

function pathTo(node: string, previous: ReadonlyMap<string, string | undefined>): string[] {
  const path: string[] = [];
  for (let at: string | undefined = node; at !== undefined; at = previous.get(at)) path.push(at);
  return path.reverse();
}

/**
 * Length in edges of the longest chain starting at `start` along `edges`
 * (0 when it has none). Stops counting at MAX_NESTING_DEPTH + 1, which is
 * enough to know a limit is exceeded and bounds the work on bad data (an
 * existing cycle counts as too deep rather than looping).
 */
export function longestChain(start: string, edges: GroupEdges): number {
  const cap = MAX_NESTING_DEPTH + 1;
  const memo = new Map<string, number>();
  const onPath = new Set<string>();
  const visit = (node: string, level: number): number => {
    if (level >= cap || onPath.has(node)) return cap;
    const known = memo.get(node);
    if (known !== undefined) return Math.min(cap, known);
    onPath.add(node);
    let best = 0;
    for (const neighbour of edges.get(node) ?? []) {
      best = Math.max(best, 1 + visit(neighbour, level + 1));
      if (best >= cap) break;
    }
    onPath.delete(node);
    const result = Math.min(cap, best);
    memo.set(node, result);
    return result;
  };
  return visit(start, 0);
}
