/**
 * Who receives which change of the feed, decided when it is delivered: per
 * batch the feed reads, on the caller's access read after the batch (one
 * closure walk and one query for the batch's groups and their ancestors,
 * however many changes it holds: the pattern of a batch chunk's access
 * snapshot), each change by the domain's `mayReceiveChange`. A caller who
 * loses access to a group stops receiving its changes from the next batch
 * on; one who gains it receives them from then on.
 */
import { mayReceiveChange, type ChangeViewer } from "../../domain/access-policy.ts";
import type { Caller } from "../../domain/model.ts";
import type { FeedEntry } from "../../storage/history-feed.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import { loadAccessSnapshot } from "../access-facts.ts";
import type { AppContext } from "../app-context.ts";
import type { ChangeSettings } from "./change-settings.ts";

/** The entries of one batch that `caller` may receive, in order. */
export async function deliverableEntries(
  ctx: AppContext,
  settings: ChangeSettings,
  caller: Caller,
  entries: readonly FeedEntry[],
  call: StoreCall,
): Promise<FeedEntry[]> {
  if (entries.length === 0) return [];
  // System administrators may see every group: no facts needed.
  if (caller.isSystemAdmin) return [...entries];
  const groups = await ctx.groups.getMany([...new Set(entries.map((entry) => entry.record.groupId))], call);
  const snapshot = await loadAccessSnapshot(ctx, caller, groups, call);
  const readers = settings.changeReadersGroupId;
  const viewer: ChangeViewer = {
    principal: caller.principal,
    readsEverything: readers !== undefined && snapshot.closure.roles.has(readers),
  };
  return entries.filter((entry) => mayReceiveChange(viewer, snapshot.factsOf(entry.record.groupId), entry.record));
}
