/** The limits of the batch engine and their defaults; src/config.ts reads the ROSTER_BATCH_* settings into them. */

/** Limits of the engine; see src/config.ts (ROSTER_BATCH_*) for the settings. */
export interface BatchLimits {
  /** Operations one stream may carry; the next one ends it with RESOURCE_EXHAUSTED. */
  readonly maxOperations: number;
  /** How long a stream may run; past it the stream ends with DEADLINE_EXCEEDED. */
  readonly maxDurationMs: number;
  /** How long the engine waits for the client's next message; past it DEADLINE_EXCEEDED. */
  readonly idleTimeoutMs: number;
  /** Operations applied per transaction at most. */
  readonly chunkSize: number;
  /** Once a chunk has its first operation, how long to wait for more before applying it. */
  readonly lingerMs: number;
  /** Operations the unary BatchUpdateMemberships accepts at most. */
  readonly maxUnaryOperations: number;
}

/** The defaults of the ROSTER_BATCH_* settings. */
export const defaultBatchLimits: BatchLimits = Object.freeze({
  maxOperations: 1_000_000,
  maxDurationMs: 3_600_000,
  idleTimeoutMs: 60_000,
  chunkSize: 500,
  lingerMs: 5,
  maxUnaryOperations: 1_000,
});
