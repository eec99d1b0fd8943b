/**
 * Retention of the history (ROSTER_HISTORY_RETENTION_DAYS): records older
 * than the period are deleted by a sweeper, in bounded batches (each a
 * query for the oldest ids and one deleteMany of them), so one sweep never
 * holds much in memory nor writes much at once. Every replica sweeps; two
 * sweeping at once delete each record once and find it gone otherwise. Not
 * a TTL index: the embedded store has none, and a sweeper behaves the same
 * on both.
 */
import type { AppContext } from "../app-context.ts";
import type { ChangeSettings } from "./change-settings.ts";

export interface HistoryRetention {
  /** Deletes the records older than the retention period as of `now`; returns how many. */
  sweep(now: Date): Promise<number>;
  /**
   * Sweeps now and then every `intervalMs` (failures are logged and tried
   * again next time) until the returned function is called, which resolves
   * once a sweep under way is over. A no-op when records are kept forever.
   */
  start(intervalMs: number): () => Promise<void>;
}

/** Records deleted per round trip. */
const sweepBatch = 1_000;
const dayMs = 86_400_000;

export function createHistoryRetention(ctx: AppContext, settings: Pick<ChangeSettings, "historyRetentionDays">): HistoryRetention {
  const days = settings.historyRetentionDays;

  async function sweep(now: Date): Promise<number> {
    if (days === 0) return 0;
    const cutoff = new Date(now.getTime() - days * dayMs);
    let deleted = 0;
    for (;;) {
      const n = await ctx.history.deleteOlderThan(cutoff, sweepBatch, {});
      deleted += n;
      if (n < sweepBatch) return deleted;
    }
  }

  return {
    sweep,
    start(intervalMs) {
      if (days === 0) return () => Promise.resolve();
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let running: Promise<void> = Promise.resolve();
      const run = (): void => {
        running = sweep(ctx.clock())
          .then(
            (deleted) => {
              if (deleted > 0) ctx.logger?.debug({ deleted, retentionDays: days }, "history records past their retention deleted");
            },
            (error: unknown) => {
              if (!stopped) ctx.logger?.warn({ err: error }, "could not delete history records past their retention; trying again later");
            },
          )
          .finally(() => {
            if (!stopped) timer = setTimeout(run, intervalMs).unref();
          });
      };
      run();
      return () => {
        stopped = true;
        clearTimeout(timer);
        return running;
      };
    },
  };
}
