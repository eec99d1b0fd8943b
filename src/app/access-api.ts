/**
 * The RPC pipeline's single authorization step. Given a method's declared
 * rule and the request values it points at, it loads the target group and
 * everything the domain's `evaluateAccess` needs (the caller's facts, the
 * member's current role, the member group's facts, which MANAGE-only fields
 * an update changes); the decision itself is the domain's. It hands nothing
 * to the handler: the use case loads what it needs, and the request memo
 * makes those loads free.
 */
import {
  evaluateAccess,
  groupNotFound,
  groupRefBySlug,
  memberSituation,
  readsMemberGroup,
  readsMemberRole,
  type AccessFacts,
  type AccessRuleSpec,
  type AccessSituation,
} from "../domain/access-policy.ts";
import { invalidArgument } from "../domain/errors.ts";
import { statusOf, unexpired } from "../domain/membership-status.ts";
import { changedGroupValues, manageFieldChanged, parseUpdateMask } from "../domain/group-update.ts";
import { validateGroupId, validateNamespace, validateSlug } from "../domain/group-validation.ts";
import type { Caller, Role } from "../domain/model.ts";
import { parsePrincipal } from "../domain/principal.ts";
import type { GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { isCreator, loadAccessFacts, loadGroup, loadLiveGroupBySlug } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import type { CallOptions } from "./call-options.ts";
import { readCallOf, readsOf } from "./read-source.ts";
import { loadPrincipalClosure } from "./principal-closure.ts";
import type { GroupUpdate } from "./groups-api.ts";
import type { RequestMemo } from "./request-memo.ts";

/**
 * The request values an AccessRule points at, already extracted by the RPC
 * layer (field paths resolved, enums converted, "" for unset strings).
 */
export interface AccessTarget {
  /** Value of group_field ("" when empty; for CREATE_GROUP the parent id). */
  readonly groupId?: string | undefined;
  /** namespace_field / slug_field (GetGroup by name when groupId is ""). */
  readonly namespace?: string | undefined;
  readonly slug?: string | undefined;
  /** Value of role_field, when the rule has one and it is set. */
  readonly role?: Role | undefined;
  /** Value of member_field, when the rule has one. */
  readonly member?: string | undefined;
  /**
   * UpdateGroup: the update, so that the resolver can tell which of the
   * rule's manage_fields ("group.policies", "group.parent_id") would change.
   */
  readonly update?: GroupUpdate | undefined;
}

/** What the facts loader found: the domain's `evaluateAccess` decides on `facts` and `situation`. */
interface ResolvedAccess {
  /** The caller's facts on the rule's group; undefined for rules without a group (AUTHENTICATED, top-level CREATE_GROUP). */
  readonly facts: AccessFacts | undefined;
  readonly situation: AccessSituation;
}

export interface AccessApi {
  /**
   * The single authorization step of an RPC: loads what `rule` needs to
   * decide on the request values in `target` (the target group by id or by
   * namespace and slug, the caller's facts on it with bounded transitive
   * resolution, the member's current role, the member group's facts, which
   * MANAGE-only fields an update changes) and lets the domain's
   * `evaluateAccess` decide. Resolves when allowed; otherwise throws the
   * refusal (NOT_FOUND exactly like a missing group, PERMISSION_DENIED
   * naming the permission needed), or invalid_argument for malformed target
   * values (e.g. an empty group id where one is required). Pass the call's
   * request memo: the use case then reuses every load.
   */
  authorize(caller: Caller, rule: AccessRuleSpec, target: AccessTarget, options?: CallOptions): Promise<void>;
}

/** Whether a rule's decision rests on a target group (resolveGroupRule). Exhaustive: a new requirement must be placed here. */
function needsTargetGroup(requires: AccessRuleSpec["requires"]): boolean {
  switch (requires) {
    case "UNSPECIFIED":
    case "AUTHENTICATED":
    case "FILTERED":
    case "PER_ITEM":
    case "CREATE_GROUP":
      return false;
    case "SEE_GROUP":
    case "LIST_MEMBERS":
    case "WRITE":
    case "MANAGE":
    case "INVITEE":
    case "JOIN":
      return true;
  }
}

/** Finds what the domain decides a rule on, for the request values in `target`. */
type RuleResolver = (
  caller: Caller,
  rule: AccessRuleSpec,
  target: AccessTarget,
  call: StoreCall,
  memo: RequestMemo | undefined,
) => Promise<ResolvedAccess>;

export function createAccessApi(ctx: AppContext): AccessApi {
  /** What a rule without a target group decides on (CREATE_GROUP's parent is its group, when given). */
  const resolveGrouplessRule: RuleResolver = async (caller, rule, target, call, memo) => {
    if (rule.requires !== "CREATE_GROUP") return { facts: undefined, situation: {} };
    const parentId = target.groupId ?? "";
    if (parentId === "") {
      const creator =
        caller.isSystemAdmin ||
        ctx.creatorGroupId === undefined ||
        isCreator(ctx, await loadPrincipalClosure(ctx, caller.principal, call, memo));
      return { facts: undefined, situation: { isCreator: creator, isSystemAdmin: caller.isSystemAdmin } };
    }
    validateGroupId(parentId, rule.groupField);
    const parent = await loadGroup(ctx, parentId, call, memo);
    if (parent === undefined) throw groupNotFound(parentId);
    return { facts: await loadAccessFacts(ctx, caller, parent, call, memo), situation: {} };
  };

  /** What a rule on a target group decides on: the caller's facts there, and the member's situation when the rule names one. */
  const resolveGroupRule: RuleResolver = async (caller, rule, target, call, memo) => {
    const found = findTargetGroup(rule, target, call, memo);
    const group = await found.group;
    if (group === undefined) throw groupNotFound(found.name);
    const facts = await loadAccessFacts(ctx, caller, group, call, memo);
    const memberValue = target.member === "" && rule.memberDefaultsToCaller ? caller.principal : target.member;
    const named = rule.memberField !== "" && memberValue !== undefined && !(rule.memberOptional && memberValue === "");
    const member = named ? parsePrincipal(memberValue, rule.memberField) : undefined;
    const stored =
      member !== undefined && readsMemberRole(rule)
        ? await readsOf(ctx, call).memberships.get(group.id, member.principal, call)
        : undefined;
    const membership = unexpired(stored, ctx.clock());
    const memberGroup = member !== undefined && readsMemberGroup(rule, member) ? await loadGroup(ctx, member.id, call, memo) : undefined;
    const situation: { -readonly [K in keyof AccessSituation]: AccessSituation[K] } = memberSituation(rule, caller.principal, {
      member,
      role: target.role,
      currentRole: membership?.role,
      currentStatus: membership === undefined ? undefined : statusOf(membership),
      memberGroupFacts: memberGroup === undefined ? undefined : await loadAccessFacts(ctx, caller, memberGroup, call, memo),
    });
    if (found.groupRef !== undefined) situation.groupRef = found.groupRef;
    if (rule.manageFields.length > 0 && target.update !== undefined) {
      // On the group as read now, so that a refusal comes early and names the
      // highest need; the update decides again inside its transaction, on the
      // version it writes, and that decision is the one that counts.
      const changes = changedGroupValues(group, target.update.values, parseUpdateMask(target.update.mask ?? []));
      situation.manageFieldChanged = manageFieldChanged(changes, rule.manageFields);
    }
    return { facts, situation };
  };

  /**
   * The rule's group, by id or (GetGroup) by namespace and slug, as the load
   * to await (undefined: not_found naming `name`); malformed values throw
   * here. Not an async function: one promise layer less per call.
   */
  function findTargetGroup(
    rule: AccessRuleSpec,
    target: AccessTarget,
    call: StoreCall,
    memo: RequestMemo | undefined,
  ): { group: Promise<GroupNode | undefined>; name: string; groupRef: string | undefined } {
    const id = target.groupId ?? "";
    if (id === "" && rule.slugField !== "" && (target.slug ?? "") !== "") {
      const namespace = validateNamespace(target.namespace ?? "", rule.namespaceField);
      const slug = validateSlug(target.slug ?? "", rule.slugField);
      const groupRef = groupRefBySlug(namespace, slug);
      return { group: loadLiveGroupBySlug(ctx, namespace, slug, call, memo), name: groupRef, groupRef };
    }
    if (id === "" && rule.slugField !== "") {
      throw invalidArgument(rule.groupField, `is required (or ${rule.namespaceField} and ${rule.slugField})`);
    }
    validateGroupId(id, rule.groupField);
    return { group: loadGroup(ctx, id, call, memo), name: id, groupRef: undefined };
  }

  return {
    async authorize(caller, rule, target, options) {
      const call = await readCallOf(ctx, options);
      const memo = options?.memo;
      const resolved = needsTargetGroup(rule.requires)
        ? await resolveGroupRule(caller, rule, target, call, memo)
        : await resolveGrouplessRule(caller, rule, target, call, memo);
      const decision = evaluateAccess(rule, resolved.facts, resolved.situation);
      if (!decision.ok) throw decision.error;
    },
  };
}
