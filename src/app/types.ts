/**
 * The application API of Roster: what the RPC layer (and later the batch
 * engine of issue 5) calls. Plain domain types only: no gen/, no transport,
 * no driver types except in the dependencies of `createRosterApp`.
 *
 * Authorization contract: the RPC pipeline's single authorization step calls
 * `access.resolve` (or `access.authorize`) BEFORE the handler, with the values
 * the method's AccessRule points at, and runs the domain `evaluateAccess` on
 * the facts returned. Use-case methods then trust that the caller was
 * authorized for the group they name and never re-check access themselves —
 * except the FILTERED methods (`groups.batchGet`, `groups.list`,
 * `memberships.listPrincipalGroups`), which filter with the same domain
 * functions inside the app. State rules that are not access rules (a deleted
 * group cannot be changed, the last direct ADMIN stays, cycles) are enforced by
 * the use cases whatever the caller.
 */
import type { Db, MongoClient } from "mongodb";
import type {
  AclEntry,
  Caller,
  GroupDraft,
  GroupRecord,
  GroupValues as DomainGroupValues,
  MembershipRecord,
  Permission,
  Role,
} from "../domain/model.ts";
import type { AccessFacts, AccessRuleSpec, AccessSituation } from "../domain/access-policy.ts";
import type { AclEntryInput } from "../domain/group-validation.ts";
import type { RequestMemo } from "./request-memo.ts";
import type { BatchApi, BatchLimits } from "./batch/types.ts";

/**
 * Per-call options. `deadline` (epoch milliseconds) bounds the database work:
 * every query gets `maxTimeMS` from the time remaining, and a use case that
 * runs out of time throws RosterError("deadline_exceeded"). `signal` aborts
 * between database steps (a cancelled RPC), also as deadline_exceeded.
 */
export interface CallOptions {
  readonly deadline?: number;
  readonly signal?: AbortSignal;
  /**
   * Per-request cache (from `createRequestMemo()`): pass the same memo to
   * `access.resolve` and to the use case of one RPC so the caller's
   * transitive groups are loaded once. Never share one between requests.
   */
  readonly memo?: RequestMemo;
}

/** A minimal structured logger (pino's shape), for the rare event worth logging. */
export interface AppLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What `createRosterApp` needs. */
export interface RosterAppDeps {
  /** Used to start sessions for multi-document transactions. */
  readonly client: MongoClient;
  readonly db: Db;
  /** Defaults to `() => new Date()`; tests inject a clock. */
  readonly clock?: () => Date;
  /** Group id generator; defaults to 16 random lowercase base32 characters. */
  readonly idGenerator?: () => string;
  /**
   * ROSTER_CREATOR_GROUP: when set, only its (transitive) members and system
   * administrators may create top-level groups.
   */
  readonly creatorGroupId?: string;
  readonly logger?: AppLogger;
  /** Limits of the batch engine (ROSTER_BATCH_*); defaults in ./batch/limits.ts. */
  readonly batchLimits?: BatchLimits;
}

/**
 * The mutable fields of a group, as the client supplies them (already parsed
 * from proto: an unspecified visibility arrives as "PRIVATE", an unspecified
 * member visibility as "MEMBERS", supplied by the converter).
 */
export type GroupValues = DomainGroupValues;

/** CreateGroup input: the mutable fields plus the immutable scope and slug. */
export type GroupInput = GroupDraft;

/** The update_mask paths UpdateGroup accepts (proto field names). */
export type GroupUpdatePath =
  | "display_name"
  | "description"
  | "labels"
  | "policies"
  | "policies.visibility"
  | "policies.member_visibility"
  | "parent_id";

/**
 * UpdateGroup input. `mask` undefined = no mask: every mutable field is
 * replaced by `values`. With a mask only the named fields change. The
 * converter passes mask paths through unchecked; the app refuses unknown ones
 * with invalid_argument("update_mask", ...), so the rule lives in one place.
 */
export interface GroupUpdate {
  readonly id: string;
  readonly values: GroupValues;
  readonly mask: readonly string[] | undefined;
  /** "" = no etag check. */
  readonly etag: string;
}

/** GetGroup: by id, or by namespace and slug. */
export type GroupRef = { readonly id: string } | { readonly namespace: string; readonly slug: string };

/** What the caller may do on a group (proto CallerAccess). */
export interface CallerAccess {
  /** Highest role, direct or through nested groups; undefined when not a member. */
  readonly role: Role | undefined;
  readonly effectivePermission: Permission;
  /** domain allowedActions(facts): "group.read", "members.add", ... */
  readonly permissions: readonly string[];
}

export interface GroupWithAccess {
  readonly group: GroupRecord;
  readonly access: CallerAccess;
}

/** ListGroups input (proto ListGroupsRequest, with optional fields as undefined). */
export interface ListGroupsQuery {
  /** undefined = every namespace; "" = the global namespace. */
  readonly namespace: string | undefined;
  /** undefined = any level; "" = top-level only. */
  readonly parentId: string | undefined;
  /** Case-insensitive substring over slug, display name, description; "" = all. */
  readonly query: string;
  readonly showDeleted: boolean;
  /** Raw proto value: 0 → 50, > 1000 → 1000, < 0 → invalid_argument. */
  readonly pageSize: number;
  readonly pageToken: string;
  /** "", "display_name", "create_time", optionally followed by " desc". */
  readonly orderBy: string;
}

export interface GroupPage {
  readonly groups: readonly GroupRecord[];
  /** "" on the last page. */
  readonly nextPageToken: string;
  readonly totalSize: number;
}

export interface BatchGetResult {
  /** Found and visible, in request order, duplicates once. */
  readonly groups: readonly GroupRecord[];
  /** Missing or invisible, in request order. */
  readonly missingIds: readonly string[];
}

export interface AclResult {
  /** Sorted by principal. */
  readonly entries: readonly AclEntry[];
  readonly etag: string;
}

export interface GroupsApi {
  /**
   * Creates a group; the caller becomes its first ADMIN (memberCount 1). The
   * same caller repeating `requestId` (non-empty) gets the group created the
   * first time, even when both requests raced, as GetGroup shows it to the
   * caller now; not_found when it is deleted or the caller cannot see it.
   */
  create(caller: Caller, input: GroupInput, requestId: string, options?: CallOptions): Promise<GroupRecord>;
  /**
   * Returns the group with the caller's access. not_found when missing or
   * not visible to the caller (a DELETED group is visible only with MANAGE),
   * by the same domain rule as the authorization step.
   */
  get(caller: Caller, ref: GroupRef, options?: CallOptions): Promise<GroupWithAccess>;
  /** 1–100 ids (invalid_argument "ids" otherwise); filtered by what the caller may see. */
  batchGet(caller: Caller, ids: readonly string[], options?: CallOptions): Promise<BatchGetResult>;
  /** Only groups the caller can see; keyset pagination. */
  list(caller: Caller, query: ListGroupsQuery, options?: CallOptions): Promise<GroupPage>;
  /**
   * Stale etag → aborted; parent change checked for cycles and depth.
   * `rule` is UpdateGroup's declared access rule, decided again here inside
   * the transaction on the stored group the update writes: which of its
   * manage_fields change and where its parent_field moves the group depend
   * on that version.
   */
  update(caller: Caller, update: GroupUpdate, rule: AccessRuleSpec, options?: CallOptions): Promise<GroupRecord>;
  /** Soft delete; failed_precondition with live children. `etag` "" = unchecked. */
  delete(caller: Caller, id: string, etag: string, options?: CallOptions): Promise<GroupRecord>;
  /** already_exists when the slug is live again in its namespace. */
  undelete(caller: Caller, id: string, options?: CallOptions): Promise<GroupRecord>;
  getAcl(caller: Caller, groupId: string, options?: CallOptions): Promise<AclResult>;
  /**
   * Replaces the ACL (≤ 256 entries, one per principal; permission "NONE"
   * stands for PERMISSION_UNSPECIFIED and is refused) and bumps the etag.
   */
  setAcl(caller: Caller, groupId: string, entries: readonly AclEntryInput[], etag: string, options?: CallOptions): Promise<AclResult>;
}

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

export interface CheckMembershipResult {
  readonly isMember: boolean;
  readonly role: Role | undefined;
  /** Group ids from the principal's direct group up to groupId; [] when not a member. */
  readonly path: readonly string[];
}

export interface MembershipsApi {
  /** Idempotent; `group:<id>` members are checked for cycles and depth. */
  add(caller: Caller, groupId: string, member: string, role: Role, options?: CallOptions): Promise<AddMemberResult>;
  /** not_found for a non-member; never removes the last direct ADMIN. Returns the removed membership. */
  remove(caller: Caller, groupId: string, member: string, options?: CallOptions): Promise<MembershipRecord>;
  /** `role` undefined → invalid_argument("role", ...); never demotes the last direct ADMIN. */
  updateRole(caller: Caller, groupId: string, member: string, role: Role | undefined, options?: CallOptions): Promise<MembershipRecord>;
  /** The direct membership; not_found for a non-member. */
  get(caller: Caller, groupId: string, member: string, options?: CallOptions): Promise<MembershipRecord>;
  list(caller: Caller, query: ListMembershipsQuery, options?: CallOptions): Promise<MembershipPage>;
  /** FILTERED: for someone else, only groups whose members the caller may list. */
  listPrincipalGroups(caller: Caller, query: ListPrincipalGroupsQuery, options?: CallOptions): Promise<PrincipalGroupPage>;
  check(caller: Caller, query: CheckMembershipQuery, options?: CallOptions): Promise<CheckMembershipResult>;
}

/**
 * The request values an AccessRule points at, already extracted by the RPC
 * layer (field paths resolved, enums converted, "" for unset strings).
 */
export interface AccessTarget {
  /** Value of group_field ("" when empty; for CREATE_GROUP the parent id). */
  readonly groupId?: string;
  /** namespace_field / slug_field (GetGroup by name when groupId is ""). */
  readonly namespace?: string;
  readonly slug?: string;
  /** Value of role_field, when the rule has one and it is set. */
  readonly role?: Role;
  /** Value of member_field, when the rule has one. */
  readonly member?: string;
  /**
   * UpdateGroup: the update, so that the resolver can tell which of the
   * rule's manage_fields ("group.policies", "group.parent_id") would change.
   */
  readonly update?: GroupUpdate;
}

/** What `access.resolve` found: feed `facts` and `situation` to domain evaluateAccess. */
export interface ResolvedAccess {
  /** The target group; undefined for rules without a group (AUTHENTICATED, top-level CREATE_GROUP). */
  readonly group: GroupRecord | undefined;
  /** The caller's facts on `group`; undefined exactly when `group` is. */
  readonly facts: AccessFacts | undefined;
  readonly situation: AccessSituation;
}

export interface AccessApi {
  /**
   * Loads the authorization facts of (caller, target group) with bounded
   * transitive resolution. Throws not_found (`group "<id>" not found`) when the
   * group does not exist; invalid_argument when the target values are
   * malformed (e.g. an empty group id where one is required).
   */
  resolve(caller: Caller, rule: AccessRuleSpec, target: AccessTarget, options?: CallOptions): Promise<ResolvedAccess>;
  /** `resolve` then domain `evaluateAccess`; throws its error when refused. */
  authorize(caller: Caller, rule: AccessRuleSpec, target: AccessTarget, options?: CallOptions): Promise<ResolvedAccess>;
}

export interface RosterApp {
  readonly groups: GroupsApi;
  readonly memberships: MembershipsApi;
  readonly access: AccessApi;
  /** BatchMemberships / BatchUpdateMemberships (issue 5), see ./batch/types.ts. */
  readonly batch: BatchApi;
}

/** Signature of the factory in ./roster-app.ts. */
export type CreateRosterApp = (deps: RosterAppDeps) => Promise<RosterApp>;
