/**
 * The authorization rules of Roster (README, "Authorization") as pure
 * functions over plain facts. The app layer loads the facts for a (caller,
 * group) pair; the RPC pipeline reads each method's declared AccessRule once,
 * mirrors it as an `AccessRuleSpec` and asks `evaluateAccess` for a decision.
 * Nothing here does I/O, so the whole rule set is covered by table tests.
 *
 * Deleted groups: a DELETED group is visible only to callers whose effective
 * permission on it is MANAGE (its direct or nested ADMINs, ACL MANAGE
 * grantees, managers of an ancestor, system administrators) so that they can
 * find it with show_deleted and undelete it. For everybody else it is
 * NOT_FOUND with the same message as a group that never existed. The facts of
 * the deleted group itself are computed as usual; that its memberships and
 * grants "confer nothing" applies to OTHER groups (a deleted member group
 * breaks the chain), which is the app's job when it loads facts.
 */
import { isMembershipChange, type ChangeKind } from "./change-record.ts";
import { notFound, permissionDenied, type RosterError } from "./errors.ts";
import { joinRefusal } from "./membership-lifecycle.ts";
import type { GroupState, JoinPolicy, MembershipStatus, MemberVisibility, Permission, Role, Visibility } from "./model.ts";
import { includesPermission, isPrivilegedRole, maxPermission, maxPermissionOf, roleToPermission } from "./permissions.ts";
import type { ParsedPrincipal } from "./principal.ts";

/** What is known about one caller and one group, loaded by the app layer. */
export interface AccessFacts {
  /** The group's id, used in NOT_FOUND / PERMISSION_DENIED messages. */
  readonly groupId: string;
  /** The group's lifecycle state: a DELETED group is visible only with MANAGE. */
  readonly state: GroupState;
  /** The caller is a system administrator. */
  readonly isSystemAdmin: boolean;
  /** The caller's highest role, directly or through nested (live) groups; undefined when not a member. */
  readonly role: Role | undefined;
  /** Permissions granted by the group's ACL to the caller or any group it (transitively) belongs to. */
  readonly aclGrants: readonly Permission[];
  /** The caller has MANAGE on some ancestor in the parent chain. */
  readonly ancestorManage: boolean;
  readonly visibility: Visibility;
  readonly memberVisibility: MemberVisibility;
  /** Whether non-members may ask to join (RequestToJoin). */
  readonly joinPolicy: JoinPolicy;
  /** The caller has a pending invitation to the group: it may see the group (to answer). */
  readonly invited: boolean;
  /** The group's high-assurance window and the caller's authentication time; undefined when the group has none. */
  readonly assurance: AssuranceFacts | undefined;
}

/**
 * A high-assurance group (policy authentication_assurance_timeout): every
 * decision that lets the caller act on it needs a token whose `auth_time`
 * is at most `timeoutSeconds` old at `now`.
 */
export interface AssuranceFacts {
  readonly timeoutSeconds: number;
  /** The caller's token's `auth_time`; undefined when the token has none. */
  readonly authTime: Date | undefined;
  /** When the facts were read: the instant the window is measured at. */
  readonly now: Date;
}

/** The base requirement of an RPC, mirroring proto `roster.v1.Requirement`. */
export type Requirement =
  | "UNSPECIFIED"
  | "AUTHENTICATED"
  | "SEE_GROUP"
  | "LIST_MEMBERS"
  | "WRITE"
  | "MANAGE"
  | "CREATE_GROUP"
  | "FILTERED"
  | "PER_ITEM"
  | "INVITEE"
  | "JOIN";

/**
 * A plain mirror of the proto `AccessRule` method option (see
 * proto/roster/v1/access.proto for each field's meaning). Empty strings mean
 * "not declared", as in proto3.
 */
export interface AccessRuleSpec {
  readonly requires: Requirement;
  readonly groupField: string;
  readonly namespaceField: string;
  readonly slugField: string;
  readonly roleField: string;
  readonly memberField: string;
  readonly selfAllowed: boolean;
  readonly manageFields: readonly string[];
  readonly memberGroupNeedsRead: boolean;
  readonly parentField: string;
  readonly memberDefaultsToCaller: boolean;
  readonly memberOptional: boolean;
}

/**
 * A change of the rule's parent_field: the group moves from its current
 * parent (or the top level) to a new parent (or the top level). The app
 * loads these facts from the stored group the update writes.
 */
export interface ParentMove {
  /** The caller's facts on the group's current parent; undefined when the group is top-level. */
  readonly from: AccessFacts | undefined;
  /** The caller's facts on the new parent; undefined when the group becomes top-level. */
  readonly to: AccessFacts | undefined;
  /**
   * Becoming top-level: the caller may create top-level groups (no creator
   * group is configured, or the caller is a transitive member of it). System
   * administrators always may (`AccessFacts.isSystemAdmin`).
   */
  readonly isCreator: boolean;
}

/**
 * Request-dependent inputs of a decision, read from the request (and, for the
 * target member's role and the member group, loaded by the app).
 */
export interface AccessSituation {
  /**
   * How the request named the group, when not by id (e.g. "ns/slug" from
   * `groupRefBySlug`). NOT_FOUND messages use it so that an invisible group
   * reads exactly like a missing one. Defaults to `facts.groupId`.
   */
  readonly groupRef?: string;
  /** The role the request grants (role_field): MANAGER or ADMIN needs MANAGE. */
  readonly requestedRole?: Role | undefined;
  /** The current direct role of the member the request acts on (member_field), if a member. */
  readonly targetMemberRole?: Role | undefined;
  /** The status of that member's direct membership, if it has one (INVITEE rules). */
  readonly targetMemberStatus?: MembershipStatus | undefined;
  /** The member_field names the caller itself. */
  readonly isSelf?: boolean;
  /** The first manage_fields path the request changes, if any (e.g. "group.policies"). */
  readonly manageFieldChanged?: string | undefined;
  /** The id of the group named by member_field when it is `group:<id>`. */
  readonly memberGroupId?: string | undefined;
  /**
   * Facts of the caller on that member group; undefined when it does not
   * exist. Preferred over `memberGroupReadable` (it distinguishes "cannot see"
   * from "can see but lacks READ").
   */
  readonly memberGroupFacts?: AccessFacts | undefined;
  /** Shortcut when the facts are not loaded: the caller has READ on the member group. */
  readonly memberGroupReadable?: boolean;
  /**
   * Top-level CreateGroup only: the caller may create top-level groups
   * (no creator group is configured, or the caller is a transitive member of
   * it). System administrators always may; pass `isSystemAdmin` for them.
   */
  readonly isCreator?: boolean;
  /** Top-level CreateGroup only: the caller is a system administrator. */
  readonly isSystemAdmin?: boolean;
  /** The request changes the rule's parent_field: what moving the group involves. */
  readonly parentMove?: ParentMove | undefined;
}

/**
 * The request values a rule with a member_field (and role_field) decides
 * on: what AddMember, RemoveMember, UpdateMemberRole, GetMembership or
 * CheckMembership carries, or one operation of a batch.
 */
export interface MemberRequest {
  /** The member_field's principal; undefined when the request names none. */
  readonly member: ParsedPrincipal | undefined;
  /** The role_field's value, when set. */
  readonly role: Role | undefined;
  /** The member's current direct role when `readsMemberRole(rule)`; undefined for a non-member. */
  readonly currentRole: Role | undefined;
  /** The status of that membership (same condition); undefined for a non-member. */
  readonly currentStatus?: MembershipStatus | undefined;
  /** The caller's facts on the member group when `readsMemberGroup(rule, member)`; undefined when it does not exist. */
  readonly memberGroupFacts: AccessFacts | undefined;
}

/**
 * Whether deciding `rule` needs the current membership of the member it
 * names: its role (to act on MANAGER or ADMIN needs MANAGE) or its status
 * (only a pending invitation may be answered).
 */
export function readsMemberRole(rule: AccessRuleSpec): boolean {
  return rule.memberField !== "" && (rule.requires === "WRITE" || rule.requires === "MANAGE" || rule.requires === "INVITEE");
}

/**
 * Whether deciding `rule` for `member` needs the caller's facts on the
 * member group: adding `group:<id>` needs READ on it; a group's invitation
 * is answered by its MANAGE holders.
 */
export function readsMemberGroup(rule: AccessRuleSpec, member: ParsedPrincipal): boolean {
  return rule.memberField !== "" && (rule.memberGroupNeedsRead || rule.requires === "INVITEE") && member.kind === "group";
}

/**
 * The AccessSituation of a member request: the role granted, whether the
 * member is the caller itself, the member's current role, the member group.
 * One builder for the unary RPCs' authorization step and for every batch
 * operation, so both decide alike.
 */
export function memberSituation(rule: AccessRuleSpec, callerPrincipal: string, request: MemberRequest): AccessSituation {
  const situation: { -readonly [K in keyof AccessSituation]: AccessSituation[K] } = {};
  if (rule.roleField !== "" && request.role !== undefined) situation.requestedRole = request.role;
  const member = request.member;
  if (rule.memberField === "" || member === undefined) return situation;
  situation.isSelf = member.principal === callerPrincipal;
  if (readsMemberRole(rule) && request.currentRole !== undefined) situation.targetMemberRole = request.currentRole;
  if (readsMemberRole(rule) && request.currentStatus !== undefined) situation.targetMemberStatus = request.currentStatus;
  if (readsMemberGroup(rule, member)) {
    situation.memberGroupId = member.id;
    situation.memberGroupFacts = request.memberGroupFacts;
  }
  return situation;
}

/** The outcome of an access check. */
export type AccessDecision = { readonly ok: true } | { readonly ok: false; readonly error: RosterError };

/** Names of the actions reported in proto `CallerAccess.permissions`. */
export type ActionName =
  | "group.read"
  | "group.update"
  | "group.delete"
  | "group.undelete"
  | "group.manage_policies"
  | "group.read_acl"
  | "group.set_acl"
  | "group.create_child"
  | "members.list"
  | "members.add"
  | "members.remove"
  | "members.manage_roles";

const allowed: AccessDecision = Object.freeze({ ok: true });

/** How a group named by namespace and slug appears in messages: "slug" or "namespace/slug". */
export function groupRefBySlug(namespace: string, slug: string): string {
  return namespace === "" ? slug : `${namespace}/${slug}`;
}

/**
 * The NOT_FOUND error for a group, used both for missing groups and for groups
 * the caller may not see, so the two are indistinguishable.
 */
export function groupNotFound(ref: string): RosterError {
  return notFound(`group "${ref}" not found`);
}

/**
 * The caller's effective permission: the highest of system administration
 * (MANAGE), its role, its ACL grants and MANAGE on an ancestor. Visibility
 * AUTHENTICATED is not a permission (see `canSeeGroup`).
 */
export function effectivePermission(facts: AccessFacts): Permission {
  if (facts.isSystemAdmin || facts.ancestorManage) return "MANAGE";
  const fromRole = facts.role === undefined ? "NONE" : roleToPermission(facts.role);
  return maxPermission(fromRole, maxPermissionOf(facts.aclGrants));
}

/**
 * Whether the caller may see the group's details: READ, or visibility
 * AUTHENTICATED; a DELETED group only with MANAGE.
 */
export function canSeeGroup(facts: AccessFacts): boolean {
  const permission = effectivePermission(facts);
  if (facts.state === "DELETED") return permission === "MANAGE";
  return includesPermission(permission, "READ") || facts.visibility === "AUTHENTICATED" || facts.invited;
}

/**
 * The refusal of a caller whose authentication is too old for a
 * high-assurance group (Globus's high-assurance session), or undefined.
 * Checked after visibility (a group the caller cannot see stays NOT_FOUND)
 * and before any permission need, for every decision on the group.
 */
export function assuranceRefusal(facts: AccessFacts): RosterError | undefined {
  const assurance = facts.assurance;
  if (assurance === undefined || assurance.timeoutSeconds <= 0) return undefined;
  const { authTime, now, timeoutSeconds } = assurance;
  if (authTime !== undefined && now.getTime() - authTime.getTime() <= timeoutSeconds * 1000) return undefined;
  const since = authTime === undefined ? "the token has no auth_time" : `token authenticated at ${authTime.toISOString()}`;
  return permissionDenied(
    `re-authentication required: group ${facts.groupId} requires authentication within ${timeoutSeconds} s; ${since}`,
  );
}

/**
 * Whether ListGroups shows the group: a visible live group, or with
 * show_deleted a deleted group the caller may manage (canSeeGroup already
 * limits deleted groups to MANAGE).
 */
export function showsInGroupList(facts: AccessFacts, showDeleted: boolean): boolean {
  return (facts.state === "ACTIVE" || showDeleted) && canSeeGroup(facts);
}

/** The permission needed to list the group's members: READ when member_visibility is MEMBERS, else WRITE. */
export function listMembersPermission(facts: AccessFacts): Permission {
  return facts.memberVisibility === "MEMBERS" ? "READ" : "WRITE";
}

/** Whether the caller may list the group's members (and ask about other principals' membership). */
export function canListMembers(facts: AccessFacts): boolean {
  return canSeeGroup(facts) && includesPermission(effectivePermission(facts), listMembersPermission(facts));
}

/** Who a change is delivered to, besides its group's facts. */
export interface ChangeViewer {
  readonly principal: string;
  /** A system administrator or a (transitive) member of ROSTER_CHANGE_READERS: receives every change. */
  readonly readsEverything: boolean;
}

/**
 * Whether the feed delivers a change to `viewer`, decided when it is
 * delivered on the viewer's facts on the change's group then (undefined:
 * the group does not exist). A group change goes to those who may see the
 * group, an ACL change only to those who may read the ACL (MANAGE); a
 * membership change to those who may list the group's members, and to the
 * member itself while it can see the group (as it may read its own
 * membership). Everything else is never delivered, so no event names a
 * group its receiver cannot see.
 */
export function mayReceiveChange(
  viewer: ChangeViewer,
  facts: AccessFacts | undefined,
  change: { readonly kind: ChangeKind; readonly member: string | undefined },
): boolean {
  if (viewer.readsEverything) return true;
  if (facts === undefined) return false;
  if (isMembershipChange(change.kind)) return canListMembers(facts) || (change.member === viewer.principal && canSeeGroup(facts));
  if (change.kind === "group_acl_changed") return canSeeGroup(facts) && effectivePermission(facts) === "MANAGE";
  return canSeeGroup(facts);
}

/**
 * Whether the caller may ask whether a principal is a member of the group:
 * about itself when it sees the group, about anyone else when it may list
 * the group's members. CheckMembership's declared rule (LIST_MEMBERS with
 * self_allowed), for the calls that answer many groups at once and leave
 * out those the caller may not ask about (CheckMemberships, ListGroups'
 * member_principals); a table test holds the two equal.
 */
export function canCheckMembership(facts: AccessFacts, isSelf: boolean): boolean {
  return isSelf ? canSeeGroup(facts) : canListMembers(facts);
}

/**
 * The actions the caller may take on the group, for `CallerAccess.permissions`
 * (Globus allowed_actions). On a DELETED group (visible only with MANAGE) the
 * only actions are reading and undeleting it.
 */
export function allowedActions(facts: AccessFacts): ActionName[] {
  if (!canSeeGroup(facts)) return [];
  if (facts.state === "DELETED") return ["group.read", "group.undelete"];
  const permission = effectivePermission(facts);
  const write = includesPermission(permission, "WRITE");
  const manage = permission === "MANAGE";
  const actions: ActionName[] = ["group.read"];
  if (write) actions.push("group.update");
  if (manage) actions.push("group.delete", "group.manage_policies", "group.read_acl", "group.set_acl");
  if (write) actions.push("group.create_child");
  if (canListMembers(facts)) actions.push("members.list");
  if (write) actions.push("members.add", "members.remove");
  if (manage) actions.push("members.manage_roles");
  return actions;
}

/** One permission a request needs, with why (the end of the PERMISSION_DENIED message). */
interface Need {
  readonly permission: Permission;
  readonly reason: string;
}

/**
 * Decides whether the caller may make a request. Total over every
 * `Requirement`: UNSPECIFIED (and any value outside the type) is refused
 * (fail closed). `facts` are the caller's facts on the rule's group; they
 * may be undefined only for rules that involve no group (AUTHENTICATED,
 * FILTERED, PER_ITEM) and for a top-level CreateGroup (empty parent), where
 * `situation.isCreator` / `situation.isSystemAdmin` decide.
 *
 * A group the caller cannot see yields NOT_FOUND (`group "<ref>" not found`,
 * identical to a missing group); a visible group with too little permission
 * yields PERMISSION_DENIED naming the permission needed, e.g.
 * "permission denied: MANAGE on group g1 is required to grant role ADMIN".
 *
 * @throws Error when a group rule is evaluated without facts: a wiring bug,
 *   which must surface as INTERNAL rather than be mistaken for a denial.
 */
export function evaluateAccess(rule: AccessRuleSpec, facts: AccessFacts | undefined, situation: AccessSituation = {}): AccessDecision {
  switch (rule.requires) {
    case "UNSPECIFIED":
      return deny(permissionDenied("permission denied: the method declares no access rule"));
    case "AUTHENTICATED":
    case "FILTERED":
    case "PER_ITEM":
      return allowed;
    case "CREATE_GROUP":
      if (facts === undefined) return evaluateTopLevelCreate(situation);
      return evaluateNeeds(facts, situation, [{ permission: "WRITE", reason: " to create a child group" }]);
    case "SEE_GROUP":
      return evaluateNeeds(requireFacts(rule, facts), situation, []);
    case "LIST_MEMBERS": {
      const groupFacts = requireFacts(rule, facts);
      if (rule.selfAllowed && situation.isSelf === true) return evaluateNeeds(groupFacts, situation, []);
      return evaluateNeeds(groupFacts, situation, [{ permission: listMembersPermission(groupFacts), reason: " to list its members" }]);
    }
    case "WRITE":
    case "MANAGE":
      return evaluateChange(rule, requireFacts(rule, facts), situation);
    case "INVITEE":
      return evaluateInvitee(requireFacts(rule, facts), situation);
    case "JOIN": {
      const groupFacts = requireFacts(rule, facts);
      const decision = evaluateNeeds(groupFacts, situation, []);
      if (!decision.ok || groupFacts.joinPolicy !== "CLOSED") return decision;
      return deny(joinRefusal(groupFacts.groupId));
    }
    default:
      // Unreachable for well-typed callers; a value from outside the type still fails closed.
      return deny(permissionDenied("permission denied: the method declares no access rule"));
  }
}

function evaluateTopLevelCreate(situation: AccessSituation): AccessDecision {
  if (situation.isCreator === true || situation.isSystemAdmin === true) return allowed;
  return deny(permissionDenied("permission denied: membership of the creator group is required to create a top-level group"));
}

function evaluateChange(rule: AccessRuleSpec, facts: AccessFacts, situation: AccessSituation): AccessDecision {
  if (rule.selfAllowed && rule.memberField !== "" && situation.isSelf === true) {
    return evaluateNeeds(facts, situation, []);
  }
  const needs: Need[] = [{ permission: rule.requires === "MANAGE" ? "MANAGE" : "WRITE", reason: "" }];
  if (rule.manageFields.length > 0 && situation.manageFieldChanged !== undefined) {
    needs.push({ permission: "MANAGE", reason: ` to change ${situation.manageFieldChanged}` });
  }
  if (rule.roleField !== "" && situation.requestedRole !== undefined && isPrivilegedRole(situation.requestedRole)) {
    needs.push({ permission: "MANAGE", reason: ` to grant role ${situation.requestedRole}` });
  }
  if (rule.memberField !== "" && situation.targetMemberRole !== undefined && isPrivilegedRole(situation.targetMemberRole)) {
    needs.push({ permission: "MANAGE", reason: ` to act on a member with role ${situation.targetMemberRole}` });
  }
  const decision = evaluateNeeds(facts, situation, needs);
  if (!decision.ok) return decision;
  if (rule.parentField !== "" && situation.parentMove !== undefined) {
    const move = evaluateParentMove(facts, situation.parentMove);
    if (!move.ok) return move;
  }
  if (!rule.memberGroupNeedsRead || situation.memberGroupId === undefined) return decision;
  return evaluateMemberGroup(situation.memberGroupId, situation);
}

/**
 * Moving group `facts.groupId` (the caller may change it; checked before):
 * MANAGE on the current parent, which loses the group from its managers'
 * reach; WRITE on the new parent, as creating a child there would; and the
 * top-level create right to leave every parent. The current parent is named
 * by the group itself, which the caller sees, so a refusal on it is
 * PERMISSION_DENIED naming it even when the caller cannot see that parent;
 * a new parent the caller cannot see is NOT_FOUND like a missing one.
 */
function evaluateParentMove(facts: AccessFacts, move: ParentMove): AccessDecision {
  const groupId = facts.groupId;
  if (move.from !== undefined && effectivePermission(move.from) !== "MANAGE") {
    return deny(permissionDenied(`permission denied: MANAGE on group ${move.from.groupId} is required to move group ${groupId} out of it`));
  }
  if (move.to !== undefined) return evaluateNeeds(move.to, {}, [{ permission: "WRITE", reason: ` to move group ${groupId} under it` }]);
  if (move.isCreator || facts.isSystemAdmin) return allowed;
  return deny(permissionDenied(`permission denied: membership of the creator group is required to make group ${groupId} top-level`));
}

/** Adding `group:<id>` needs READ on that group; an invisible or missing one is NOT_FOUND. */
function evaluateMemberGroup(memberGroupId: string, situation: AccessSituation): AccessDecision {
  const memberFacts = situation.memberGroupFacts;
  if (memberFacts !== undefined) {
    if (!canSeeGroup(memberFacts)) return deny(groupNotFound(memberGroupId));
    if (includesPermission(effectivePermission(memberFacts), "READ")) return allowed;
    return deny(permissionDenied(`permission denied: READ on group ${memberGroupId} is required to add it as a member`));
  }
  return situation.memberGroupReadable === true ? allowed : deny(groupNotFound(memberGroupId));
}

/**
 * An invitation is answered by the invitee itself, or for a `group:` invitee
 * by a caller with MANAGE on that group; a pending invitation lets them see
 * the group. Anyone else who sees the group is PERMISSION_DENIED; whether
 * there is an invitation at all is the membership engine's NOT_FOUND.
 */
function evaluateInvitee(facts: AccessFacts, situation: AccessSituation): AccessDecision {
  const memberGroup = situation.memberGroupFacts;
  const answersFor =
    situation.isSelf === true || (memberGroup !== undefined && canSeeGroup(memberGroup) && effectivePermission(memberGroup) === "MANAGE");
  if (answersFor && situation.targetMemberStatus === "INVITED") {
    const refusal = assuranceRefusal(facts);
    return refusal === undefined ? allowed : deny(refusal);
  }
  if (answersFor) return evaluateNeeds(facts, situation, []);
  const decision = evaluateNeeds(facts, situation, []);
  if (!decision.ok) return decision;
  return deny(
    permissionDenied(
      `permission denied: only the invitee (for a group, a caller with MANAGE on it) may answer an invitation to group ${facts.groupId}`,
    ),
  );
}

/**
 * NOT_FOUND unless the caller sees the group; then re-authentication for a
 * high-assurance group; then PERMISSION_DENIED naming the highest unmet need.
 */
function evaluateNeeds(facts: AccessFacts, situation: AccessSituation, needs: readonly Need[]): AccessDecision {
  if (!canSeeGroup(facts)) return deny(groupNotFound(situation.groupRef ?? facts.groupId));
  const refusal = assuranceRefusal(facts);
  if (refusal !== undefined) return deny(refusal);
  const held = effectivePermission(facts);
  let unmet: Need | undefined;
  for (const need of needs) {
    if (includesPermission(held, need.permission)) continue;
    if (unmet === undefined || !includesPermission(unmet.permission, need.permission)) unmet = need;
  }
  if (unmet === undefined) return allowed;
  return deny(permissionDenied(`permission denied: ${unmet.permission} on group ${facts.groupId} is required${unmet.reason}`));
}

function requireFacts(rule: AccessRuleSpec, facts: AccessFacts | undefined): AccessFacts {
  if (facts === undefined) throw new Error(`access rule ${rule.requires} needs the caller's facts on group field "${rule.groupField}"`);
  return facts;
}

function deny(error: RosterError): AccessDecision {
  return { ok: false, error };
}
