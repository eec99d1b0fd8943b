/**
 * The groups a principal belongs to, directly or through nested groups: the
 * upward closure every access decision starts from.
 *
 * Walked level by level with one indexed `$in` query on memberships.member
 * per level, then one projection query for the states of every group
 * reached, so the work is proportional to the principal's own groups, never
 * to the size of a collection, and bounded by MAX_NESTING_DEPTH + 1 levels.
 * ($graphLookup would do it in one round trip, but the embedded store runs
 * it, and $lookup, as scans: measured 10-40x slower than these finds.) DELETED groups
 * break the chain: an edge into one is recorded (its own ADMINs may still
 * manage it) but never followed, and it grants nothing elsewhere.
 *
 * Only edges that confer at the walk's instant are followed (the domain's
 * `confers`: ACTIVE and not past their expire_time); the principal's own
 * pending invitations are recorded (an invitee may see the group).
 */
import { confers, hasExpired, statusOf } from "../domain/membership-status.ts";
import type { MembershipStatus, Role } from "../domain/model.ts";
import { MAX_NESTING_DEPTH } from "../domain/nesting.ts";
import { maxRole } from "../domain/permissions.ts";
import { partitionPoint } from "../domain/partition-point.ts";
import { groupIdOfPrincipal, groupPrincipal } from "../domain/principal.ts";
import type { MembershipEdge } from "../storage/membership-store.ts";
import type { StoreCall } from "../storage/store-call.ts";
import type { AppContext } from "./app-context.ts";
import { readsOf } from "./read-source.ts";
import { createMemoSlot, memoized, type RequestMemo } from "./request-memo.ts";

export interface PrincipalClosure {
  readonly principal: string;
  /** Live groups the principal is in, with the highest role of any edge into each from the principal or the closure. */
  readonly roles: ReadonlyMap<string, Role>;
  /** Live groups the principal is a direct member of, with that role. */
  readonly direct: ReadonlyMap<string, Role>;
  /** Deleted groups reached by an edge (not followed further), with the highest role. */
  readonly deletedRoles: ReadonlyMap<string, Role>;
  /**
   * For each live group, the group it was first reached from ("" = the
   * principal itself). Breadth-first, so following it gives a shortest path.
   */
  readonly reachedFrom: ReadonlyMap<string, string>;
  /**
   * For each live group, the member ("" = the principal itself, else a group
   * id) whose edge into it carries the group's highest role, shallowest first:
   * the last hop of the path that explains the role CheckMembership reports.
   */
  readonly bestRoleFrom: ReadonlyMap<string, string>;
  /** The principal and `group:<id>` of each live group in `roles`: whom ACL entries may name. */
  readonly aclPrincipals: ReadonlySet<string>;
  /** The principal's own pending (INVITED, REQUESTED), unexpired memberships, by group. */
  readonly pending: ReadonlyMap<string, MembershipEdge>;
  /** The expire_time of the principal's own conferring memberships that have one, by group. */
  readonly directExpireTimes: ReadonlyMap<string, Date>;
  /** The instant the closure was read at: memberships expired then confer nothing in it. */
  readonly readAt: Date;
  /**
   * Epoch ms of the first expire_time after `readAt` among the memberships
   * the walk saw (Infinity: none): the closure holds until then, and so does
   * whatever is derived from it and the same facts (access-facts.ts keeps
   * such values in the read model's memo that long).
   */
  readonly validUntilMs: number;
}

/** Closures by principal. */
const closureSlot = createMemoSlot<PrincipalClosure>("principal closure");

/**
 * Loads the closure, reusing the request memo's copy when there is one, and
 * the read model's copy while its facts are unchanged (facts-memo.ts): a
 * caller in 2,000 groups walked them all on every call, which cost more as
 * the graph around them grew (`npm run bench:scale`).
 */
export function loadPrincipalClosure(
  ctx: AppContext,
  principal: string,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<PrincipalClosure> {
  return memoized(memo, call, closureSlot, principal, () => keptOrWalked(ctx, principal, call));
}

async function keptOrWalked(ctx: AppContext, principal: string, call: StoreCall): Promise<PrincipalClosure> {
  const facts = readsOf(ctx, call).facts;
  if (facts === undefined) return walkUpward(ctx, principal, call);
  const readAt = ctx.clock();
  const kept = facts.get(closureSlot, principal, readAt.getTime());
  // Nothing it holds changes before validUntil, so it is the closure at this instant too.
  if (kept !== undefined) return { ...kept, readAt };
  const generation = facts.generation();
  const closure = await walkUpward(ctx, principal, call);
  facts.set(closureSlot, principal, closure, {
    generation,
    validUntilMs: closure.validUntilMs,
    weight: closure.roles.size + closure.pending.size,
  });
  return closure;
}

/** The closure, holding until its `validUntilMs` (the first expire_time of a membership it saw). */
async function walkUpward(ctx: AppContext, principal: string, call: StoreCall): Promise<PrincipalClosure> {
  const reads = readsOf(ctx, call);
  const readAt = ctx.clock();
  let validUntilMs = Number.POSITIVE_INFINITY;
  const edgesByMember = new Map<string, MembershipEdge[]>();
  const pending = new Map<string, MembershipEdge>();
  const directExpireTimes = new Map<string, Date>();
  const reached = new Set<string>();
  const startGroup = groupIdOfPrincipal(principal);
  if (startGroup !== undefined) reached.add(startGroup);

  // Load the edges level by level, through deleted groups too (rare, and it
  // saves a state query per level); states are fetched once at the end.
  let frontier = [principal];
  for (let level = 0; frontier.length > 0; level++) {
    if (level > MAX_NESTING_DEPTH) {
      // Writes refuse chains deeper than the limit, so this means the data
      // broke an invariant; stop rather than walk on.
      ctx.logger?.warn({ principal, level }, "membership chain deeper than the nesting limit; walk truncated");
      break;
    }
    const next: string[] = [];
    for (const edge of await reads.memberships.edgesOfMembers(frontier, call)) {
      const expiresAt = edge.expireTime?.getTime();
      if (expiresAt !== undefined && expiresAt > readAt.getTime() && expiresAt < validUntilMs) validUntilMs = expiresAt;
      if (!confers(edge, readAt)) {
        if (level === 0 && !hasExpired(edge, readAt)) pending.set(edge.groupId, edge);
        continue;
      }
      if (level === 0 && edge.expireTime !== undefined) directExpireTimes.set(edge.groupId, edge.expireTime);
      const list = edgesByMember.get(edge.member) ?? [];
      list.push(edge);
      edgesByMember.set(edge.member, list);
      if (!reached.has(edge.groupId)) {
        reached.add(edge.groupId);
        next.push(groupPrincipal(edge.groupId));
      }
    }
    frontier = next;
  }
  const states = await reads.groups.statesOf([...reached], call);

  const roles = new Map<string, Role>();
  const direct = new Map<string, Role>();
  const deletedRoles = new Map<string, Role>();
  const reachedFrom = new Map<string, string>();
  const bestRoleFrom = new Map<string, string>();
  // A deleted (or missing) group is in nothing: its memberships confer nothing.
  if (startGroup !== undefined && states.get(startGroup) !== "ACTIVE") {
    return closureOf(principal, roles, direct, deletedRoles, reachedFrom, bestRoleFrom, {
      pending: new Map(),
      directExpireTimes: new Map(),
      readAt,
      validUntilMs,
    });
  }
  // Breadth-first over live groups, so `reachedFrom` gives shortest paths.
  let queue = [principal];
  const expanded = new Set<string>(queue);
  while (queue.length > 0) {
    const nextQueue: string[] = [];
    for (const member of queue) {
      for (const edge of edgesByMember.get(member) ?? []) {
        const state = states.get(edge.groupId);
        if (state === undefined) continue; // a membership of a group that no longer exists
        if (state === "DELETED") {
          deletedRoles.set(edge.groupId, maxRole(deletedRoles.get(edge.groupId), edge.role) ?? edge.role);
          continue;
        }
        if (edge.groupId === startGroup) continue;
        const from = member === principal ? "" : (groupIdOfPrincipal(member) ?? "");
        const held = roles.get(edge.groupId);
        // Strictly higher only: breadth-first order keeps the shallowest edge among equals.
        if (held === undefined || maxRole(held, edge.role) !== held) bestRoleFrom.set(edge.groupId, from);
        roles.set(edge.groupId, maxRole(held, edge.role) ?? edge.role);
        if (member === principal) direct.set(edge.groupId, maxRole(direct.get(edge.groupId), edge.role) ?? edge.role);
        const groupMember = groupPrincipal(edge.groupId);
        if (!expanded.has(groupMember)) {
          expanded.add(groupMember);
          reachedFrom.set(edge.groupId, from);
          nextQueue.push(groupMember);
        }
      }
    }
    queue = nextQueue;
  }
  return closureOf(principal, roles, direct, deletedRoles, reachedFrom, bestRoleFrom, { pending, directExpireTimes, readAt, validUntilMs });
}

function closureOf(
  principal: string,
  roles: Map<string, Role>,
  direct: Map<string, Role>,
  deletedRoles: Map<string, Role>,
  reachedFrom: Map<string, string>,
  bestRoleFrom: Map<string, string>,
  own: Pick<PrincipalClosure, "pending" | "directExpireTimes" | "readAt" | "validUntilMs">,
): PrincipalClosure {
  const aclPrincipals = new Set<string>([principal]);
  for (const id of roles.keys()) aclPrincipals.add(groupPrincipal(id));
  return { principal, roles, direct, deletedRoles, reachedFrom, bestRoleFrom, aclPrincipals, ...own };
}

/** Sorted ids of closures' maps, by map (see `groupIdsAfter`). */
const idsInOrder = new WeakMap<ReadonlyMap<string, Role>, readonly string[]>();

/**
 * The ids of `groups` (a closure's `roles` or `direct`) above `after`, in
 * ascending code-unit order, as ListPrincipalGroups pages through them. A
 * closure's maps never change once built and a kept closure is answered
 * again (facts-memo.ts), so they are sorted once per closure, not per page: a
 * caller in 2,000 groups sorted them all on every call.
 */
export function groupIdsAfter(groups: ReadonlyMap<string, Role>, after: string | undefined): string[] {
  let ids = idsInOrder.get(groups);
  if (ids === undefined) idsInOrder.set(groups, (ids = [...groups.keys()].sort()));
  if (after === undefined) return ids.slice();
  const sorted = ids;
  return ids.slice(partitionPoint(0, ids.length, (mid) => (sorted[mid] as string) <= after));
}

/** Whether a principal is a member of a group, as CheckMembership answers it. */
export interface MembershipAnswer {
  readonly isMember: boolean;
  /** Highest role; undefined when not a member. */
  readonly role: Role | undefined;
  /** Group ids from the principal's direct group up to the group; [] when not a member. */
  readonly path: readonly string[];
  /** ACTIVE when a member; else the status of a pending direct membership; undefined: none. */
  readonly status: MembershipStatus | undefined;
  /** The expire_time of the principal's direct membership of the group, when it has one. */
  readonly expireTime: Date | undefined;
}

/**
 * The closure's principal in `groupId`, directly (`directOnly`) or through
 * nested groups: CheckMembership and every group of CheckMemberships, so
 * that one walk answers any number of groups alike. A deleted group, or a
 * deleted principal group, is in nothing (the closure holds live groups only).
 */
export function membershipIn(closure: PrincipalClosure, groupId: string, directOnly: boolean): MembershipAnswer {
  const role = (directOnly ? closure.direct : closure.roles).get(groupId);
  const expireTime = closure.directExpireTimes.get(groupId);
  if (role !== undefined)
    return { isMember: true, role, path: directOnly ? [groupId] : pathTo(closure, groupId), status: "ACTIVE", expireTime };
  // A pending direct membership, unless the principal is a member through nested groups (a direct check) too.
  const pending = closure.roles.has(groupId) ? undefined : closure.pending.get(groupId);
  return {
    isMember: false,
    role: undefined,
    path: [],
    status: pending === undefined ? undefined : statusOf(pending),
    expireTime: pending?.expireTime,
  };
}

/**
 * Group ids from the principal's direct group up to `groupId`, or [] when
 * `groupId` is not in the closure. The last hop is the edge that carries the
 * principal's highest role in `groupId` (so the path explains the role
 * reported with it); the hops before it follow a shortest path.
 */
export function pathTo(closure: PrincipalClosure, groupId: string): string[] {
  if (!closure.roles.has(groupId)) return [];
  const path = [groupId];
  for (let at = closure.bestRoleFrom.get(groupId) ?? ""; at !== ""; at = closure.reachedFrom.get(at) ?? "") {
    path.push(at);
    // Writes refuse cycles and deep chains; never loop on broken data.
    if (path.length > MAX_NESTING_DEPTH + 1) break;
  }
  return path.reverse();
}
