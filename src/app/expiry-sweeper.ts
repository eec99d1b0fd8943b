/**
 * Removes memberships (and invitations) past their expire_time. Reads
 * never wait for it (an expired membership confers nothing from its
 * expire_time on, swept or not: membership-status.ts); sweeping keeps the
 * collection and each group's member_count tidy and records who removed
 * them: the actor `system:expiry`.
 *
 * One sweep reads at most `batchSize` expired memberships (oldest first,
 * the `expire_time` index) and applies an `expire` operation for each
 * through the membership engine, as one chunk in one transaction: the same
 * decision, writes and member_count update as every other removal. The
 * decision re-reads each membership inside the transaction and removes it
 * only if it is still expired, so a membership renewed or removed meanwhile
 * is left alone, and several replicas sweeping at once are harmless: their
 * transactions write the same documents, one is retried, and finds nothing
 * left to remove.
 */
import type { Caller } from "../domain/model.ts";
import type { AppContext } from "./app-context.ts";
import { applyChunk, type IndexedItem } from "./batch/apply-chunk.ts";
import { changeOriginOf, storeCallOf, type CallOptions } from "./call-options.ts";

/** Who the sweeper's removals are recorded as (createdBy of nothing; the actor of the change). */
export const EXPIRY_ACTOR: Caller = Object.freeze({ principal: "system:expiry", isSystemAdmin: true });

export interface ExpiryApi {
  /** One sweep of at most `batchSize` expired memberships; resolves to how many were removed. */
  sweep(batchSize: number, options?: CallOptions): Promise<number>;
}

export function createExpiryApi(ctx: AppContext): ExpiryApi {
  return {
    async sweep(batchSize, options) {
      const call = storeCallOf(options);
      const expired = await ctx.memberships.expiredAt(ctx.clock(), batchSize, call);
      if (expired.length === 0) return 0;
      const items: IndexedItem[] = expired.map((membership, index) => ({
        index,
        item: { tag: "", operation: { kind: "expire", groupId: membership.groupId, member: membership.member } },
      }));
      const { effects } = await applyChunk(
        { ctx, caller: EXPIRY_ACTOR, authorization: { kind: "authorized" }, origin: changeOriginOf(EXPIRY_ACTOR, undefined) },
        items,
        undefined,
        call,
      );
      return effects.filter((effect) => effect === "removed").length;
    },
  };
}

/** How often and how much the periodic sweeper sweeps (ROSTER_EXPIRY_SWEEP_*). */
export interface ExpirySweepSettings {
  /** Between sweeps, in milliseconds; 0 turns the sweeper off. */
  readonly intervalMs: number;
  /** Memberships removed per sweep at most; a full sweep is followed at once by another. */
  readonly batchSize: number;
}

export interface SweepLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** A running periodic sweeper. */
export interface ExpirySweeper {
  /** Stops it and waits for a sweep in progress to end. */
  stop(): Promise<void>;
}

/**
 * Sweeps every `intervalMs` until stopped; a sweep that removed a full batch
 * is followed at once by the next, so a backlog drains without waiting. A
 * failed sweep (say, the database is away) is logged and retried at the next
 * interval.
 */
export function startExpirySweeper(expiry: ExpiryApi, settings: ExpirySweepSettings, logger: SweepLogger): ExpirySweeper {
  let stopped = settings.intervalMs <= 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const run = async (): Promise<void> => {
    try {
      for (let removed = settings.batchSize; removed >= settings.batchSize && !stopped; ) {
        removed = await expiry.sweep(settings.batchSize);
        if (removed > 0) logger.info({ removed }, "expired memberships removed");
      }
    } catch (error) {
      logger.warn({ err: error }, "expiry sweep failed; retrying at the next interval");
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().then(schedule);
    }, settings.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
