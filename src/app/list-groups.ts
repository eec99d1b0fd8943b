/**
 * ListGroups: the groups the caller can see, searched, ordered and paged by
 * keyset.
 *
 * Visibility is part of the database query, not a filter over results. For a
 * system administrator the scope is everything; for anyone else it is an
 * `$or` of (a) the live groups of the caller's closure, (b) groups whose ACL
 * names the caller or one of those groups (index on acl.principal), (c)
 * descendants of the groups the caller manages directly (multikey index on
 * ancestorIds), and (d) visibility AUTHENTICATED. That is exactly READ or
 * AUTHENTICATED visibility as the domain defines it, so every page is full
 * and no page walks groups the caller cannot see.
 *
 * A minimum `permission` narrows the same `$or` to what grants at least
 * that (roles and ACL entries of that level or above, descendants of managed
 * groups) and drops (d): still exactly the domain's `effectivePermission`.
 * `member_principals` becomes an id set: the groups those principals are
 * direct members of (one indexed query), kept where the caller may ask
 * about that membership (the domain's `canCheckMembership`, CheckMembership's
 * rule), so the filter tells nothing a CheckMembership would not.
 *
 * Every listed group carries the caller's access (`callerAccessOf`, as
 * GetGroup's): computed from the closure the scope already loaded and one
 * ancestors query for the page.
 *
 * Limits: the id sets in the query grow with the caller's own memberships
 * and grants (thousands are fine; a principal in hundreds of thousands of
 * groups would make large queries), and so does the member filter with the
 * named principals' memberships; `total_size` is a count over the same
 * filter, so it costs as much as the matching set.
 *
 * Pagination: sort key plus `_id` as tie-breaker; the token carries the last
 * (key, id) and the next page asks for keys strictly beyond it. Groups
 * inserted or deleted meanwhile therefore never shift the others: nothing
 * that existed throughout is repeated or skipped. A group renamed between
 * pages moves in a display_name ordering, as it would in any keyset scheme.
 */
import { confers } from "../domain/membership-status.ts";
import { canCheckMembership } from "../domain/access-policy.ts";
import { invalidArgument } from "../domain/errors.ts";
import { normalizePageSize, parseOrderBy, validateNamespace, validateParentId, validateQuery } from "../domain/group-validation.ts";
import type { Caller, GrantablePermission, GroupRecord, Permission } from "../domain/model.ts";
import { includesPermission, permissions, roleToPermission } from "../domain/permissions.ts";
import { parsePrincipal } from "../domain/principal.ts";
import { decodePageToken, encodePageToken, requestFingerprint, type JsonValue } from "../domain/page-token.ts";
import { groupRecordOf, sortNameOf, type GroupNode } from "../storage/documents.ts";
import type { GroupKeyset, GroupListCriteria, GroupListOrder, GroupScope } from "../storage/group-store.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { accessFactsOf, callerAccessOf, loadAncestors, type CallerAccess } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import type { CallOptions } from "./call-options.ts";
import { readCallOf, readsOf } from "./read-source.ts";
import { loadPrincipalClosure } from "./principal-closure.ts";
import type { RequestMemo } from "./request-memo.ts";

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
  /** Only groups where the caller's effective permission is at least this; undefined = every visible group. */
  readonly permission?: GrantablePermission | undefined;
  /** Only groups with one of these (unchecked) principals as a direct member the caller may ask about; empty = no filter. */
  readonly memberPrincipals?: readonly string[];
}

/** Most principals a member_principals filter may name. */
export const MAX_MEMBER_PRINCIPALS = 100;

export interface GroupPage {
  readonly groups: readonly GroupRecord[];
  /** The caller's access on each group of the page, by group id. */
  readonly access: ReadonlyMap<string, CallerAccess>;
  /** "" on the last page. */
  readonly nextPageToken: string;
  readonly totalSize: number;
}

/** A ListGroups page token key: [sort key (name, or create time in epoch ms), group id]. */
type ListKey = readonly [string | number, string];

function isListKey(value: unknown): value is ListKey {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    (typeof value[0] === "string" || (typeof value[0] === "number" && Number.isFinite(value[0]))) &&
    typeof value[1] === "string"
  );
}

/**
 * The scope of `caller` as id sets (see the module comment): the groups it
 * can see, or with `minimum` those where its effective permission is at least that.
 */
export async function loadGroupScope(
  ctx: AppContext,
  caller: Caller,
  minimum: GrantablePermission | undefined,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<GroupScope> {
  if (caller.isSystemAdmin) return { kind: "everything" };
  const closure = await loadPrincipalClosure(ctx, caller.principal, call, memo);
  const principals = [...closure.aclPrincipals];
  const manageGrants = await readsOf(ctx, call).groups.idsGrantingTo(principals, "MANAGE", call);
  const grants = (permission: Permission) => minimum === undefined || includesPermission(permission, minimum);
  // One pass, no entry arrays: a caller may be in thousands of groups, and this runs on every ListGroups.
  const memberOfIds: string[] = [];
  const adminOf: string[] = [];
  for (const [id, role] of closure.roles) {
    if (grants(roleToPermission(role))) memberOfIds.push(id);
    if (role === "ADMIN") adminOf.push(id);
  }
  const deletedAdminOf: string[] = [];
  for (const [id, role] of closure.deletedRoles) if (role === "ADMIN") deletedAdminOf.push(id);
  return {
    kind: "caller",
    memberOfIds,
    principals,
    aclPermissions: minimum === undefined ? undefined : permissions.filter((p): p is GrantablePermission => p !== "NONE" && grants(p)),
    manageRootIds: [...new Set([...adminOf, ...manageGrants])],
    deletedAdminOfIds: deletedAdminOf,
    authenticatedVisible: minimum === undefined,
  };
}

/** The member_principals, checked: at most MAX_MEMBER_PRINCIPALS, each well formed; sorted without duplicates. */
function validateMemberPrincipals(values: readonly string[]): string[] {
  if (values.length > MAX_MEMBER_PRINCIPALS) {
    throw invalidArgument("member_principals", `must have at most ${MAX_MEMBER_PRINCIPALS} entries (got ${values.length})`);
  }
  return [...new Set(values.map((value, i) => parsePrincipal(value, `member_principals[${i}]`).principal))].sort();
}

/**
 * The groups one of `principals` is a direct member of where the caller may
 * ask about that membership (CheckMembership's rule): the member filter's id set.
 */
async function groupsWithMembers(
  ctx: AppContext,
  caller: Caller,
  principals: readonly string[],
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<string[]> {
  const reads = readsOf(ctx, call);
  const [edges, closure] = await Promise.all([
    reads.memberships.edgesOfMembers(principals, call),
    loadPrincipalClosure(ctx, caller.principal, call, memo),
  ]);
  const groups = await reads.groups.getMany([...new Set(edges.map((edge) => edge.groupId))], call);
  const ancestors = await loadAncestors(ctx, groups, call);
  const facts = new Map(groups.map((group) => [group.id, accessFactsOf(caller, group, closure, ancestors)]));
  const ids = new Set<string>();
  for (const edge of edges) {
    // A direct member: an ACTIVE membership that has not expired (pending ones make nobody a member).
    if (!confers(edge, closure.readAt)) continue;
    const groupFacts = facts.get(edge.groupId);
    if (groupFacts !== undefined && canCheckMembership(groupFacts, edge.member === caller.principal)) ids.add(edge.groupId);
  }
  return [...ids];
}

/** The caller's access on each group of a page, from its closure and the page's ancestors. */
async function accessOnPage(
  ctx: AppContext,
  caller: Caller,
  page: readonly GroupNode[],
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<Map<string, CallerAccess>> {
  const [closure, ancestors] = await Promise.all([loadPrincipalClosure(ctx, caller.principal, call, memo), loadAncestors(ctx, page, call)]);
  return new Map(page.map((group) => [group.id, callerAccessOf(accessFactsOf(caller, group, closure, ancestors))]));
}

function keyOf(group: GroupNode, order: GroupListOrder): ListKey {
  return order.field === "sortName" ? [sortNameOf(group.displayName), group.id] : [group.createTime.getTime(), group.id];
}

function keysetOf(key: ListKey, order: GroupListOrder): GroupKeyset {
  const [sortKey, id] = key;
  if (order.field === "sortName") {
    if (typeof sortKey !== "string") throw invalidArgument("page_token", "is not a valid page token");
    return { key: sortKey, id };
  }
  if (typeof sortKey !== "number") throw invalidArgument("page_token", "is not a valid page token");
  return { key: new Date(sortKey), id };
}

export async function listGroups(
  ctx: AppContext,
  caller: Caller,
  query: ListGroupsQuery,
  options: CallOptions | undefined,
): Promise<GroupPage> {
  const pageSize = normalizePageSize(query.pageSize);
  const parsedOrder = parseOrderBy(query.orderBy);
  const text = validateQuery(query.query);
  const namespace = query.namespace === undefined ? undefined : validateNamespace(query.namespace, "namespace");
  const parentId = query.parentId === undefined ? undefined : validateParentId(query.parentId, "parent_id");
  const memberPrincipals = validateMemberPrincipals(query.memberPrincipals ?? []);
  const order: GroupListOrder = {
    field: parsedOrder.field === "display_name" ? "sortName" : "createTime",
    descending: parsedOrder.descending,
  };
  const fingerprintFields: Record<string, JsonValue | undefined> = {
    caller: caller.principal,
    namespace,
    parentId,
    text,
    showDeleted: query.showDeleted,
    order: `${parsedOrder.field} ${parsedOrder.descending ? "desc" : "asc"}`,
    permission: query.permission,
    memberPrincipals: memberPrincipals.length === 0 ? undefined : memberPrincipals,
  };
  const fingerprint = requestFingerprint(fingerprintFields);
  const key = decodePageToken(query.pageToken, fingerprint, isListKey);
  const after = key === undefined ? undefined : keysetOf(key, order);

  const call = await readCallOf(ctx, options);
  const memo = options?.memo;
  const [scope, ids] = await Promise.all([
    loadGroupScope(ctx, caller, query.permission, call, memo),
    memberPrincipals.length === 0 ? undefined : groupsWithMembers(ctx, caller, memberPrincipals, call, memo),
  ]);
  const criteria: GroupListCriteria = { scope, includeDeleted: query.showDeleted, namespace, parentId, text, ids };
  const reads = readsOf(ctx, call);
  const [rows, totalSize] = await Promise.all([
    reads.groups.listPage(criteria, order, after, pageSize + 1, call),
    reads.groups.count(criteria, call),
  ]);
  const page = rows.slice(0, pageSize);
  const last = page.at(-1);
  const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken([...keyOf(last, order)], fingerprint) : "";
  const access = await accessOnPage(ctx, caller, page, call, memo);
  return { groups: page.map(groupRecordOf), access, nextPageToken, totalSize };
}
