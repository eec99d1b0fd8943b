/**
 * Downward expansion of a group for transitive ListMemberships: every user
 * and service reached through nested groups, with the highest role (a member
 * group's members hold the role of that group's edge into the top group) and
 * the direct member groups it comes through.
 *
 * The subgraph below the group is loaded level by level (one `$in` query on
 * memberships.groupId per level, one state projection per level), at most
 * MAX_NESTING_DEPTH + 1 levels; DELETED groups are not entered. The result
 * is everything the group transitively contains, which is what the request
 * asks for; no other part of the collection is read.
 */
import type { MembershipRecord, Role } from "../domain/model.ts";
import { MAX_NESTING_DEPTH } from "../domain/nesting.ts";
import { maxRole } from "../domain/permissions.ts";
import { groupIdOfPrincipal } from "../domain/principal.ts";
import type { StoreCall } from "../storage/store-call.ts";
import type { AppContext } from "./app-context.ts";

interface Reached {
  role: Role | undefined;
  direct: MembershipRecord | undefined;
  vias: Set<string>;
}

/** The transitive users and services of `groupId`, sorted by member. */
export async function expandMembers(ctx: AppContext, groupId: string, call: StoreCall): Promise<MembershipRecord[]> {
  const directMembers = await ctx.memberships.membershipsOfGroups([groupId], false, call);
  const leaves = new Map<string, Reached>();
  const reach = (member: string): Reached => {
    let reached = leaves.get(member);
    if (reached === undefined) {
      reached = { role: undefined, direct: undefined, vias: new Set() };
      leaves.set(member, reached);
    }
    return reached;
  };

  const directGroupEdges = new Map<string, MembershipRecord>();
  for (const membership of directMembers) {
    const memberGroup = groupIdOfPrincipal(membership.member);
    if (memberGroup === undefined) {
      const reached = reach(membership.member);
      reached.role = maxRole(reached.role, membership.role);
      reached.direct = membership;
    } else {
      directGroupEdges.set(memberGroup, membership);
    }
  }

  // Load the live subgraph below the direct member groups: group → its members.
  const children = new Map<string, MembershipRecord[]>();
  const states = await ctx.groups.statesOf([...directGroupEdges.keys()], call);
  const live = new Set([...states].filter(([, state]) => state === "ACTIVE").map(([id]) => id));
  const seen = new Set<string>([groupId, ...live]);
  let frontier = [...live];
  for (let level = 0; frontier.length > 0 && level <= MAX_NESTING_DEPTH; level++) {
    const found = await ctx.memberships.membershipsOfGroups(frontier, false, call);
    const newGroups: string[] = [];
    for (const membership of found) {
      const list = children.get(membership.groupId) ?? [];
      list.push(membership);
      children.set(membership.groupId, list);
      const memberGroup = groupIdOfPrincipal(membership.member);
      if (memberGroup !== undefined && !seen.has(memberGroup)) {
        seen.add(memberGroup);
        newGroups.push(memberGroup);
      }
    }
    const newStates = await ctx.groups.statesOf(newGroups, call);
    frontier = newGroups.filter((id) => newStates.get(id) === "ACTIVE");
    for (const id of frontier) live.add(id);
  }

  // Every leaf below each live direct member group gets that group's edge role.
  for (const [via, edge] of directGroupEdges) {
    if (!live.has(via)) continue;
    const visited = new Set<string>([via]);
    const stack = [via];
    while (stack.length > 0) {
      const current = stack.pop();
      if (current === undefined) break;
      for (const membership of children.get(current) ?? []) {
        const memberGroup = groupIdOfPrincipal(membership.member);
        if (memberGroup === undefined) {
          const reached = reach(membership.member);
          reached.role = maxRole(reached.role, edge.role);
          reached.vias.add(via);
        } else if (live.has(memberGroup) && !visited.has(memberGroup)) {
          visited.add(memberGroup);
          stack.push(memberGroup);
        }
      }
    }
  }

  const result: MembershipRecord[] = [];
  for (const [member, reached] of leaves) {
    if (reached.role === undefined) continue;
    // As the proto documents: empty for a direct member (its role still
    // counts the groups it also comes through).
    const viaGroupIds = reached.direct === undefined ? [...reached.vias].sort() : [];
    // Times and creator: the direct membership when there is one, else the
    // edge of the first (sorted) member group it comes through.
    const source = reached.direct ?? directGroupEdges.get(viaGroupIds[0] ?? "");
    if (source === undefined) continue;
    result.push({
      groupId,
      member,
      role: reached.role,
      createTime: source.createTime,
      updateTime: source.updateTime,
      createdBy: source.createdBy,
      viaGroupIds,
    });
  }
  return result.sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}
