/**
 * The authorization facts loader behind the RPC pipeline's single
 * authorization step. Given a method's declared rule and the request values
 * it points at, it loads the target group and everything the domain's
 * `evaluateAccess` needs (the caller's facts, the member's current role, the
 * member group's facts, which MANAGE-only fields an update changes); the
 * decision itself is the domain's.
 */
import {
  evaluateAccess,
  groupNotFound,
  groupRefBySlug,
  type AccessFacts,
  type AccessRuleSpec,
  type AccessSituation,
} from "../domain/access-policy.ts";
import { invalidArgument } from "../domain/errors.ts";
import { changedGroupValues, manageFieldChanged, parseUpdateMask } from "../domain/group-update.ts";
import { validateGroupId, validateNamespace, validateSlug } from "../domain/group-validation.ts";
import type { Caller } from "../domain/model.ts";
import { parsePrincipal } from "../domain/principal.ts";
import type { GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { accessFactsOf, both, isCreator, loadAncestors } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import { storeCallOf } from "./call-scope.ts";
import { loadPrincipalClosure } from "./principal-closure.ts";
import { memoized, type RequestMemo } from "./request-memo.ts";
import type { AccessApi, AccessTarget, CallOptions, ResolvedAccess } from "./types.ts";

/** The caller's facts on one group (closure memoised per request). */
export function loadAccessFacts(
  ctx: AppContext,
  caller: Caller,
  group: GroupNode,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<AccessFacts> {
  const load = async () => {
    const [closure, ancestors] = await both(
      call,
      () => loadPrincipalClosure(ctx, caller.principal, call, memo),
      () => loadAncestors(ctx, [group], call),
    );
    return accessFactsOf(caller, group, closure, ancestors);
  };
  if (memo === undefined || call.session !== undefined) return load();
  // Keyed by etag too: facts on a group version the memo did not load are computed afresh.
  return memoized(memo.facts, `${caller.principal} ${group.id} ${group.etag}`, load);
}

/** A group by id, memoised for the request (reads outside transactions only). */
export function loadGroup(
  ctx: AppContext,
  id: string,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<GroupNode | undefined> {
  if (memo === undefined || call.session !== undefined) return ctx.groups.get(id, call);
  return memoized(memo.groups, id, () => ctx.groups.get(id, call));
}

export function createAccessApi(ctx: AppContext): AccessApi {
  async function resolve(
    caller: Caller,
    rule: AccessRuleSpec,
    target: AccessTarget,
    options?: CallOptions,
  ): Promise<ResolvedAccess> {
    const call = storeCallOf(options);
    const memo = options?.memo;
    switch (rule.requires) {
      case "UNSPECIFIED":
      case "AUTHENTICATED":
      case "FILTERED":
      case "PER_ITEM":
        return { group: undefined, facts: undefined, situation: {} };
      case "CREATE_GROUP": {
        const parentId = target.groupId ?? "";
        if (parentId === "") {
          const creator =
            caller.isSystemAdmin || ctx.creatorGroupId === undefined || isCreator(ctx, await loadPrincipalClosure(ctx, caller.principal, call, memo));
          return {
            group: undefined,
            facts: undefined,
            situation: { isCreator: creator, isSystemAdmin: caller.isSystemAdmin },
          };
        }
        validateGroupId(parentId, rule.groupField);
        const parent = await loadGroup(ctx, parentId, call, memo);
        if (parent === undefined) throw groupNotFound(parentId);
        return { group: parent, facts: await loadAccessFacts(ctx, caller, parent, call, memo), situation: {} };
      }
      case "SEE_GROUP":
      case "LIST_MEMBERS":
      case "WRITE":
      case "MANAGE":
        return resolveGroupRule(caller, rule, target, call, memo);
    }
  }

  async function resolveGroupRule(
    caller: Caller,
    rule: AccessRuleSpec,
    target: AccessTarget,
    call: StoreCall,
    memo: RequestMemo | undefined,
  ): Promise<ResolvedAccess> {
    const { group, groupRef } = await findTargetGroup(rule, target, call, memo);
    const facts = await loadAccessFacts(ctx, caller, group, call, memo);
    const situation: { -readonly [K in keyof AccessSituation]: AccessSituation[K] } = {};
    if (groupRef !== undefined) situation.groupRef = groupRef;
    if (rule.roleField !== "" && target.role !== undefined) situation.requestedRole = target.role;
    if (rule.memberField !== "" && target.member !== undefined) {
      const member = parsePrincipal(target.member, rule.memberField);
      situation.isSelf = member.principal === caller.principal;
      if (rule.requires === "WRITE" || rule.requires === "MANAGE") {
        const membership = await ctx.memberships.get(group.id, member.principal, call);
        if (membership !== undefined) situation.targetMemberRole = membership.role;
      }
      if (rule.memberGroupNeedsRead && member.kind === "group") {
        situation.memberGroupId = member.id;
        const memberGroup = await loadGroup(ctx, member.id, call, memo);
        situation.memberGroupFacts =
          memberGroup === undefined ? undefined : await loadAccessFacts(ctx, caller, memberGroup, call, memo);
      }
    }
    if (rule.manageFields.length > 0 && target.update !== undefined) {
      // On the group as read now, so that a refusal comes early and names the
      // highest need; the update decides again inside its transaction, on the
      // version it writes, and that decision is the one that counts.
      const changes = changedGroupValues(group, target.update.values, parseUpdateMask(target.update.mask ?? []));
      situation.manageFieldChanged = manageFieldChanged(changes, rule.manageFields);
    }
    return { group, facts, situation };
  }

  /** The rule's group, by id or (GetGroup) by namespace and slug; not_found when missing. */
  async function findTargetGroup(
    rule: AccessRuleSpec,
    target: AccessTarget,
    call: StoreCall,
    memo: RequestMemo | undefined,
  ): Promise<{ group: GroupNode; groupRef: string | undefined }> {
    const id = target.groupId ?? "";
    if (id === "" && rule.slugField !== "" && (target.slug ?? "") !== "") {
      const namespace = validateNamespace(target.namespace ?? "", rule.namespaceField);
      const slug = validateSlug(target.slug ?? "", rule.slugField);
      const groupRef = groupRefBySlug(namespace, slug);
      const group = await ctx.groups.getLiveBySlug(namespace, slug, call);
      if (group === undefined) throw groupNotFound(groupRef);
      return { group, groupRef };
    }
    if (id === "" && rule.slugField !== "") {
      throw invalidArgument(rule.groupField, `is required (or ${rule.namespaceField} and ${rule.slugField})`);
    }
    validateGroupId(id, rule.groupField);
    const group = await loadGroup(ctx, id, call, memo);
    if (group === undefined) throw groupNotFound(id);
    return { group, groupRef: undefined };
  }

  return {
    resolve,
    async authorize(caller, rule, target, options) {
      const resolved = await resolve(caller, rule, target, options);
      const decision = evaluateAccess(rule, resolved.facts, resolved.situation);
      if (!decision.ok) throw decision.error;
      return resolved;
    },
  };
}
