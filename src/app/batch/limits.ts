/** Default limits of the batch engine (overridden by ROSTER_BATCH_* settings in src/config.ts). */
import type { BatchLimits } from "./types.ts";

export const defaultBatchLimits: BatchLimits = Object.freeze({
  maxOperations: 1_000_000,
  maxDurationMs: 3_600_000,
  idleTimeoutMs: 60_000,
  chunkSize: 500,
  lingerMs: 5,
  maxUnaryOperations: 1_000,
});
