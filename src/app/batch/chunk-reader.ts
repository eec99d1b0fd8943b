/**
 * Reads a request stream in chunks, pulling only when asked: the engine asks
 * for at most one chunk ahead of the one it is applying, so at most two
 * chunks of operations (plus the one `next()` already requested from the
 * source) are ever held, however fast the client sends. A chunk is what
 * arrives back to back: up to `maxSize` items, closed early when no item
 * follows within `lingerMs` of the previous one or after `maxGatherMs`. A
 * client streaming fast fills whole chunks; a client that sends one
 * operation and waits for its result is answered after `lingerMs`.
 */
import { deadlineExceeded, type RosterError } from "../../domain/errors.ts";

export interface ChunkReaderOptions {
  readonly maxSize: number;
  readonly lingerMs: number;
  /** Longest time spent gathering one chunk after its first item. */
  readonly maxGatherMs: number;
}

export interface ChunkReader<T> {
  /** The next chunk (1..maxSize items), or undefined at the end of the stream. Not concurrently. */
  next(): Promise<T[] | undefined>;
  /** Stops reading and releases the source (idempotent, never waits for the client). */
  close(): void;
}

const lingered = Symbol("lingered");
type Lingered = typeof lingered;

export function createChunkReader<T>(source: AsyncIterable<T>, options: ChunkReaderOptions): ChunkReader<T> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  let ended = false;

  /** The outstanding `next()`, requested once and kept across chunks until it settles. */
  const pull = (): Promise<IteratorResult<T>> => {
    if (pending === undefined) {
      pending = iterator.next();
      // Observed later (or never, when the stream ends early); never unhandled.
      pending.catch(() => undefined);
    }
    return pending;
  };

  const within = async (ms: number): Promise<IteratorResult<T> | Lingered> => {
    let timer: NodeJS.Timeout | undefined;
    const gap = new Promise<Lingered>((resolve) => {
      timer = setTimeout(() => {
        // One more turn of the event loop: timers run before socket reads, so
        // after a busy stretch an expired timer must not beat data already waiting.
        setImmediate(() => {
          resolve(lingered);
        });
      }, ms);
    });
    try {
      return await Promise.race([pull(), gap]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async next() {
      if (ended) return undefined;
      const head = await pull();
      pending = undefined;
      if (head.done === true) {
        ended = true;
        return undefined;
      }
      const chunk = [head.value];
      const gatherUntil = Date.now() + options.maxGatherMs;
      while (chunk.length < options.maxSize) {
        const result = await within(Math.min(options.lingerMs, Math.max(0, gatherUntil - Date.now())));
        if (result === lingered) break;
        pending = undefined;
        if (result.done === true) {
          ended = true;
          break;
        }
        chunk.push(result.value);
      }
      return chunk;
    },

    close() {
      if (ended && pending === undefined) return;
      ended = true;
      pending = undefined;
      // Not awaited: an async generator queues return() behind a pending
      // next(), which may never settle while the client stays silent; the
      // transport ends the source when the call ends.
      iterator.return?.().catch(() => undefined);
    },
  };
}

/** What bounds waiting for the client: idle time, the stream's end, cancellation. */
export interface WaitLimits {
  readonly idleTimeoutMs: number;
  /** Epoch ms after which the stream has run too long. */
  readonly endBy: number;
  readonly tooLong: () => RosterError;
  readonly idle: () => RosterError;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Waits for `work` (reading from the client) at most the idle time, never
 * past the stream's end, and not after cancellation; each ends the wait with
 * the RosterError the stream ends with. Started only when the engine has
 * nothing else to do, so time the client spends waiting for results never
 * counts as idle.
 */
export async function waitForClient<T>(work: Promise<T>, limits: WaitLimits): Promise<T> {
  const now = Date.now();
  if (now >= limits.endBy) throw limits.tooLong();
  const signal = limits.signal;
  if (signal?.aborted === true) throw deadlineExceeded("the request was cancelled");
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    const tooLongIn = limits.endBy - now;
    timer =
      limits.idleTimeoutMs <= tooLongIn
        ? setTimeout(() => {
            reject(limits.idle());
          }, limits.idleTimeoutMs)
        : setTimeout(() => {
            reject(limits.tooLong());
          }, tooLongIn);
    if (signal !== undefined) {
      onAbort = () => {
        reject(deadlineExceeded("the request was cancelled"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}
