/**
 * MembershipService use cases. Access was decided before these run (see
 * index.ts), except ListPrincipalGroups, which filters with the domain's
 * `canListMembers`. Every change (AddMember, RemoveMember,
 * UpdateMemberRole, UpdateMembership, InviteMember, RespondToInvitation,
 * RequestToJoin, DecideJoinRequest) is applied by the batch engine as a
 * chunk of one (batch/apply-chunk.ts), so they and every batch operation
 * share one decision (the domain's `decideOperation`): idempotent add,
 * not_found for non-members, the last never-expiring direct ADMIN stays,
 * nesting without cycles or excessive depth, and an exact member_count
 * (changed in the same transaction as the membership).
 *
 * Reads compare with the current time: a membership past its expire_time
 * is absent for GetMembership, ListMemberships and CheckMembership, swept
 * or not (membership-status.ts).
 */
import { canCheckMembership, canListMembers, groupNotFound } from "../domain/access-policy.ts";
import { invalidArgument } from "../domain/errors.ts";
import { normalizePageSize, validateBatchGetIds, validateGroupId } from "../domain/group-validation.ts";
import { notAMember, type MembershipEffect } from "../domain/membership-operation.ts";
import { statusOf, unexpired } from "../domain/membership-status.ts";
import type { Caller, GroupRecord, MembershipRecord, MembershipStatus, Role } from "../domain/model.ts";
import { decodePageToken, encodePageToken, requestFingerprint } from "../domain/page-token.ts";
import { parsePrincipal } from "../domain/principal.ts";
import { groupRecordOf, type GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import {
  accessFactsOf,
  keptMembershipAnswer,
  loadAncestors,
  loadGroup,
  loadVisibleGroupIdsUntil,
  type AnswerUntil,
  type MembershipQuestion,
} from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import { applyChunk, type ChunkDeps } from "./batch/apply-chunk.ts";
import type { BatchOperation } from "./batch/check-operation.ts";
import type { MemberFilter } from "../storage/membership-store.ts";
import { changeOriginOf, storeCallOf, type CallOptions, type ChangeOptions } from "./call-options.ts";
import { readCallOf, readsOf } from "./read-source.ts";
import { groupIdsAfter, loadPrincipalClosure, membershipIn, type MembershipAnswer, type PrincipalClosure } from "./principal-closure.ts";
import type { RequestMemo } from "./request-memo.ts";
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
  /** Empty or absent = ACTIVE only. */
  readonly statuses?: readonly MembershipStatus[];
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
  /** Empty or absent = ACTIVE only; INVITED and REQUESTED add the principal's pending direct memberships. */
  readonly statuses?: readonly MembershipStatus[];
  readonly transitive: boolean;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface PrincipalGroupEntry {
  readonly group: GroupRecord;
  /** Highest role, direct or through nested groups (a pending one: the role it asks for). */
  readonly role: Role;
  readonly direct: boolean;
  /** ACTIVE, or the status of the principal's pending direct membership. */
  readonly status: MembershipStatus;
  /** The direct membership's expire_time, when it has one. */
  readonly expireTime: Date | undefined;
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

/** UpdateMembership's request: `mask` names what changes ("role", "expire_time"). */
export interface MembershipUpdate {
  readonly groupId: string;
  readonly member: string;
  readonly role: Role | undefined;
  readonly expireTime: Date | undefined;
  readonly mask: readonly string[];
}

export interface Invitation {
  readonly groupId: string;
  readonly member: string;
  readonly role: Role | undefined;
  readonly message: string;
  /** undefined: ROSTER_INVITATION_TTL_DAYS from now. */
  readonly expireTime: Date | undefined;
}

export interface JoinRequest {
  readonly groupId: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface JoinDecision {
  readonly groupId: string;
  readonly member: string;
  readonly approve: boolean;
  readonly role: Role | undefined;
}

export interface MembershipsApi {
  /** Idempotent; `group:<id>` members are checked for cycles and depth. */
  add(caller: Caller, groupId: string, member: string, role: Role, options?: ChangeOptions, expireTime?: Date): Promise<AddMemberResult>;
  /** Changes role and/or expire_time as `update.mask` says. */
  update(caller: Caller, update: MembershipUpdate, options?: ChangeOptions): Promise<MembershipRecord>;
  /** An INVITED membership; already_exists when the principal has one. */
  invite(caller: Caller, invitation: Invitation, options?: ChangeOptions): Promise<MembershipRecord>;
  /** Accepts (ACTIVE) or declines (removed) `member`'s invitation ("" = the caller). */
  respond(caller: Caller, groupId: string, member: string, accept: boolean, options?: ChangeOptions): Promise<MembershipRecord>;
  /** The caller asks to join: REQUESTED, or ACTIVE at once in an OPEN group. */
  requestToJoin(caller: Caller, request: JoinRequest, options?: ChangeOptions): Promise<MembershipRecord>;
  /** Approves (ACTIVE) or rejects (removed) a pending join request. */
  decideJoinRequest(caller: Caller, decision: JoinDecision, options?: ChangeOptions): Promise<MembershipRecord>;
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

/** The entry of group `id` (in the closure's groups, or among its pending memberships) for ListPrincipalGroups. */
function principalGroupEntry(group: GroupRecord, closure: PrincipalClosure, id: string): PrincipalGroupEntry {
  const role = closure.roles.get(id);
  if (role !== undefined) {
    return { group, role, direct: closure.direct.has(id), status: "ACTIVE", expireTime: closure.directExpireTimes.get(id) };
  }
  const pending = closure.pending.get(id);
  if (pending === undefined) throw new Error(`group ${id} is neither in the closure nor pending`);
  return { group, role: pending.role, direct: true, status: statusOf(pending), expireTime: pending.expireTime };
}

export function createMembershipsApi(ctx: AppContext): MembershipsApi {
  /**
   * `answers` about `principal` with paths naming only groups the caller can
   * see: someone else's path may go through groups hidden from the caller
   * (the group asked about is always visible to a caller who may ask); and
   * until when (epoch ms) that filter holds without a change.
   */
  async function withVisiblePaths(
    caller: Caller,
    principal: string,
    answers: readonly MembershipAnswer[],
    call: StoreCall,
  ): Promise<{ answers: MembershipAnswer[]; validUntilMs: number }> {
    const onTheWay = new Set(answers.flatMap((answer) => answer.path.slice(0, -1)));
    if (principal === caller.principal || caller.isSystemAdmin || onTheWay.size === 0) {
      return { answers: [...answers], validUntilMs: Number.POSITIVE_INFINITY };
    }
    const { visible, validUntilMs } = await loadVisibleGroupIdsUntil(ctx, caller, [...onTheWay], call);
    return {
      answers: answers.map((answer) => ({
        ...answer,
        path: answer.path.filter((id, i) => i === answer.path.length - 1 || visible.has(id)),
      })),
      validUntilMs,
    };
  }

  /** CheckMembership's answer to `question` for `caller` now (closures through `memo`), and until when it holds without a change. */
  async function answerNow(
    caller: Caller,
    question: MembershipQuestion,
    call: StoreCall,
    memo: RequestMemo | undefined,
  ): Promise<AnswerUntil> {
    const closure = await loadPrincipalClosure(ctx, question.principal, call, memo);
    const answer = membershipIn(closure, question.group.id, question.directOnly);
    const visible = await withVisiblePaths(caller, question.principal, [answer], call);
    return { answer: visible.answers[0] ?? answer, validUntilMs: Math.min(closure.validUntilMs, visible.validUntilMs) };
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
    async add(caller, groupId, member, role, options, expireTime) {
      const { membership, effect } = await applyAuthorized(caller, { kind: "add", groupId, member, role, expireTime }, options);
      return { membership, created: effect === "added" };
    },

    async update(caller, update, options) {
      return (await applyAuthorized(caller, { kind: "update", ...update }, options)).membership;
    },

    async invite(caller, invitation, options) {
      return (await applyAuthorized(caller, { kind: "invite", ...invitation }, options)).membership;
    },

    async respond(caller, groupId, member, accept, options) {
      return (await applyAuthorized(caller, { kind: "respond", groupId, member, accept }, options)).membership;
    },

    async requestToJoin(caller, request, options) {
      return (await applyAuthorized(caller, { kind: "request", ...request }, options)).membership;
    },

    async decideJoinRequest(caller, decision, options) {
      return (await applyAuthorized(caller, { kind: "decide", ...decision }, options)).membership;
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
      const membership = unexpired(await readsOf(ctx, call).memberships.get(groupId, principal, call), ctx.clock());
      if (membership === undefined) throw notAMember(groupId, principal);
      return membership;
    },

    async list(caller, query, options) {
      validateGroupId(query.groupId, "group_id");
      const pageSize = normalizePageSize(query.pageSize);
      const asked = query.statuses ?? [];
      const statuses: readonly MembershipStatus[] = asked.length === 0 ? ["ACTIVE"] : [...new Set(asked)].sort();
      if (query.transitive && statuses.some((status) => status !== "ACTIVE")) {
        throw invalidArgument("statuses", "a transitive listing has ACTIVE members only");
      }
      const fingerprint = requestFingerprint({
        caller: caller.principal,
        groupId: query.groupId,
        role: query.role,
        transitive: query.transitive,
        // Only a non-default filter changes the fingerprint (tokens issued before statuses existed stay valid).
        ...(asked.length === 0 ? {} : { statuses: statuses.join(",") }),
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
      const filter: MemberFilter = { role: query.role, statuses, unexpiredAt: ctx.clock() };
      const activeOnly = statuses.length === 1 && statuses[0] === "ACTIVE";
      const [rows, totalSize] = await Promise.all([
        readsOf(ctx, call).memberships.listPage(query.groupId, filter, after, pageSize + 1, call),
        // member_count is kept exact with every membership change: counting would read the whole group.
        query.role === undefined && activeOnly
          ? Promise.resolve(group.memberCount)
          : readsOf(ctx, call).memberships.countMembers(query.groupId, filter, call),
      ]);
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken(last.member, fingerprint) : "";
      return { memberships: page, nextPageToken, totalSize };
    },

    async listPrincipalGroups(caller, query, options) {
      const principal = query.principal === "" ? caller.principal : parsePrincipal(query.principal, "principal").principal;
      const pageSize = normalizePageSize(query.pageSize);
      const asked = query.statuses ?? [];
      const statuses = new Set<MembershipStatus>(asked.length === 0 ? ["ACTIVE"] : asked);
      const fingerprint = requestFingerprint({
        caller: caller.principal,
        principal,
        transitive: query.transitive,
        // Only a non-default filter changes the fingerprint (tokens issued before statuses existed stay valid).
        ...(asked.length === 0 ? {} : { statuses: [...statuses].sort().join(",") }),
      });
      const after = decodePageToken(query.pageToken, fingerprint, isString);
      const call = await readCallOf(ctx, options);
      const closure = await loadPrincipalClosure(ctx, principal, call, options?.memo);
      const active = statuses.has("ACTIVE") ? groupIdsAfter(query.transitive ? closure.roles : closure.direct, after) : [];
      const pending = [...closure.pending]
        .filter(([id, edge]) => statuses.has(statusOf(edge)) && !closure.roles.has(id) && (after === undefined || id > after))
        .map(([id]) => id);
      const candidates = pending.length === 0 ? active : [...active, ...pending].sort();
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
          entries.push(principalGroupEntry(groupRecordOf(group), closure, id));
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
      const question = { principal: principal.principal, group, directOnly: query.directOnly };
      return await keptMembershipAnswer(ctx, caller, question, call, options?.memo, (memo) => answerNow(caller, question, call, memo));
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
      const { answers } = await withVisiblePaths(
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
