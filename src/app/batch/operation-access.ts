/**
 * Authorization of batch operations. Every operation gets the domain's
 * `evaluateAccess` decision with the declared rule of the matching unary RPC
 * and its exact situation (role granted, the member's current role, self
 * removal), on the caller's facts read for its chunk: each chunk (and each
 * page of a sync's final removals) loads an AccessSnapshot of the caller on
 * its groups inside its own transaction — one closure walk and one
 * ancestors query per chunk, never one per operation — so a permission
 * revoked before a chunk starts (a membership removed, a team an ACL grant
 * names left) is honoured by that chunk.
 */
import type { AccessFacts, AccessRuleSpec, AccessSituation } from "../../domain/access-policy.ts";
import type { Caller, Role } from "../../domain/model.ts";
import type { ParsedPrincipal } from "../../domain/principal.ts";

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
