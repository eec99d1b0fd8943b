/**
 * The read model as a ReadSource: the same read methods as the stores,
 * answered from the group graph and the principals' memberships in memory.
 * What is already one indexed range in the database and costs its page —
 * a page of a group's direct members, a member count by role, one direct
 * membership with its times — is read there: holding every user membership
 * would cost more memory than it saves.
 */
import type { ClusterTime } from "../../domain/consistency.ts";
import type { GroupState, MembershipRecord } from "../../domain/model.ts";
import { groupIdOfPrincipal } from "../../domain/principal.ts";
import type { GroupNode } from "../../storage/documents.ts";
import type { MembershipEdge } from "../../storage/membership-store.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import type { ReadSource } from "../read-source.ts";
import type { FactsMemo } from "./facts-memo.ts";
import type { GroupGraph } from "./group-graph.ts";
import type { PrincipalMemberships } from "./principal-memberships.ts";
import { visibleGroupsCount, visibleGroupsPage } from "./visible-groups.ts";

export interface ModelReadsDeps {
  readonly graph: GroupGraph;
  readonly principals: PrincipalMemberships;
  /** The database, for what the model leaves there (see the module comment). */
  readonly database: ReadSource;
  /** Resolves once the model has applied `time` (or the call must go on without it). */
  readonly applied: (time: ClusterTime, call: StoreCall) => Promise<void>;
  /** The model's memo of derived reads, forgotten at every change it applies. */
  readonly facts: FactsMemo;
}

export function createModelReads({ graph, principals, database, applied, facts }: ModelReadsDeps): ReadSource {
  const present = (ids: readonly string[]): GroupNode[] => {
    const found: GroupNode[] = [];
    for (const id of ids) {
      const group = graph.group(id);
      if (group !== undefined) found.push(group);
    }
    return found;
  };

  return {
    name: "read model",
    facts,
    groups: {
      get: (id) => Promise.resolve(graph.group(id)),
      getMany: (ids) => Promise.resolve(present([...new Set(ids)])),
      getLiveBySlug: (namespace, slug) => Promise.resolve(graph.liveBySlug(namespace, slug)),
      statesOf(ids) {
        const states = new Map<string, GroupState>();
        for (const group of present(ids)) states.set(group.id, group.state);
        return Promise.resolve(states);
      },
      idsGrantingTo(granted, permission) {
        // Built only when some principal is named by an ACL: most of a caller's thousands of groups are not.
        let grantedSet: Set<string> | undefined;
        const ids = new Set<string>();
        for (const principal of granted) {
          const named = graph.aclGroupsOf(principal);
          if (named === undefined) continue;
          const names = (grantedSet ??= new Set(granted));
          for (const id of named) {
            const group = graph.group(id);
            const grants = group?.acl.some(
              (entry) => names.has(entry.principal) && (permission === undefined || entry.permission === permission),
            );
            if (group?.state === "ACTIVE" && grants === true) ids.add(id);
          }
        }
        return Promise.resolve([...ids]);
      },
      listPage(criteria, order, after, limit, call) {
        // An administrator's scope is every group: the database's index walks it in order.
        if (criteria.scope.kind === "everything") return database.groups.listPage(criteria, order, after, limit, call);
        return Promise.resolve(visibleGroupsPage(graph, facts, criteria.scope, criteria, order, after, limit));
      },
      count(criteria, call) {
        if (criteria.scope.kind === "everything") return database.groups.count(criteria, call);
        return Promise.resolve(visibleGroupsCount(graph, facts, criteria.scope, criteria));
      },
    },
    memberships: {
      get(groupId, member, call) {
        const child = groupIdOfPrincipal(member);
        if (child === undefined) return database.memberships.get(groupId, member, call);
        return Promise.resolve(graph.parentsOf(child)?.get(groupId));
      },
      async edgesOfMembers(members, call) {
        // Every edge, pending and expired ones included, as the database answers: the closure judges
        // each with the domain's rule (membership-status.ts) at the time of the read.
        const edges: MembershipEdge[] = [];
        const others: string[] = [];
        for (const member of members) {
          const child = groupIdOfPrincipal(member);
          if (child === undefined) {
            others.push(member);
            continue;
          }
          edges.push(...(graph.parentsOf(child)?.values() ?? []));
        }
        if (others.length > 0) {
          const { byPrincipal, readAt } = await principals.get(others, call);
          await applied(readAt, call);
          for (const memberships of byPrincipal.values()) edges.push(...memberships.values());
        }
        return edges;
      },
      groupEdgesOf(groupIds) {
        const edges: MembershipRecord[] = [];
        for (const id of groupIds) edges.push(...(graph.memberGroupsOf(id)?.values() ?? []));
        return Promise.resolve(edges);
      },
      listPage: (groupId, role, afterMember, limit, call) => database.memberships.listPage(groupId, role, afterMember, limit, call),
      countMembers: (groupId, role, call) => database.memberships.countMembers(groupId, role, call),
      usersAndServicesPage: (groupId, now, afterMember, limit, call) =>
        database.memberships.usersAndServicesPage(groupId, now, afterMember, limit, call),
    },
  };
}
