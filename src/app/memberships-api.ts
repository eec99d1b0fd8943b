/**
 * MembershipService use cases. Access was decided before these run (see
 * index.ts), except ListPrincipalGroups, which filters with the domain's
 * `canListMembers`. The rules enforced here whatever the caller: idempotent
 * add, not_found for non-members, the last direct ADMIN stays, nesting
 * without cycles or excessive depth, and an exact member_count (changed in
 * the same transaction as the membership).
 */
import { canListMembers, groupNotFound } from "../domain/access-policy.ts";
import { invalidArgument, isRosterError, notFound } from "../domain/errors.ts";
import { ensureGroupActive } from "../domain/group-lifecycle.ts";
import { normalizePageSize, validateGroupId } from "../domain/group-validation.ts";
import { ensureKeepsAnAdmin } from "../domain/membership-rules.ts";
import type { Caller, GroupRecord, MembershipRecord, Role } from "../domain/model.ts";
import { decodePageToken, encodePageToken, requestFingerprint } from "../domain/page-token.ts";
import { parsePrincipal } from "../domain/principal.ts";
import { groupRecordOf, type GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { runTransaction } from "../storage/transaction.ts";
import { accessFactsOf, loadAncestors, loadGroup } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import { storeCallOf, type CallOptions } from "./call-options.ts";
import { ensureEdgeAllowed } from "./nesting-graph.ts";
import { loadPrincipalClosure, pathTo } from "./principal-closure.ts";
import { transitivePage } from "./transitive-members.ts";

export interface AddMemberResult {
  readonly membership: MembershipRecord;
  /** false: already a member, role unchanged. */
  readonly created: boolean;
}

export interface ListMembershipsQuery {
  readonly groupId: string;
  /** undefined = any role. */
  readonly role: Role | undefined;
  readonly transitive: boolean;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface MembershipPage {
  /** Ordered by member. */
  readonly memberships: readonly MembershipRecord[];
  readonly nextPageToken: string;
  readonly totalSize: number;
}

export interface ListPrincipalGroupsQuery {
  /** "" = the caller. */
  readonly principal: string;
  readonly transitive: boolean;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface PrincipalGroupEntry {
  readonly group: GroupRecord;
  /** Highest role, direct or through nested groups. */
  readonly role: Role;
  readonly direct: boolean;
}

export interface PrincipalGroupPage {
  /** Ordered by group id. */
  readonly entries: readonly PrincipalGroupEntry[];
  readonly nextPageToken: string;
}

export interface CheckMembershipQuery {
  readonly groupId: string;
  readonly principal: string;
  readonly directOnly: boolean;
}

export interface CheckMembershipResult {
  readonly isMember: boolean;
  readonly role: Role | undefined;
  /** Group ids from the principal's direct group up to groupId; [] when not a member. */
  readonly path: readonly string[];
}

export interface MembershipsApi {
  /** Idempotent; `group:<id>` members are checked for cycles and depth. */
  add(caller: Caller, groupId: string, member: string, role: Role, options?: CallOptions): Promise<AddMemberResult>;
  /** not_found for a non-member; never removes the last direct ADMIN. Returns the removed membership. */
  remove(caller: Caller, groupId: string, member: string, options?: CallOptions): Promise<MembershipRecord>;
  /** `role` undefined → invalid_argument("role", ...); never demotes the last direct ADMIN. */
  updateRole(caller: Caller, groupId: string, member: string, role: Role | undefined, options?: CallOptions): Promise<MembershipRecord>;
  /** The direct membership; not_found for a non-member. */
  get(caller: Caller, groupId: string, member: string, options?: CallOptions): Promise<MembershipRecord>;
  list(caller: Caller, query: ListMembershipsQuery, options?: CallOptions): Promise<MembershipPage>;
  /** FILTERED: for someone else, only groups whose members the caller may list. */
  listPrincipalGroups(caller: Caller, query: ListPrincipalGroupsQuery, options?: CallOptions): Promise<PrincipalGroupPage>;
  check(caller: Caller, query: CheckMembershipQuery, options?: CallOptions): Promise<CheckMembershipResult>;
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function notAMember(groupId: string, member: string): Error {
  return notFound(`${member} is not a member of group "${groupId}"`);
}

async function requireGroup(ctx: AppContext, id: string, call: StoreCall): Promise<GroupNode> {
  const group = await ctx.groups.get(id, call);
  if (group === undefined) throw groupNotFound(id);
  return group;
}

/** A role a request must name (UpdateMemberRole). */
function requireRole(role: Role | undefined, field: string): Role {
  if (role === undefined) throw invalidArgument(field, "is required (MEMBER, MANAGER or ADMIN)");
  return role;
}

export function createMembershipsApi(ctx: AppContext): MembershipsApi {
  return {
    async add(caller, groupId, member, role, options) {
      validateGroupId(groupId, "group_id");
      const principal = parsePrincipal(member, "member");
      const call = storeCallOf(options);
      const attempt = () =>
        runTransaction(ctx.database, call, async (tx) => {
          const group = await requireGroup(ctx, groupId, tx);
          ensureGroupActive(group);
          const existing = await ctx.memberships.get(groupId, principal.principal, tx);
          if (existing !== undefined) return { membership: existing, created: false };
          if (principal.kind === "group") {
            const memberGroup = await requireGroup(ctx, principal.id, tx);
            ensureGroupActive(memberGroup);
            await ctx.nestingLock.take(tx);
            await ensureEdgeAllowed(ctx, caller, groupId, principal.id, tx);
          }
          const now = ctx.clock();
          const membership: MembershipRecord = {
            groupId,
            member: principal.principal,
            role,
            createTime: now,
            updateTime: now,
            createdBy: caller.principal,
          };
          await ctx.memberships.insert(membership, tx);
          await ctx.groups.bumpMembership(groupId, 1, tx);
          return { membership, created: true };
        });
      try {
        return await attempt();
      } catch (error) {
        // A concurrent AddMember of the same member committed first: now it
        // is an existing member, which is an idempotent success.
        if (isRosterError(error) && error.kind === "already_exists") return attempt();
        throw error;
      }
    },

    async remove(_caller, groupId, member, options) {
      validateGroupId(groupId, "group_id");
      const principal = parsePrincipal(member, "member").principal;
      return runTransaction(ctx.database, storeCallOf(options), async (tx) => {
        const group = await requireGroup(ctx, groupId, tx);
        ensureGroupActive(group);
        const existing = await ctx.memberships.get(groupId, principal, tx);
        if (existing === undefined) throw notAMember(groupId, principal);
        if (existing.role === "ADMIN") {
          const directAdminCount = await ctx.memberships.countWithRole(groupId, "ADMIN", tx);
          ensureKeepsAnAdmin({ groupId, member: principal, currentRole: existing.role, newRole: undefined, directAdminCount });
        }
        const removed = await ctx.memberships.delete(groupId, principal, tx);
        if (removed === undefined) throw notAMember(groupId, principal);
        await ctx.groups.bumpMembership(groupId, -1, tx);
        return removed;
      });
    },

    async updateRole(_caller, groupId, member, role, options) {
      validateGroupId(groupId, "group_id");
      const principal = parsePrincipal(member, "member").principal;
      const newRole = requireRole(role, "role");
      return runTransaction(ctx.database, storeCallOf(options), async (tx) => {
        const group = await requireGroup(ctx, groupId, tx);
        ensureGroupActive(group);
        const existing = await ctx.memberships.get(groupId, principal, tx);
        if (existing === undefined) throw notAMember(groupId, principal);
        if (existing.role === newRole) return existing;
        if (existing.role === "ADMIN") {
          const directAdminCount = await ctx.memberships.countWithRole(groupId, "ADMIN", tx);
          ensureKeepsAnAdmin({ groupId, member: principal, currentRole: existing.role, newRole, directAdminCount });
        }
        const updated = await ctx.memberships.setRole(groupId, principal, newRole, ctx.clock(), tx);
        if (updated === undefined) throw notAMember(groupId, principal);
        // Serialises role changes with other membership changes of the group
        // (two admins demoting each other concurrently must conflict).
        await ctx.groups.bumpMembership(groupId, 0, tx);
        return updated;
      });
    },

    async get(_caller, groupId, member, options) {
      validateGroupId(groupId, "group_id");
      const principal = parsePrincipal(member, "member").principal;
      const membership = await ctx.memberships.get(groupId, principal, storeCallOf(options));
      if (membership === undefined) throw notAMember(groupId, principal);
      return membership;
    },

    async list(caller, query, options) {
      validateGroupId(query.groupId, "group_id");
      const pageSize = normalizePageSize(query.pageSize);
      const fingerprint = requestFingerprint({
        caller: caller.principal,
        groupId: query.groupId,
        role: query.role,
        transitive: query.transitive,
      });
      const after = decodePageToken(query.pageToken, fingerprint, isString);
      const call = storeCallOf(options);
      const group = await loadGroup(ctx, query.groupId, call, options?.memo);
      if (group === undefined) throw groupNotFound(query.groupId);
      if (query.transitive) {
        const page = await transitivePage(ctx, group, query.role, after, pageSize, call);
        const last = page.memberships.at(-1);
        const nextPageToken = page.more && last !== undefined ? encodePageToken(last.member, fingerprint) : "";
        return { memberships: page.memberships, nextPageToken, totalSize: page.totalSize };
      }
      const [rows, totalSize] = await Promise.all([
        ctx.memberships.listPage(query.groupId, query.role, after, pageSize + 1, call),
        // member_count is kept exact with every membership change: counting would read the whole group.
        query.role === undefined ? Promise.resolve(group.memberCount) : ctx.memberships.countMembers(query.groupId, query.role, call),
      ]);
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken(last.member, fingerprint) : "";
      return { memberships: page, nextPageToken, totalSize };
    },

    async listPrincipalGroups(caller, query, options) {
      const principal = query.principal === "" ? caller.principal : parsePrincipal(query.principal, "principal").principal;
      const pageSize = normalizePageSize(query.pageSize);
      const fingerprint = requestFingerprint({ caller: caller.principal, principal, transitive: query.transitive });
      const after = decodePageToken(query.pageToken, fingerprint, isString);
      const call = storeCallOf(options);
      const closure = await loadPrincipalClosure(ctx, principal, call, options?.memo);
      const candidates = [...(query.transitive ? closure.roles : closure.direct).keys()]
        .filter((id) => after === undefined || id > after)
        .sort();
      // Someone else's groups: only those whose members the caller may list.
      const filtered = principal !== caller.principal && !caller.isSystemAdmin;
      const callerClosure = filtered ? await loadPrincipalClosure(ctx, caller.principal, call, options?.memo) : undefined;
      const entries: PrincipalGroupEntry[] = [];
      let more = false;
      const chunkSize = pageSize + 1;
      for (let offset = 0; offset < candidates.length && !more; offset += chunkSize) {
        const ids = candidates.slice(offset, offset + chunkSize);
        const found = new Map((await ctx.groups.getMany(ids, call)).map((group) => [group.id, group]));
        const ancestors = callerClosure === undefined ? new Map<string, GroupNode>() : await loadAncestors(ctx, [...found.values()], call);
        for (const id of ids) {
          const group = found.get(id);
          if (group?.state !== "ACTIVE") continue;
          if (callerClosure !== undefined && !canListMembers(accessFactsOf(caller, group, callerClosure, ancestors))) continue;
          if (entries.length === pageSize) {
            more = true;
            break;
          }
          const role = closure.roles.get(id) ?? closure.direct.get(id);
          if (role === undefined) continue;
          entries.push({ group: groupRecordOf(group), role, direct: closure.direct.has(id) });
        }
      }
      const last = entries.at(-1);
      return { entries, nextPageToken: more && last !== undefined ? encodePageToken(last.group.id, fingerprint) : "" };
    },

    async check(_caller, query, options) {
      validateGroupId(query.groupId, "group_id");
      const principal = parsePrincipal(query.principal, "principal");
      const call = storeCallOf(options);
      const group = await loadGroup(ctx, query.groupId, call, options?.memo);
      if (group === undefined) throw groupNotFound(query.groupId);
      const none = { isMember: false, role: undefined, path: [] };
      if (group.state !== "ACTIVE") return none;
      if (query.directOnly) {
        if (principal.kind === "group") {
          const state = (await ctx.groups.statesOf([principal.id], call)).get(principal.id);
          if (state !== "ACTIVE") return none;
        }
        const membership = await ctx.memberships.get(group.id, principal.principal, call);
        return membership === undefined ? none : { isMember: true, role: membership.role, path: [group.id] };
      }
      const closure = await loadPrincipalClosure(ctx, principal.principal, call, options?.memo);
      const role = closure.roles.get(group.id);
      if (role === undefined) return none;
      return { isMember: true, role, path: pathTo(closure, group.id) };
    },
  };
}
