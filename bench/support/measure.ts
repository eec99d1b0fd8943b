/**
 * Throughput measurement for the store benchmarks: run an async operation a
 * fixed number of times with a fixed number of concurrent callers, bounded by
 * a time budget so a slow server cannot stretch the run indefinitely.
 */
import { performance } from "node:perf_hooks";

export interface Throughput {
  /** Operations completed (fewer than asked when the time budget ran out). */
  readonly ops: number;
  readonly elapsedMs: number;
  readonly perSecond: number;
  /** True when the time budget stopped the run early. */
  readonly truncated: boolean;
}

export interface MeasureOptions {
  readonly total: number;
  readonly concurrency: number;
  /** Stop starting new operations after this long. */
  readonly budgetMs: number;
}

/** Calls `op(i)` for i in [0, total) with `concurrency` callers; rejects on the first failure. */
export async function measureThroughput(options: MeasureOptions, op: (i: number) => Promise<void>): Promise<Throughput> {
  const started = performance.now();
  const deadline = started + options.budgetMs;
  let next = 0;
  let completed = 0;
  let truncated = false;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < options.total) {
        if (performance.now() > deadline) {
          truncated = true;
          return;
        }
        const i = next;
        next += 1;
        await op(i);
        completed += 1;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return { ops: completed, elapsedMs, perSecond: (completed * 1000) / elapsedMs, truncated };
}

/** Deterministic pseudo-random integers in [0, n), so runs pick the same keys (mulberry32). */
export function seededRandomInts(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** The p-th percentile (0-100) of ascending `sorted` values; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The median of `values` in any order (the upper middle of an even count, as `percentile(sorted, 50)`). */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
