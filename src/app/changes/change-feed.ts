/**
 * WatchChanges and ListChanges: the history in commit order (storage's
 * history feed, a change stream over the history's inserts), filtered for
 * the caller batch by batch (change-delivery.ts), with positions handed out
 * as opaque change tokens (the domain's change-token.ts).
 *
 * A watch sends every change the caller may receive, each with the token
 * just after it, and a checkpoint (a token, no change) as soon as it opens
 * with no change waiting and then whenever the caller has received nothing
 * for nearly the checkpoint interval — while idle, and while every change
 * goes to others: a consumer can always save a recent position. A page of
 * ListChanges reads batches until it holds `pageSize` changes, the feed has
 * nothing more (`caughtUp`), or it examined its budget of records; its next
 * token is past every record examined, whether delivered or not.
 */
import { encodeChangeToken, decodeChangeToken } from "../../domain/change-token.ts";
import type { ChangeRecord } from "../../domain/change-record.ts";
import { unavailable } from "../../domain/errors.ts";
import { normalizePageSize, validateGroupIdFilter, validateNamespace } from "../../domain/group-validation.ts";
import type { Caller } from "../../domain/model.ts";
import { openHistoryFeed, type HistoryFeed } from "../../storage/history-feed.ts";
import type { AppContext } from "../app-context.ts";
import { storeCallOf, type CallOptions } from "../call-options.ts";
import { deliverableEntries } from "./change-delivery.ts";
import type { ChangeSettings } from "./change-settings.ts";

/** Where a feed starts and what it is about. */
export interface ChangeQuery {
  /** A change token; "" = now. */
  readonly startToken: string;
  /** Only these groups (at most 100); empty: every group. */
  readonly groupIds: readonly string[];
  /** Only groups of this namespace; undefined: every namespace. */
  readonly namespace: string | undefined;
}

export interface ListChangesQuery extends ChangeQuery {
  readonly pageSize: number;
}

/** One message of a watch: a change with the token just after it, or a checkpoint. */
export type FeedMessage =
  | { readonly kind: "change"; readonly change: ChangeRecord; readonly token: string }
  | { readonly kind: "checkpoint"; readonly token: string };

/** One page of ListChanges. */
export interface ChangePage {
  /** In commit order. */
  readonly changes: readonly ChangeRecord[];
  /** Past every record examined. */
  readonly nextToken: string;
  /** `nextToken` is the present: nothing more was committed. */
  readonly caughtUp: boolean;
}

export interface ChangeFeed {
  watch(caller: Caller, query: ChangeQuery, options?: CallOptions): AsyncGenerator<FeedMessage>;
  list(caller: Caller, query: ListChangesQuery, options?: CallOptions): Promise<ChangePage>;
  /** Ends every open watch with unavailable after the batch it is reading, and refuses new ones (shutdown). */
  closeWatches(): void;
}

/** Most records one batch of a watch reads (and one access snapshot decides). */
const watchBatchSize = 500;
/** How long one empty read of ListChanges waits: a page answers soon after the feed runs dry. */
const listAwaitMs = 50;
/** Most records one ListChanges call examines, delivered or not, before it answers with what it has. */
const listScanBudget = 5_000;

export function createChangeFeed(ctx: AppContext, settings: ChangeSettings): ChangeFeed {
  const closing = new AbortController();
  // A read waits at most a quarter of the interval, so a checkpoint is never late by more than that.
  const watchAwaitMs = Math.max(10, Math.min(1_000, Math.floor(settings.checkpointIntervalMs / 4)));

  function open(query: ChangeQuery, awaitMs: number, batchSize: number): HistoryFeed {
    const after = decodeChangeToken(query.startToken, "start_token");
    const groupIds = validateGroupIdFilter(query.groupIds);
    const namespace = query.namespace === undefined ? undefined : validateNamespace(query.namespace, "namespace");
    return openHistoryFeed(ctx.database, {
      after,
      groupIds: groupIds.length === 0 ? undefined : groupIds,
      namespace,
      awaitMs,
      batchSize,
      positionField: "start_token",
    });
  }

  const closed = (): boolean => closing.signal.aborted;
  const shuttingDown = () => unavailable("the server is shutting down; continue from your last token (here or on another replica)");

  return {
    async *watch(caller, query, options) {
      if (closed()) throw shuttingDown();
      const feed = open(query, watchAwaitMs, watchBatchSize);
      const call = storeCallOf(options);
      try {
        /** When the caller last got a message; undefined before the first. */
        let lastSent: number | undefined;
        for (;;) {
          const batch = await feed.next();
          if (options?.signal?.aborted === true) return;
          if (closed()) throw shuttingDown();
          const entries = await deliverableEntries(ctx, settings, caller, batch.entries, call);
          for (const entry of entries) {
            yield { kind: "change", change: entry.record, token: encodeChangeToken(entry.position) };
            lastSent = Date.now();
          }
          const due = lastSent === undefined || Date.now() - lastSent + watchAwaitMs >= settings.checkpointIntervalMs;
          if (entries.length === 0 && due) {
            yield { kind: "checkpoint", token: encodeChangeToken(batch.position) };
            lastSent = Date.now();
          }
        }
      } finally {
        await feed.close();
      }
    },

    async list(caller, query, options) {
      const pageSize = normalizePageSize(query.pageSize);
      const feed = open(query, listAwaitMs, pageSize);
      const call = storeCallOf(options);
      try {
        const changes: ChangeRecord[] = [];
        let position: string | undefined;
        let caughtUp = false;
        let examined = 0;
        while (changes.length < pageSize && examined < listScanBudget) {
          const batch = await feed.next();
          if (batch.entries.length === 0) {
            position = batch.position;
            caughtUp = true;
            break;
          }
          const deliverable = new Set(await deliverableEntries(ctx, settings, caller, batch.entries, call));
          for (const entry of batch.entries) {
            position = entry.position;
            examined += 1;
            if (deliverable.has(entry)) changes.push(entry.record);
            if (changes.length === pageSize) break;
          }
          // Answer with what there is rather than run into the caller's deadline.
          if (call.deadline !== undefined && call.deadline - Date.now() < 4 * listAwaitMs) break;
        }
        if (position === undefined) throw new Error("the change feed gave no position");
        return { changes, nextToken: encodeChangeToken(position), caughtUp };
      } finally {
        await feed.close();
      }
    },

    closeWatches() {
      closing.abort();
    },
  };
}
