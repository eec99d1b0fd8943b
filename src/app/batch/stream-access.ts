/**
 * Authorization facts for one batch stream: the caller's facts on each group
 * the stream touches are loaded once (with the app's own loaders, the same
 * ones behind the unary RPCs' authorization step) and kept for the rest of
 * the stream, so "authorized once per group per stream" holds while every
 * operation still gets the domain's `evaluateAccess` decision for its exact
 * situation (role granted, the member's current role, self removal). The
 * decision is pure and cheap; the facts are what costs round trips.
 *
 * The cache is bounded (least recently used groups are forgotten and loaded
 * again if they come back), so a stream touching millions of groups does not
 * grow without bound. Consequence worth knowing: a permission lost during a
 * stream is noticed only for groups loaded after the loss.
 */
import type { AccessFacts, AccessRuleSpec, AccessSituation } from "../../domain/access-policy.ts";
import type { Caller, Role } from "../../domain/model.ts";
import type { ParsedPrincipal } from "../../domain/principal.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import { loadAccessFacts } from "../access-api.ts";
import type { AppContext } from "../app-context.ts";
import type { PrincipalClosure } from "../principal-closure.ts";
import type { RequestMemo } from "../request-memo.ts";

/** Groups whose facts one stream keeps. */
const maxCachedGroups = 10_000;

export interface StreamAccess {
  /** The caller's facts on `groupId`, or undefined when no such group exists. */
  factsOf(groupId: string, call: StoreCall): Promise<AccessFacts | undefined>;
}

export function createStreamAccess(ctx: AppContext, caller: Caller): StreamAccess {
  const cache = new Map<string, AccessFacts | undefined>();
  // The caller's transitive groups are walked once per stream; group and
  // facts maps are per lookup so they cannot grow with the stream.
  const closures = new Map<string, Promise<PrincipalClosure>>();
  return {
    async factsOf(groupId, call) {
      if (cache.has(groupId)) {
        const facts = cache.get(groupId);
        cache.delete(groupId);
        cache.set(groupId, facts);
        return facts;
      }
      const memo: RequestMemo = { closures, groups: new Map(), facts: new Map() };
      const group = await ctx.groups.get(groupId, call);
      const facts = group === undefined ? undefined : await loadAccessFacts(ctx, caller, group, call, memo);
      cache.set(groupId, facts);
      if (cache.size > maxCachedGroups) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      return facts;
    },
  };
}

/** What a batch operation tells the access rule (the values the unary RPC's request would carry). */
export interface OperationTarget {
  readonly member: ParsedPrincipal;
  /** The role granted (add, change_role). */
  readonly role: Role | undefined;
  /** The member's current direct role, as the chunk sees it. */
  readonly currentRole: Role | undefined;
  /** The caller's facts on the member group, for `group:` members. */
  readonly memberGroupFacts: AccessFacts | undefined;
}

/**
 * The AccessSituation the unary RPC's authorization step would build for the
 * same request (see `resolveGroupRule` in ../access-api.ts): the role field,
 * self and the member's current role when the rule declares a member field,
 * and the member group when adding `group:<id>` needs READ on it.
 */
export function situationFor(rule: AccessRuleSpec, caller: Caller, target: OperationTarget): AccessSituation {
  const situation: { -readonly [K in keyof AccessSituation]: AccessSituation[K] } = {};
  if (rule.roleField !== "" && target.role !== undefined) situation.requestedRole = target.role;
  if (rule.memberField !== "") {
    situation.isSelf = target.member.principal === caller.principal;
    if ((rule.requires === "WRITE" || rule.requires === "MANAGE") && target.currentRole !== undefined) {
      situation.targetMemberRole = target.currentRole;
    }
    if (rule.memberGroupNeedsRead && target.member.kind === "group") {
      situation.memberGroupId = target.member.id;
      situation.memberGroupFacts = target.memberGroupFacts;
    }
  }
  return situation;
}
