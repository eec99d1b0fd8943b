/**
 * Changes to direct memberships — AddMember, RemoveMember, UpdateMemberRole
 * and every operation of a batch — as one union of operations, decided by
 * one pure function against the state the change's transaction read. The
 * unary RPCs and the batch engine both apply operations through it, so a
 * rule and its message exist once.
 *
 * A decision is a `MembershipChange` (the membership before and after),
 * which is all the writes need, and all a record of the change would need.
 * What a single member's state cannot tell is checked by the caller of
 * `decideOperation` on the decided change, against the group: that it keeps
 * a direct ADMIN (`takesAnAdmin`, then `ensureKeepsAnAdmin`) and that a new
 * `group:` member closes no cycle (`addsGroupEdge`, then the nesting rules).
 */
import { evaluateAccess, groupNotFound, memberSituation, type AccessFacts, type AccessRuleSpec } from "./access-policy.ts";
import { notFound, type RosterError } from "./errors.ts";
import { ensureGroupActive } from "./group-lifecycle.ts";
import type { GroupRecord, MembershipRecord, Role } from "./model.ts";
import type { ParsedPrincipal } from "./principal.ts";

/** A well-formed change to one direct membership. */
export type MembershipOperation =
  | { readonly kind: "add"; readonly groupId: string; readonly member: ParsedPrincipal; readonly role: Role }
  | { readonly kind: "remove"; readonly groupId: string; readonly member: ParsedPrincipal }
  | { readonly kind: "change_role"; readonly groupId: string; readonly member: ParsedPrincipal; readonly role: Role };

/** What an operation did to its member ("unchanged": it already was so). */
export type MembershipEffect = "added" | "changed" | "unchanged" | "removed";

/** A decided operation: the member's direct membership before and after it. */
export interface MembershipChange {
  readonly effect: MembershipEffect;
  readonly groupId: string;
  readonly member: string;
  /** Undefined when the membership is new. */
  readonly before: MembershipRecord | undefined;
  /** Undefined when it was removed. */
  readonly after: MembershipRecord | undefined;
}

/** A group as a decision sees it. */
export type GroupStatus = Pick<GroupRecord, "id" | "state">;

/**
 * What a decision reads, as the transaction sees it after the operations
 * before this one.
 */
export interface OperationState {
  /** The operation's group; undefined when it does not exist. */
  readonly group: GroupStatus | undefined;
  /** The member's direct membership; undefined for a non-member. */
  readonly current: MembershipRecord | undefined;
  /** For a `group:` member: that group; undefined when it does not exist (or the member is not a group). */
  readonly memberGroup: GroupStatus | undefined;
}

/** Who decides whether the caller may make the operation. */
export type OperationAccess =
  /** The unary RPC's authorization step decided its declared rule before the call. */
  | { readonly kind: "authorized" }
  /**
   * Decide here, with `rule` (the declared rule of the matching unary RPC)
   * on the caller's facts read with the state: a batch operation.
   */
  | {
      readonly kind: "decide";
      readonly rule: AccessRuleSpec;
      readonly callerPrincipal: string;
      /** The caller's facts on the operation's group; undefined when it does not exist. */
      readonly facts: AccessFacts | undefined;
      /** The caller's facts on a `group:` member; undefined when it does not exist. */
      readonly memberGroupFacts: AccessFacts | undefined;
    };

/** How operations are applied in this transaction. */
export interface DecisionContext {
  /** A sync stream makes an existing member's role what was sent; a plain add never changes it. */
  readonly addSetsRole: boolean;
  /** The transaction's time: create and update time of what it writes. */
  readonly now: Date;
  /** Who makes the change (a new membership's `createdBy`). */
  readonly actor: string;
}

/** NOT_FOUND for a member that is not one: the same words for every path. */
export function notAMember(groupId: string, member: string): RosterError {
  return notFound(`${member} is not a member of group "${groupId}"`);
}

/**
 * Decides `operation` against `state`: first access (when `access` says to
 * decide here), then the group (it exists and is live), then the member.
 * Returns the change; throws the RosterError refusing it. Adding an
 * existing member is an idempotent success that leaves its role (unless
 * `context.addSetsRole`); removing or re-roling a non-member is NOT_FOUND.
 */
export function decideOperation(
  operation: MembershipOperation,
  state: OperationState,
  access: OperationAccess,
  context: DecisionContext,
): MembershipChange {
  if (access.kind === "decide") ensureAllowed(operation, state, access);
  if (state.group === undefined) throw groupNotFound(operation.groupId);
  ensureGroupActive(state.group);
  const { current } = state;
  const member = operation.member.principal;
  switch (operation.kind) {
    case "add": {
      if (current !== undefined) {
        if (!context.addSetsRole || current.role === operation.role) return unchanged(current);
        return roleChange(current, operation.role, context.now);
      }
      if (operation.member.kind === "group") {
        if (state.memberGroup === undefined) throw groupNotFound(operation.member.id);
        ensureGroupActive(state.memberGroup);
      }
      const now = context.now;
      const after: MembershipRecord = {
        groupId: operation.groupId,
        member,
        role: operation.role,
        createTime: now,
        updateTime: now,
        createdBy: context.actor,
      };
      return { effect: "added", groupId: operation.groupId, member, before: undefined, after };
    }
    case "remove":
      if (current === undefined) throw notAMember(operation.groupId, member);
      return { effect: "removed", groupId: operation.groupId, member, before: current, after: undefined };
    case "change_role":
      if (current === undefined) throw notAMember(operation.groupId, member);
      if (current.role === operation.role) return unchanged(current);
      return roleChange(current, operation.role, context.now);
  }
}

/** Whether `change` takes a direct ADMIN from its group (removes or demotes one): the group must keep another. */
export function takesAnAdmin(change: MembershipChange): boolean {
  return change.before?.role === "ADMIN" && change.after?.role !== "ADMIN";
}

/** The group edge `change` adds (a new `group:<id>` member), which the nesting rules must allow. */
export function addsGroupEdge(operation: MembershipOperation, change: MembershipChange): { parentId: string; childId: string } | undefined {
  if (change.effect !== "added" || operation.member.kind !== "group") return undefined;
  return { parentId: operation.groupId, childId: operation.member.id };
}

/** The membership an operation reports: the removed one for a removal, else the resulting one. */
export function reportedMembership(change: MembershipChange): MembershipRecord {
  const record = change.after ?? change.before;
  if (record === undefined) throw new Error(`a ${change.effect} change of ${change.member} has no membership`);
  return record;
}

function unchanged(current: MembershipRecord): MembershipChange {
  return { effect: "unchanged", groupId: current.groupId, member: current.member, before: current, after: current };
}

function roleChange(current: MembershipRecord, role: Role, now: Date): MembershipChange {
  return {
    effect: "changed",
    groupId: current.groupId,
    member: current.member,
    before: current,
    after: { ...current, role, updateTime: now },
  };
}

/** The declared rule on the caller's facts; a group the caller cannot see reads as a missing one. */
function ensureAllowed(operation: MembershipOperation, state: OperationState, access: Extract<OperationAccess, { kind: "decide" }>): void {
  if (access.facts === undefined) throw groupNotFound(operation.groupId);
  const decision = evaluateAccess(
    access.rule,
    access.facts,
    memberSituation(access.rule, access.callerPrincipal, {
      member: operation.member,
      role: operation.kind === "remove" ? undefined : operation.role,
      currentRole: state.current?.role,
      memberGroupFacts: access.memberGroupFacts,
    }),
  );
  if (!decision.ok) throw decision.error;
}
