/**
 * ChangeService use cases: a group's history (ListGroupHistory), the change
 * feed (WatchChanges, ListChanges), and the retention of the history.
 */
import type { Caller } from "../../domain/model.ts";
import type { AppContext } from "../app-context.ts";
import type { CallOptions } from "../call-options.ts";
import { createChangeFeed, type ChangeFeed } from "./change-feed.ts";
import type { ChangeSettings } from "./change-settings.ts";
import { listGroupHistory, type GroupHistoryPage, type GroupHistoryQuery } from "./group-history.ts";
import { createHistoryRetention, type HistoryRetention } from "./history-retention.ts";

export interface ChangesApi extends ChangeFeed {
  /** A group's records, newest first (access decided by the pipeline). */
  listGroupHistory(caller: Caller, query: GroupHistoryQuery, options?: CallOptions): Promise<GroupHistoryPage>;
  readonly retention: HistoryRetention;
}

export function createChangesApi(ctx: AppContext, settings: ChangeSettings): ChangesApi {
  return {
    ...createChangeFeed(ctx, settings),
    listGroupHistory: (caller, query, options) => listGroupHistory(ctx, caller, query, options),
    retention: createHistoryRetention(ctx, settings),
  };
}
