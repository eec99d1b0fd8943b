/**
 * MembershipService use cases. Access was decided before these run (see
 * index.ts), except ListPrincipalGroups, which filters with the domain's
 * `canListMembers`. AddMember, RemoveMember and UpdateMemberRole are applied
 * by the batch engine as a chunk of one (batch/apply-chunk.ts), so they and
 * every batch operation share one decision (the domain's
 * `decideOperation`): idempotent add, not_found for non-members, the last
 * direct ADMIN stays, nesting without cycles or excessive depth, and an
 * exact member_count (changed in the same transaction as the membership).
 */
import { canCheckMembership, canListMembers, groupNotFound } from "../domain/access-policy.ts";
import { normalizePageSize, validateBatchGetIds, validateGroupId } from "../domain/group-validation.ts";
import { notAMember, type MembershipEffect } from "../domain/membership-operation.ts";
import type { Caller, GroupRecord, MembershipRecord, Role } from "../domain/model.ts";
import { decodePageToken, encodePageToken, requestFingerprint } from "../domain/page-token.ts";
import { parsePrincipal } from "../domain/principal.ts";
import { groupRecordOf, type GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { accessFactsOf, loadAncestors, loadGroup, loadVisibleGroupIds } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import { applyChunk, type ChunkDeps } from "./batch/apply-chunk.ts";
import type { BatchOperation } from "./batch/check-operation.ts";
import { changeOriginOf, storeCallOf, type CallOptions, type ChangeOptions } from "./call-options.ts";
import { readCallOf, readsOf } from "./read-source.ts";
import { loadPrincipalClosure, membershipIn, type MembershipAnswer } from "./principal-closure.ts";
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

/** Whether the principal is a member: `role` undefined and `path` [] when not. */
export type CheckMembershipResult = MembershipAnswer;

export interface CheckMembershipsQuery {
  readonly principal: string;
  /** 1-100 ids (invalid_argument "group_ids" otherwise); duplicates are answered once. */
  readonly groupIds: readonly string[];
  readonly directOnly: boolean;
}

export interface CheckMembershipsResult {
  /** One answer per group the caller may ask about, in request order. */
  readonly checks: readonly { readonly groupId: string; readonly result: CheckMembershipResult }[];
  /** Missing, or not for the caller to ask about, in request order. */
  readonly missingIds: readonly string[];
}

export interface MembershipsApi {
  /** Idempotent; `group:<id>` members are checked for cycles and depth. */
  add(caller: Caller, groupId: string, member: string, role: Role, options?: ChangeOptions): Promise<AddMemberResult>;
  /** not_found for a non-member; never removes the last direct ADMIN. Returns the removed membership. */
  remove(caller: Caller, groupId: string, member: string, options?: ChangeOptions): Promise<MembershipRecord>;
  /** `role` undefined → invalid_argument("role", ...); never demotes the last direct ADMIN. */
  updateRole(caller: Caller, groupId: string, member: string, role: Role | undefined, options?: ChangeOptions): Promise<MembershipRecord>;
  /** The direct membership; not_found for a non-member. */
  get(caller: Caller, groupId: string, member: string, options?: CallOptions): Promise<MembershipRecord>;
  list(caller: Caller, query: ListMembershipsQuery, options?: CallOptions): Promise<MembershipPage>;
  /** FILTERED: for someone else, only groups whose members the caller may list. */
  listPrincipalGroups(caller: Caller, query: ListPrincipalGroupsQuery, options?: CallOptions): Promise<PrincipalGroupPage>;
  check(caller: Caller, query: CheckMembershipQuery, options?: CallOptions): Promise<CheckMembershipResult>;
  /**
   * FILTERED: `check` for many groups from one walk up the principal's
   * groups; groups the caller may not ask about (the domain's
   * `canCheckMembership`, CheckMembership's rule) are missing ids.
   */
  checkMany(caller: Caller, query: CheckMembershipsQuery, options?: CallOptions): Promise<CheckMembershipsResult>;
}

/** A unary membership change as applied. */
interface AppliedOperation {
  readonly membership: MembershipRecord;
  readonly effect: MembershipEffect;
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

export function createMembershipsApi(ctx: AppContext): MembershipsApi {
  /**
   * `answers` about `principal` with paths naming only groups the caller can
   * see: someone else's path may go through groups hidden from the caller
   * (the group asked about is always visible to a caller who may ask).
   */
  async function withVisiblePaths(
    caller: Caller,
    principal: string,
    answers: readonly MembershipAnswer[],
    call: StoreCall,
  ): Promise<MembershipAnswer[]> {
    const onTheWay = new Set(answers.flatMap((answer) => answer.path.slice(0, -1)));
    if (principal === caller.principal || caller.isSystemAdmin || onTheWay.size === 0) return [...answers];
    const visible = await loadVisibleGroupIds(ctx, caller, [...onTheWay], call);
    return answers.map((answer) => ({ ...answer, path: answer.path.filter((id, i) => i === answer.path.length - 1 || visible.has(id)) }));
  }

  /**
   * Applies one operation the RPC pipeline authorized, as a chunk of one of
   * the batch engine: the same parsing, decision, checks and writes as every
   * batch operation, in one transaction. Throws the operation's error.
   */
  async function applyAuthorized(caller: Caller, operation: BatchOperation, options: ChangeOptions | undefined): Promise<AppliedOperation> {
    const deps: ChunkDeps = { ctx, caller, authorization: { kind: "authorized" }, origin: changeOriginOf(caller, options) };
    const { results, effects } = await applyChunk(deps, [{ index: 0, item: { tag: "", operation } }], undefined, storeCallOf(options));
    const outcome = results[0]?.outcome;
    const effect = effects[0];
    if (outcome === undefined) throw new Error("a chunk of one operation gave no result");
    if (!outcome.ok) throw outcome.error;
    if (effect === undefined) throw new Error("a successful operation has no effect");
    return { membership: outcome.membership, effect };
  }

  return {
    async add(caller, groupId, member, role, options) {
      const { membership, effect } = await applyAuthorized(caller, { kind: "add", groupId, member, role }, options);
      return { membership, created: effect === "added" };
    },

    async remove(caller, groupId, member, options) {
      return (await applyAuthorized(caller, { kind: "remove", groupId, member }, options)).membership;
    },

    async updateRole(caller, groupId, member, role, options) {
      return (await applyAuthorized(caller, { kind: "change_role", groupId, member, role }, options)).membership;
    },

    async get(_caller, groupId, member, options) {
      validateGroupId(groupId, "group_id");
      const principal = parsePrincipal(member, "member").principal;
      const call = await readCallOf(ctx, options);
      const membership = await readsOf(ctx, call).memberships.get(groupId, principal, call);
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
      const call = await readCallOf(ctx, options);
      const group = await loadGroup(ctx, query.groupId, call, options?.memo);
      if (group === undefined) throw groupNotFound(query.groupId);
      if (query.transitive) {
        const page = await transitivePage(ctx, group, query.role, after, pageSize, call);
        const last = page.memberships.at(-1);
        const nextPageToken = page.more && last !== undefined ? encodePageToken(last.member, fingerprint) : "";
        return { memberships: page.memberships, nextPageToken, totalSize: page.totalSize };
      }
      const [rows, totalSize] = await Promise.all([
        readsOf(ctx, call).memberships.listPage(query.groupId, query.role, after, pageSize + 1, call),
        // member_count is kept exact with every membership change: counting would read the whole group.
        query.role === undefined
          ? Promise.resolve(group.memberCount)
          : readsOf(ctx, call).memberships.countMembers(query.groupId, query.role, call),
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
      const call = await readCallOf(ctx, options);
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
        const found = new Map((await readsOf(ctx, call).groups.getMany(ids, call)).map((group) => [group.id, group]));
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

    async check(caller, query, options) {
      validateGroupId(query.groupId, "group_id");
      const principal = parsePrincipal(query.principal, "principal");
      const call = await readCallOf(ctx, options);
      const group = await loadGroup(ctx, query.groupId, call, options?.memo);
      if (group === undefined) throw groupNotFound(query.groupId);
      const closure = await loadPrincipalClosure(ctx, principal.principal, call, options?.memo);
      const answer = membershipIn(closure, group.id, query.directOnly);
      return (await withVisiblePaths(caller, principal.principal, [answer], call))[0] ?? answer;
    },

    async checkMany(caller, query, options) {
      const principal = parsePrincipal(query.principal, "principal");
      const ids = validateBatchGetIds(query.groupIds, "group_ids");
      const call = await readCallOf(ctx, options);
      const isSelf = principal.principal === caller.principal;
      const callerWalk = loadPrincipalClosure(ctx, caller.principal, call, options?.memo);
      const [found, callerClosure, closure] = await Promise.all([
        readsOf(ctx, call).groups.getMany(ids, call),
        callerWalk,
        // One walk when callers ask about themselves, even without a request memo.
        isSelf ? callerWalk : loadPrincipalClosure(ctx, principal.principal, call, options?.memo),
      ]);
      const ancestors = await loadAncestors(ctx, found, call);
      const byId = new Map(found.map((group) => [group.id, group]));
      const asked: string[] = [];
      const missingIds: string[] = [];
      for (const id of ids) {
        const group = byId.get(id);
        if (group !== undefined && canCheckMembership(accessFactsOf(caller, group, callerClosure, ancestors), isSelf)) asked.push(id);
        else missingIds.push(id);
      }
      const answers = await withVisiblePaths(
        caller,
        principal.principal,
        asked.map((id) => membershipIn(closure, id, query.directOnly)),
        call,
      );
      const checks = asked.map((groupId, i) => ({ groupId, result: answers[i] ?? membershipIn(closure, groupId, query.directOnly) }));
      return { checks, missingIds };
    },
  };
}
