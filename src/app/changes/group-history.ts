/**
 * ListGroupHistory: a group's records newest first, in keyset pages (time,
 * then record id). Access was decided by the RPC pipeline on the method's
 * declared rule: MANAGE on the group, or, for the records of one's own
 * membership (member = the caller), being able to see the group.
 */
import type { ChangeRecord } from "../../domain/change-record.ts";
import { invalidArgument } from "../../domain/errors.ts";
import { normalizePageSize, validateGroupId } from "../../domain/group-validation.ts";
import type { Caller } from "../../domain/model.ts";
import { decodePageToken, encodePageToken, requestFingerprint } from "../../domain/page-token.ts";
import { parsePrincipal } from "../../domain/principal.ts";
import type { AppContext } from "../app-context.ts";
import { storeCallOf, type CallOptions } from "../call-options.ts";

export interface GroupHistoryQuery {
  readonly groupId: string;
  /** Only this member's records; "" = every record. */
  readonly member: string;
  /** Only records at or after this time. */
  readonly since: Date | undefined;
  /** Only records before this time. */
  readonly until: Date | undefined;
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface GroupHistoryPage {
  /** Newest first. */
  readonly changes: readonly ChangeRecord[];
  readonly nextPageToken: string;
}

/** A page token's key: the last record's time (epoch ms) and id. */
type HistoryKey = readonly [number, string];

function isHistoryKey(value: unknown): value is HistoryKey {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === "string" &&
    /^[0-9a-f]{24}$/.test(value[1])
  );
}

export async function listGroupHistory(
  ctx: AppContext,
  caller: Caller,
  query: GroupHistoryQuery,
  options?: CallOptions,
): Promise<GroupHistoryPage> {
  const groupId = validateGroupId(query.groupId, "group_id");
  const member = query.member === "" ? undefined : parsePrincipal(query.member, "member").principal;
  const { since, until } = query;
  if (since !== undefined && until !== undefined && until.getTime() <= since.getTime())
    throw invalidArgument("until", "must be after since");
  const pageSize = normalizePageSize(query.pageSize);
  const fingerprint = requestFingerprint({
    caller: caller.principal,
    groupId,
    member,
    since: since?.toISOString(),
    until: until?.toISOString(),
  });
  const after = decodePageToken(query.pageToken, fingerprint, isHistoryKey);
  const rows = await ctx.history.listPage(
    { groupId, member, since, until },
    after === undefined ? undefined : { time: new Date(after[0]), id: after[1] },
    pageSize + 1,
    storeCallOf(options),
  );
  const changes = rows.slice(0, pageSize);
  const last = changes.at(-1);
  const nextPageToken = rows.length > pageSize && last !== undefined ? encodePageToken([last.time.getTime(), last.id], fingerprint) : "";
  return { changes, nextPageToken };
}
