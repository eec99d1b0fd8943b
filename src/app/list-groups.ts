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
 * Limits: the id sets in the query grow with the caller's own memberships
 * and grants (thousands are fine; a principal in hundreds of thousands of
 * groups would make large queries), and `total_size` is a count over the
 * same filter, so it costs as much as the matching set.
 *
 * Pagination: sort key plus `_id` as tie-breaker; the token carries the last
 * (key, id) and the next page asks for keys strictly beyond it. Groups
 * inserted or deleted meanwhile therefore never shift the others: nothing
 * that existed throughout is repeated or skipped. A group renamed between
 * pages moves in a display_name ordering, as it would in any keyset scheme.
 */
import { invalidArgument } from "../domain/errors.ts";
import {
  normalizePageSize,
  parseOrderBy,
  validateNamespace,
  validateParentId,
  validateQuery,
} from "../domain/group-validation.ts";
import type { Caller, GroupRecord } from "../domain/model.ts";
import { decodePageToken, encodePageToken, requestFingerprint, type JsonValue } from "../domain/page-token.ts";
import { groupRecordOf, sortNameOf, type GroupNode } from "../storage/documents.ts";
import type { GroupKeyset, GroupListCriteria, GroupListOrder, GroupScope } from "../storage/group-store.ts";
import type { StoreCall } from "../storage/store-call.ts";
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
}

export interface GroupPage {
  readonly groups: readonly GroupRecord[];
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

/** The visibility scope of `caller` as id sets (see the module comment). */
export async function loadGroupScope(
  ctx: AppContext,
  caller: Caller,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<GroupScope> {
  if (caller.isSystemAdmin) return { kind: "everything" };
  const closure = await loadPrincipalClosure(ctx, caller.principal, call, memo);
  const principals = [...closure.aclPrincipals];
  const manageGrants = await readsOf(ctx, call).groups.idsGrantingTo(principals, "MANAGE", call);
  const adminOf = [...closure.roles].filter(([, role]) => role === "ADMIN").map(([id]) => id);
  const deletedAdminOf = [...closure.deletedRoles].filter(([, role]) => role === "ADMIN").map(([id]) => id);
  return {
    kind: "caller",
    memberOfIds: [...closure.roles.keys()],
    principals,
    manageRootIds: [...new Set([...adminOf, ...manageGrants])],
    deletedAdminOfIds: deletedAdminOf,
  };
}

function keyOf(group: GroupNode, order: GroupListOrder): ListKey {
  return order.field === "sortName"
    ? [sortNameOf(group.displayName), group.id]
    : [group.createTime.getTime(), group.id];
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
  };
  const fingerprint = requestFingerprint(fingerprintFields);
  const key = decodePageToken(query.pageToken, fingerprint, isListKey);
  const after = key === undefined ? undefined : keysetOf(key, order);

  const call = await readCallOf(ctx, options);
  const reads = readsOf(ctx, call);
  const scope = await loadGroupScope(ctx, caller, call, options?.memo);
  const criteria: GroupListCriteria = { scope, includeDeleted: query.showDeleted, namespace, parentId, text };
  const [rows, totalSize] = await Promise.all([
    reads.groups.listPage(criteria, order, after, pageSize + 1, call),
    reads.groups.count(criteria, call),
  ]);
  const page = rows.slice(0, pageSize);
  const last = page.at(-1);
  const nextPageToken =
    rows.length > pageSize && last !== undefined ? encodePageToken([...keyOf(last, order)], fingerprint) : "";
  return { groups: page.map(groupRecordOf), nextPageToken, totalSize };
}
