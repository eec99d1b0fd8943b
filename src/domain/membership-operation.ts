/**
 * Changes to direct memberships — AddMember, RemoveMember, UpdateMemberRole,
 * UpdateMembership, InviteMember, RespondToInvitation, RequestToJoin,
 * DecideJoinRequest, the expiry sweeper's removals and every operation of a
 * batch — as one union of operations, decided by
 * one pure function against the state the change's transaction read. The
 * unary RPCs and the batch engine both apply operations through it, so a
 * rule and its message exist once.
 *
 * A decision is a `MembershipChange` (the membership before and after),
 * which is all the writes need, and all a record of the change would need.
 * What a single member's state cannot tell is checked by the caller of
 * `decideOperation` on the decided change, against the group: that it keeps
 * a direct ADMIN that never expires (`takesAnAdmin`, then
 * `ensureKeepsAnAdmin`) and that a new `group:` member closes no cycle
 * (`addsGroupEdge`, then the nesting rules).
 *
 * Time: a stored membership past its expire_time is decided as absent
 * (`unexpired`), whatever the operation, except `expire`, the sweeper's
 * removal of exactly such a membership. A concurrent change of the same
 * membership writes the same documents, so one of the two transactions is
 * retried and decides again on what the other left.
 */
import { evaluateAccess, groupNotFound, memberSituation, type AccessFacts, type AccessRuleSpec } from "./access-policy.ts";
import { notFound, type RosterError } from "./errors.ts";
import { ensureGroupActive } from "./group-lifecycle.ts";
import {
  joinRefusal,
  membershipExists,
  noInvitation,
  noJoinRequest,
  validateExpireTime,
  validateSignupValues,
} from "./membership-lifecycle.ts";
import { hasExpired, isPermanentAdmin, statusOf, unexpired } from "./membership-status.ts";
import type { GroupRecord, MembershipRecord, Role } from "./model.ts";
import type { ParsedPrincipal } from "./principal.ts";

/** A well-formed change to one direct membership. */
export type MembershipOperation =
  | {
      readonly kind: "add";
      readonly groupId: string;
      readonly member: ParsedPrincipal;
      readonly role: Role;
      /** When the new membership ends; absent: never. */
      readonly expireTime?: Date | undefined;
    }
  | { readonly kind: "remove"; readonly groupId: string; readonly member: ParsedPrincipal }
  | { readonly kind: "change_role"; readonly groupId: string; readonly member: ParsedPrincipal; readonly role: Role }
  | {
      /** UpdateMembership: what `update_mask` names, and nothing else, changes. */
      readonly kind: "update";
      readonly groupId: string;
      readonly member: ParsedPrincipal;
      /** The new role; undefined: unchanged. */
      readonly role: Role | undefined;
      /** The new expire_time (`value` undefined removes it); undefined: unchanged. */
      readonly expireTime: { readonly value: Date | undefined } | undefined;
    }
  | {
      readonly kind: "invite";
      readonly groupId: string;
      readonly member: ParsedPrincipal;
      readonly role: Role;
      readonly message: string;
      /** When the invitation lapses; undefined: the context's invitation lifetime from now. */
      readonly expireTime: Date | undefined;
    }
  | { readonly kind: "respond"; readonly groupId: string; readonly member: ParsedPrincipal; readonly accept: boolean }
  | {
      /** RequestToJoin, by the member itself. */
      readonly kind: "request";
      readonly groupId: string;
      readonly member: ParsedPrincipal;
      readonly message: string;
      readonly fields: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: "decide";
      readonly groupId: string;
      readonly member: ParsedPrincipal;
      readonly approve: boolean;
      readonly role: Role;
    }
  /** The expiry sweeper's removal of a membership past its expire_time. */
  | { readonly kind: "expire"; readonly groupId: string; readonly member: ParsedPrincipal };

/** The kinds of operation. */
export type OperationKind = MembershipOperation["kind"];

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
export type GroupStatus = Pick<GroupRecord, "id" | "state" | "joinPolicy" | "signupFields">;

/**
 * What a decision reads, as the transaction sees it after the operations
 * before this one.
 */
export interface OperationState {
  /** The operation's group; undefined when it does not exist. */
  readonly group: GroupStatus | undefined;
  /** The member's direct membership as stored (an expired one too); undefined for a non-member. */
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
  /** How long an invitation without an expire_time lasts, in milliseconds. */
  readonly invitationTtlMs: number;
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
 * `context.addSetsRole`), and activates a pending one; removing or changing
 * a non-member is NOT_FOUND; inviting, or asking to join for, a principal
 * with a membership is ALREADY_EXISTS naming its status.
 */
export function decideOperation(
  operation: MembershipOperation,
  state: OperationState,
  access: OperationAccess,
  context: DecisionContext,
): MembershipChange {
  if (access.kind === "decide") ensureAllowed(operation, state, access, context.now);
  const group = state.group;
  if (group === undefined) throw groupNotFound(operation.groupId);
  ensureGroupActive(group);
  const now = context.now;
  const current = unexpired(state.current, now);
  const member = operation.member.principal;
  switch (operation.kind) {
    case "add": {
      if (current !== undefined) {
        if (statusOf(current) !== "ACTIVE") return changed(current, { role: operation.role, status: undefined }, now);
        if (!context.addSetsRole || current.role === operation.role) return unchanged(current);
        return changed(current, { role: operation.role }, now);
      }
      ensureMemberGroupLive(operation, state);
      const expireTime = operation.expireTime === undefined ? undefined : validateExpireTime(operation.expireTime, now);
      return added(operation, newMembership(operation, operation.role, context, { expireTime }));
    }
    case "invite": {
      if (current !== undefined) throw membershipExists(current);
      ensureMemberGroupLive(operation, state);
      const expireTime =
        operation.expireTime === undefined
          ? new Date(now.getTime() + context.invitationTtlMs)
          : validateExpireTime(operation.expireTime, now);
      return added(
        operation,
        newMembership(operation, operation.role, context, { status: "INVITED", expireTime, message: operation.message }),
      );
    }
    case "request": {
      if (current !== undefined) throw membershipExists(current);
      if (group.joinPolicy === "CLOSED") throw joinRefusal(group.id);
      const fields = validateSignupValues(group, operation.fields);
      const status = group.joinPolicy === "OPEN" ? undefined : "REQUESTED";
      return added(operation, newMembership(operation, "MEMBER", context, { status, message: operation.message, fields }));
    }
    case "respond":
      if (current === undefined || statusOf(current) !== "INVITED") throw noInvitation(operation.groupId, member);
      if (!operation.accept) return removed(current);
      // The invitation's expire_time was the invitation's: the membership does not expire.
      return changed(current, { status: undefined, expireTime: undefined }, now);
    case "decide":
      if (current === undefined || statusOf(current) !== "REQUESTED") throw noJoinRequest(operation.groupId, member);
      if (!operation.approve) return removed(current);
      return changed(current, { status: undefined, role: operation.role }, now);
    case "update": {
      if (current === undefined) throw notAMember(operation.groupId, member);
      const set: MembershipValues = {};
      if (operation.role !== undefined && operation.role !== current.role) set.role = operation.role;
      const expireTime = operation.expireTime?.value;
      if (operation.expireTime !== undefined && expireTime?.getTime() !== current.expireTime?.getTime()) {
        set.expireTime = expireTime === undefined ? undefined : validateExpireTime(expireTime, now);
      }
      return Object.keys(set).length === 0 ? unchanged(current) : changed(current, set, now);
    }
    case "remove":
      if (current === undefined) throw notAMember(operation.groupId, member);
      return removed(current);
    case "change_role":
      if (current === undefined) throw notAMember(operation.groupId, member);
      if (current.role === operation.role) return unchanged(current);
      return changed(current, { role: operation.role }, now);
    case "expire":
      // Only a membership that has expired; one renewed or removed meanwhile is left alone.
      if (state.current === undefined || !hasExpired(state.current, now))
        throw notFound(`${member} has no expired membership of group "${operation.groupId}"`);
      return removed(state.current);
  }
}

/**
 * Whether `change` takes a never-expiring direct ADMIN from its group
 * (removes or demotes one, or gives it an expire_time): the group must keep
 * another, so that no expiry can leave it without an administrator.
 */
export function takesAnAdmin(change: MembershipChange): boolean {
  return isPermanentAdmin(change.before) && !isPermanentAdmin(change.after);
}

/** The group edge `change` adds (a new `group:<id>` member), which the nesting rules must allow. */
export function addsGroupEdge(operation: MembershipOperation, change: MembershipChange): { parentId: string; childId: string } | undefined {
  // Every stored edge was checked, pending ones too (they may become ACTIVE without another check).
  if (change.effect !== "added" || operation.member.kind !== "group") return undefined;
  return { parentId: operation.groupId, childId: operation.member.id };
}

/** The membership an operation reports: the removed one for a removal, else the resulting one. */
export function reportedMembership(change: MembershipChange): MembershipRecord {
  const record = change.after ?? change.before;
  if (record === undefined) throw new Error(`a ${change.effect} change of ${change.member} has no membership`);
  return record;
}

/** The fields of a membership a change may set (a key present with undefined removes the field). */
type MembershipValues = { -readonly [K in "role" | "status" | "expireTime"]?: MembershipRecord[K] };

function unchanged(current: MembershipRecord): MembershipChange {
  return { effect: "unchanged", groupId: current.groupId, member: current.member, before: current, after: current };
}

function changed(current: MembershipRecord, set: MembershipValues, now: Date): MembershipChange {
  const after: { -readonly [K in keyof MembershipRecord]: MembershipRecord[K] } = { ...current, ...set, updateTime: now };
  if (after.status === undefined) delete after.status;
  if (after.expireTime === undefined) delete after.expireTime;
  return { effect: "changed", groupId: current.groupId, member: current.member, before: current, after };
}

function removed(current: MembershipRecord): MembershipChange {
  return { effect: "removed", groupId: current.groupId, member: current.member, before: current, after: undefined };
}

function added(operation: MembershipOperation, after: MembershipRecord): MembershipChange {
  return { effect: "added", groupId: operation.groupId, member: operation.member.principal, before: undefined, after };
}

/** A new direct membership created by `context.actor` now; only the optional fields given are set. */
function newMembership(
  operation: MembershipOperation,
  role: Role,
  context: DecisionContext,
  optional: Pick<MembershipRecord, "status" | "expireTime" | "message" | "fields">,
): MembershipRecord {
  const record: { -readonly [K in keyof MembershipRecord]: MembershipRecord[K] } = {
    groupId: operation.groupId,
    member: operation.member.principal,
    role,
    createTime: context.now,
    updateTime: context.now,
    createdBy: context.actor,
  };
  if (optional.status !== undefined) record.status = optional.status;
  if (optional.expireTime !== undefined) record.expireTime = optional.expireTime;
  if (optional.message !== undefined && optional.message !== "") record.message = optional.message;
  if (optional.fields !== undefined && Object.keys(optional.fields).length > 0) record.fields = optional.fields;
  return record;
}

/** A new `group:` member must be a live group. */
function ensureMemberGroupLive(operation: MembershipOperation, state: OperationState): void {
  if (operation.member.kind !== "group") return;
  if (state.memberGroup === undefined) throw groupNotFound(operation.member.id);
  ensureGroupActive(state.memberGroup);
}

/** The declared rule on the caller's facts; a group the caller cannot see reads as a missing one. */
function ensureAllowed(
  operation: MembershipOperation,
  state: OperationState,
  access: Extract<OperationAccess, { kind: "decide" }>,
  now: Date,
): void {
  if (access.facts === undefined) throw groupNotFound(operation.groupId);
  const current = unexpired(state.current, now);
  const decision = evaluateAccess(
    access.rule,
    access.facts,
    memberSituation(access.rule, access.callerPrincipal, {
      member: operation.member,
      role: grantedRole(operation),
      currentRole: current?.role,
      currentStatus: current === undefined ? undefined : statusOf(current),
      memberGroupFacts: access.memberGroupFacts,
    }),
  );
  if (!decision.ok) throw decision.error;
}

/** The role an operation grants (its rule's role_field), if any. */
function grantedRole(operation: MembershipOperation): Role | undefined {
  switch (operation.kind) {
    case "add":
    case "change_role":
    case "invite":
    case "update":
      return operation.role;
    case "decide":
      return operation.approve ? operation.role : undefined;
    case "remove":
    case "respond":
    case "request":
    case "expire":
      return undefined;
  }
}
