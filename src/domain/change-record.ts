/**
 * The record of a change: who changed what, when, through which call and
 * why. Every mutation writes its records in the same transaction as the
 * change (the app calls these builders on what it decided and writes the
 * drafts with the change), so the history of a group and the change feed,
 * which is the history in commit order, are exactly the changes made. One
 * record per change: a membership operation that changed nothing records
 * nothing, an UpdateGroup records the fields it changed.
 */
import { invalidArgument } from "./errors.ts";
import type { MembershipChange } from "./membership-operation.ts";
import type { AclEntry, GroupRecord, GroupState, GroupValues, JoinPolicy, MemberVisibility, Role, Visibility } from "./model.ts";
import { codePointLength } from "./text-length.ts";

/** What a change did (proto ChangeKind). */
export type ChangeKind =
  | "group_created"
  | "group_updated"
  | "group_deleted"
  | "group_undeleted"
  | "group_acl_changed"
  | "member_added"
  | "member_removed"
  | "member_role_changed"
  | "member_invited"
  | "join_requested"
  | "pending_membership_removed"
  | "member_expire_time_changed";

/** A group field a change names, as a field path of the proto Group (proto Change.changed_fields). */
export type RecordedGroupField =
  | "namespace"
  | "slug"
  | "display_name"
  | "description"
  | "parent_id"
  | "labels"
  | "policies.visibility"
  | "policies.member_visibility"
  | "policies.join_policy"
  | "policies.signup_fields"
  | "policies.authentication_assurance_timeout"
  | "state"
  | "acl"
  | "expire_time";

/** Values of the group fields a change names; the others are absent. */
export interface GroupFieldValues {
  readonly namespace?: string;
  readonly slug?: string;
  readonly displayName?: string;
  readonly description?: string;
  readonly parentId?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly visibility?: Visibility;
  readonly memberVisibility?: MemberVisibility;
  readonly joinPolicy?: JoinPolicy;
  readonly signupFields?: readonly string[];
  readonly authenticationAssuranceTimeout?: number;
  readonly state?: GroupState;
  readonly acl?: readonly AclEntry[];
}

/** Who makes a change, through which call and why: shared by every record of one call. */
export interface ChangeOrigin {
  /** The caller's principal. */
  readonly actor: string;
  /** The call's request id (its x-request-id); "" when unknown (a change made outside an RPC). */
  readonly requestId: string;
  /** "roster.v1.GroupService/CreateGroup"; "" when unknown. */
  readonly method: string;
  /** The request's reason (already validated); "" for none. */
  readonly reason: string;
}

/** A record as the change's transaction writes it (storage gives it its id). */
export interface ChangeDraft {
  readonly kind: ChangeKind;
  readonly time: Date;
  readonly actor: string;
  readonly groupId: string;
  readonly namespace: string;
  /** Membership changes only. */
  readonly member: string | undefined;
  /** Membership changes: the role before (undefined when added) and after (undefined when removed). */
  readonly roleBefore: Role | undefined;
  readonly roleAfter: Role | undefined;
  /** Group changes: the fields that changed, in a fixed order. */
  readonly changedFields: readonly RecordedGroupField[];
  /** Group changes: the changed fields' values before (undefined on creation) and after. */
  readonly before: GroupFieldValues | undefined;
  readonly after: GroupFieldValues | undefined;
  readonly reason: string;
  readonly requestId: string;
  readonly method: string;
}

/** A stored record. */
export interface ChangeRecord extends ChangeDraft {
  readonly id: string;
}

/** Longest reason, in characters (proto comments on every `reason` field). */
export const MAX_REASON_LENGTH = 1024;

/** A request's `reason`: optional, at most 1,024 characters. */
export function validateReason(reason: string, field = "reason"): string {
  const n = codePointLength(reason);
  if (n > MAX_REASON_LENGTH) throw invalidArgument(field, `must be at most ${MAX_REASON_LENGTH} characters (got ${n})`);
  return reason;
}

/** Whether a change is about a membership (decided for the feed by the group's member rules) rather than the group. */
export function isMembershipChange(kind: ChangeKind): boolean {
  return !kind.startsWith("group_");
}

function draft(
  origin: ChangeOrigin,
  time: Date,
  kind: ChangeKind,
  group: { readonly groupId: string; readonly namespace: string },
  rest: Partial<Pick<ChangeDraft, "member" | "roleBefore" | "roleAfter" | "changedFields" | "before" | "after">>,
): ChangeDraft {
  return {
    kind,
    time,
    actor: origin.actor,
    groupId: group.groupId,
    namespace: group.namespace,
    member: rest.member,
    roleBefore: rest.roleBefore,
    roleAfter: rest.roleAfter,
    changedFields: rest.changedFields ?? [],
    before: rest.before,
    after: rest.after,
    reason: origin.reason,
    requestId: origin.requestId,
    method: origin.method,
  };
}

/**
 * The record of a decided membership operation, made at `time` (the
 * transaction's); undefined when it changed nothing.
 */
export function membershipChangeDraft(
  change: MembershipChange,
  namespace: string,
  origin: ChangeOrigin,
  time: Date,
): ChangeDraft | undefined {
  const kind = membershipChangeKind(change);
  if (kind === undefined) return undefined;
  const pendingBefore = change.before?.status !== undefined;
  const expireTimeChanged = change.before?.expireTime?.getTime() !== change.after?.expireTime?.getTime();
  return draft(
    origin,
    time,
    kind,
    { groupId: change.groupId, namespace },
    {
      member: change.member,
      // A pending membership conferred no role: its acceptance is an addition.
      roleBefore: kind === "member_added" && pendingBefore ? undefined : change.before?.role,
      roleAfter: change.after?.role,
      changedFields: change.effect === "changed" && expireTimeChanged && kind !== "member_added" ? ["expire_time"] : [],
    },
  );
}

/**
 * What a decided membership operation did: an invitation or a join request
 * made, accepted (member_added) or removed unaccepted, a role or an
 * expire_time changed, a member added or removed; undefined for nothing.
 */
function membershipChangeKind(change: MembershipChange): ChangeKind | undefined {
  const { before, after } = change;
  switch (change.effect) {
    case "unchanged":
      return undefined;
    case "added":
      if (after?.status === "INVITED") return "member_invited";
      return after?.status === "REQUESTED" ? "join_requested" : "member_added";
    case "removed":
      return before?.status === undefined ? "member_removed" : "pending_membership_removed";
    case "changed":
      if (before?.status !== undefined && after?.status === undefined) return "member_added";
      if (before?.role !== after?.role) return "member_role_changed";
      return before?.expireTime?.getTime() !== after?.expireTime?.getTime() ? "member_expire_time_changed" : undefined;
  }
}

/** The record of a new group: every field it was created with. */
export function groupCreatedDraft(group: GroupRecord, origin: ChangeOrigin): ChangeDraft {
  return draft(
    origin,
    group.createTime,
    "group_created",
    { groupId: group.id, namespace: group.namespace },
    {
      changedFields: [
        "namespace",
        "slug",
        "display_name",
        "description",
        "parent_id",
        "labels",
        "policies.visibility",
        "policies.member_visibility",
        "policies.join_policy",
        "policies.signup_fields",
        "policies.authentication_assurance_timeout",
      ],
      after: {
        namespace: group.namespace,
        slug: group.slug,
        displayName: group.displayName,
        description: group.description,
        parentId: group.parentId,
        labels: group.labels,
        visibility: group.visibility,
        memberVisibility: group.memberVisibility,
        joinPolicy: group.joinPolicy,
        signupFields: group.signupFields,
        authenticationAssuranceTimeout: group.authenticationAssuranceTimeout,
      },
    },
  );
}

/** Each mutable value and the field path a change names it by, in the order records list them. */
const valueFields: readonly (readonly [keyof GroupValues, RecordedGroupField])[] = [
  ["displayName", "display_name"],
  ["description", "description"],
  ["parentId", "parent_id"],
  ["labels", "labels"],
  ["visibility", "policies.visibility"],
  ["memberVisibility", "policies.member_visibility"],
  ["joinPolicy", "policies.join_policy"],
  ["signupFields", "policies.signup_fields"],
  ["authenticationAssuranceTimeout", "policies.authentication_assurance_timeout"],
];

/** The record of an update at `time` that changed `changes` of `current` (as stored before it); undefined when nothing changed. */
export function groupUpdatedDraft(
  current: GroupRecord,
  changes: Partial<GroupValues>,
  origin: ChangeOrigin,
  time: Date,
): ChangeDraft | undefined {
  const changed = valueFields.filter(([key]) => changes[key] !== undefined);
  if (changed.length === 0) return undefined;
  const before: MutableValues = {};
  const after: MutableValues = {};
  for (const [key] of changed) {
    copyValue(before, current, key);
    copyValue(after, changes, key);
  }
  return draft(
    origin,
    time,
    "group_updated",
    { groupId: current.id, namespace: current.namespace },
    {
      changedFields: changed.map(([, field]) => field),
      before,
      after,
    },
  );
}

type MutableValues = { -readonly [K in keyof GroupValues]?: GroupValues[K] };

function copyValue<K extends keyof GroupValues>(to: Pick<MutableValues, K>, from: Pick<Partial<GroupValues>, K>, key: K): void {
  to[key] = from[key];
}

/** The record of a deletion or an undeletion of `group` (as stored before it) at `time`. */
export function groupStateDraft(group: GroupRecord, state: GroupState, origin: ChangeOrigin, time: Date): ChangeDraft {
  return draft(
    origin,
    time,
    state === "DELETED" ? "group_deleted" : "group_undeleted",
    { groupId: group.id, namespace: group.namespace },
    {
      changedFields: ["state"],
      before: { state: group.state },
      after: { state },
    },
  );
}

/** The record of an ACL replaced on `group` (as stored before it) at `time`; undefined when the grants are the same. */
export function aclChangedDraft(group: GroupRecord, acl: readonly AclEntry[], origin: ChangeOrigin, time: Date): ChangeDraft | undefined {
  if (sameAcl(group.acl, acl)) return undefined;
  return draft(
    origin,
    time,
    "group_acl_changed",
    { groupId: group.id, namespace: group.namespace },
    {
      changedFields: ["acl"],
      before: { acl: group.acl },
      after: { acl },
    },
  );
}

/** ACLs are stored ordered by principal, so equal grants are equal lists. */
function sameAcl(a: readonly AclEntry[], b: readonly AclEntry[]): boolean {
  const grants = (acl: readonly AclEntry[]): string => acl.map((entry) => `${entry.principal} ${entry.permission}`).join("\n");
  return grants(a) === grants(b);
}
