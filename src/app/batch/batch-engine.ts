/**
 * The batch engine behind BatchMemberships (stream) and
 * BatchUpdateMemberships (unary). It is pull-driven end to end:
 *
 *   request stream ──(chunk reader: ≤ chunkSize, lingerMs)──▶ applyChunk (one transaction)
 *        ▲                                                        │
 *        └──── next chunk read only when ◀── results yielded one by one, each only
 *              every result was taken          when the transport asks for it
 *
 * The transport asks for the next result only after the previous one was
 * written (the gRPC door waits for 'drain'), so a client that stops reading
 * stops the engine, which stops reading requests, which lets HTTP/2 flow
 * control stop the client. While a chunk is applied the next one is read
 * (one chunk of lookahead, so reading and the transaction overlap); memory
 * per stream is two chunks of operations and one of results, whatever the
 * stream's length. Idle time counts only while the engine waits for the
 * client with nothing else to do.
 *
 * Limits end the stream after everything before them was answered:
 * operations per stream → RESOURCE_EXHAUSTED; stream duration and idle time
 * between messages → DEADLINE_EXCEEDED. Each message names the setting.
 *
 * Each applied chunk is an event (`roster.batch.chunk`) on the active trace
 * span, the RPC's when tracing is on; without tracing that is a no-op.
 */
import { trace } from "@opentelemetry/api";
import { validateReason } from "../../domain/change-record.ts";
import { deadlineExceeded, invalidArgument, resourceExhausted } from "../../domain/errors.ts";
import type { Caller } from "../../domain/model.ts";
import { createSyncMarkStore } from "../../storage/sync-mark-store.ts";
import type { AppContext } from "../app-context.ts";
import { changeOriginOf, storeCallOf, type ChangeOptions } from "../call-options.ts";
import { applyChunk, type BatchAccessRules, type BatchResult, type ChunkDeps, type IndexedItem } from "./apply-chunk.ts";
import type { BatchItem } from "./check-operation.ts";
import { createChunkReader, waitForClient, type WaitLimits } from "./chunk-reader.ts";
import { defaultBatchLimits, type BatchLimits } from "./limits.ts";
import { countEffects, finishSync, startSync, type SyncDeps, type SyncRun, type SyncSummary } from "./sync-run.ts";

/** One message of a batch stream. */
export type BatchRequest = (
  | { readonly kind: "operation"; readonly item: BatchItem }
  /** Only as the first message: the stream is the complete desired member list of `groupId`. */
  | { readonly kind: "sync"; readonly groupId: string; readonly dryRun: boolean }
  /** A message that carries only the stream's reason. */
  | { readonly kind: "reason_only" }
) & {
  /** Only on the first message: the stream's reason, recorded with each change an operation without one makes. */
  readonly reason?: string;
};

/** One message of the answer stream. */
export type BatchResponse =
  | { readonly kind: "result"; readonly result: BatchResult }
  | { readonly kind: "summary"; readonly summary: SyncSummary };

/** Counters for tests and metrics: how far the engine has read and answered, over all streams. */
export interface BatchStats {
  /** Operations taken from request streams. */
  readonly pulled: number;
  /** Results handed to the transport. */
  readonly answered: number;
}

export interface BatchApi {
  readonly limits: BatchLimits;
  /**
   * Applies a stream of operations in chunks and yields one result per
   * operation, in request order, after the chunk holding it committed. Reads
   * `requests` only when it is ready for another chunk and yields a chunk's
   * results only as fast as they are consumed, so memory stays bounded by the
   * chunk size whatever the stream's length. Throws (ending the stream) only
   * for failures of the stream itself: limits, a misplaced sync message, a
   * refused sync, the database.
   */
  stream(
    caller: Caller,
    requests: AsyncIterable<BatchRequest>,
    rules: BatchAccessRules,
    options?: ChangeOptions,
  ): AsyncGenerator<BatchResponse>;
  /**
   * The unary form: 1..maxUnaryOperations items (invalid_argument
   * "operations" otherwise), all results; `options.reason` is the reason of
   * the operations without one.
   */
  applyAll(caller: Caller, items: readonly BatchItem[], rules: BatchAccessRules, options?: ChangeOptions): Promise<BatchResult[]>;
  stats(): BatchStats;
}

/** Creates the engine over the app's stores (its scratch collection of sync marks lives in the same database). */
export function createBatchApi(ctx: AppContext, limits: BatchLimits = defaultBatchLimits): BatchApi {
  const marks = createSyncMarkStore(ctx.database);
  let pulled = 0;
  let answered = 0;

  async function* stream(
    caller: Caller,
    requests: AsyncIterable<BatchRequest>,
    rules: BatchAccessRules,
    options?: ChangeOptions,
  ): AsyncGenerator<BatchResponse> {
    let origin = changeOriginOf(caller, options);
    const call = storeCallOf(options);
    const endBy = Date.now() + limits.maxDurationMs;
    const reader = createChunkReader(requests, {
      maxSize: limits.chunkSize,
      lingerMs: limits.lingerMs,
      maxGatherMs: limits.lingerMs * 20,
    });
    const waitLimits: WaitLimits = {
      idleTimeoutMs: limits.idleTimeoutMs,
      endBy,
      signal: options?.signal,
      tooLong: () =>
        deadlineExceeded(`the stream ran longer than ${limits.maxDurationMs} ms (ROSTER_BATCH_MAX_DURATION_MS); results sent so far stand`),
      idle: () =>
        deadlineExceeded(
          `no message for ${limits.idleTimeoutMs} ms (ROSTER_BATCH_IDLE_TIMEOUT_MS); the stream was closed, results sent so far stand`,
        ),
    };
    /** Reads the next chunk; started while the previous one is applied (one chunk of lookahead, no more). */
    const readAhead = (): Promise<BatchRequest[] | undefined> => {
      const next = reader.next().then((chunk) => {
        pulled += chunk?.length ?? 0;
        return chunk;
      });
      next.catch(() => undefined);
      return next;
    };
    const syncDeps: SyncDeps = { ctx, caller, rules, marks, pageSize: limits.chunkSize };
    let sync: SyncRun | undefined;
    let first = true;
    let index = 0;
    let upcoming = readAhead();
    try {
      for (;;) {
        const chunk = await waitForClient(upcoming, waitLimits);
        if (chunk === undefined) break;
        const items: IndexedItem[] = [];
        let overLimit = false;
        for (const request of chunk) {
          if (request.reason !== undefined && request.reason !== "") {
            if (!first) throw invalidArgument("reason", "is only allowed on the first message of the stream");
            origin = { ...origin, reason: validateReason(request.reason) };
          }
          if (request.kind === "reason_only") {
            first = false;
            continue;
          }
          if (request.kind === "sync") {
            if (!first) throw invalidArgument("sync", "is only allowed as the first message of the stream");
            first = false;
            sync = await startSync(syncDeps, request.groupId, request.dryRun, call);
            continue;
          }
          first = false;
          if (index >= limits.maxOperations) {
            overLimit = true;
            break;
          }
          items.push({ index, item: request.item });
          index += 1;
        }
        upcoming = overLimit ? Promise.resolve(undefined) : readAhead();
        if (items.length > 0) {
          const chunkDeps: ChunkDeps = { ctx, caller, authorization: { kind: "per_operation", rules }, origin };
          const outcome = await applyChunk(
            chunkDeps,
            items,
            sync === undefined
              ? undefined
              : { groupId: sync.groupId, syncId: sync.syncId, dryRun: sync.dryRun, adminDelta: sync.adminDelta, marks },
            call,
          );
          if (sync !== undefined) countEffects(sync, outcome.effects, outcome.syncAdminDelta);
          trace.getActiveSpan()?.addEvent("roster.batch.chunk", {
            "roster.batch.chunk.first_index": items[0]?.index ?? index,
            "roster.batch.chunk.operations": items.length,
            "roster.batch.chunk.failed": outcome.results.filter((result) => !result.outcome.ok).length,
          });
          for (const result of outcome.results) {
            answered += 1;
            yield { kind: "result", result };
          }
        }
        if (overLimit) {
          throw resourceExhausted(
            `too many operations: a stream may carry at most ${limits.maxOperations} (ROSTER_BATCH_MAX_OPERATIONS); ` +
              `operations 0-${limits.maxOperations - 1} were answered${sync === undefined ? "" : ", the sync was not completed"}`,
          );
        }
      }
      if (sync !== undefined) yield { kind: "summary", summary: await finishSync(syncDeps, sync, origin, call) };
    } finally {
      reader.close();
      if (sync !== undefined) {
        const syncId = sync.syncId;
        // Best effort: stale marks are also swept by later syncs.
        await marks.clear(syncId, {}).catch((error: unknown) => {
          ctx.logger?.warn({ err: error, syncId }, "could not delete the marks of a sync stream");
        });
      }
    }
  }

  return {
    limits,
    stream,
    async applyAll(caller, items, rules, options) {
      if (items.length === 0 || items.length > limits.maxUnaryOperations) {
        throw invalidArgument("operations", `must hold 1-${limits.maxUnaryOperations} operations, got ${items.length}`);
      }
      const results: BatchResult[] = [];
      for await (const response of stream(caller, requestsOf(items), rules, options)) {
        if (response.kind === "result") results.push(response.result);
      }
      return results;
    },
    stats: () => ({ pulled, answered }),
  };
}

async function* requestsOf(items: readonly BatchItem[]): AsyncGenerator<BatchRequest> {
  for (const item of items) {
    await Promise.resolve();
    yield { kind: "operation", item };
  }
}
