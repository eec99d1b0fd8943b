/**
 * Reads a request stream in chunks, pulling only when asked: the engine asks
 * for the next chunk once the previous one is committed and its results were
 * consumed, so at most one chunk (plus the one `next()` already requested) is
 * ever held, however fast the client sends. A chunk is whatever arrives up to
 * `maxSize` items or within `lingerMs` of its first item, so a client that
 * sends one operation and waits for its result is answered promptly while a
 * client streaming fast fills whole chunks.
 *
 * Waiting for a chunk's first item is bounded by the idle timeout, the
 * stream's duration limit and the call's cancellation; each ends the read
 * with the RosterError the stream ends with.
 */
import { deadlineExceeded, type RosterError } from "../../domain/errors.ts";

export interface ChunkReaderOptions {
  readonly maxSize: number;
  readonly lingerMs: number;
  readonly idleTimeoutMs: number;
  /** Epoch ms after which the stream has run too long. */
  readonly endBy: number;
  /** The error when `endBy` passes. */
  readonly tooLong: () => RosterError;
  /** The error when the client sends nothing for `idleTimeoutMs`. */
  readonly idle: () => RosterError;
  readonly signal?: AbortSignal | undefined;
}

export interface ChunkReader<T> {
  /** The next chunk (1..maxSize items), or undefined at the end of the stream. */
  next(): Promise<T[] | undefined>;
  /** Stops reading and releases the source (idempotent). */
  close(): Promise<void>;
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

  /** The first item of a chunk, or the end; bounded by idle time, duration and cancellation. */
  const first = async (): Promise<IteratorResult<T>> => {
    const now = Date.now();
    if (now >= options.endBy) throw options.tooLong();
    const signal = options.signal;
    if (signal?.aborted === true) throw deadlineExceeded("the request was cancelled");
    const timers: NodeJS.Timeout[] = [];
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      const idleFor = options.idleTimeoutMs;
      const tooLongIn = options.endBy - now;
      if (idleFor <= tooLongIn) timers.push(setTimeout(() => { reject(options.idle()); }, idleFor));
      else timers.push(setTimeout(() => { reject(options.tooLong()); }, tooLongIn));
      if (signal !== undefined) {
        onAbort = () => {
          reject(deadlineExceeded("the request was cancelled"));
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
    try {
      const result = await Promise.race([pull(), stop]);
      pending = undefined;
      return result;
    } finally {
      for (const timer of timers) clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
  };

  return {
    async next() {
      if (ended) return undefined;
      const head = await first();
      if (head.done === true) {
        ended = true;
        return undefined;
      }
      const chunk = [head.value];
      let timer: NodeJS.Timeout | undefined;
      const linger = new Promise<Lingered>((resolve) => {
        timer = setTimeout(() => {
          resolve(lingered);
        }, options.lingerMs);
      });
      try {
        while (chunk.length < options.maxSize) {
          const result = await Promise.race([pull(), linger]);
          if (result === lingered) break;
          pending = undefined;
          if (result.done === true) {
            ended = true;
            break;
          }
          chunk.push(result.value);
        }
      } finally {
        clearTimeout(timer);
      }
      return chunk;
    },

    close() {
      if (ended && pending === undefined) return Promise.resolve();
      ended = true;
      pending = undefined;
      // Not awaited: an async generator queues return() behind a pending
      // next(), which may never settle while the client stays silent; the
      // transport ends the source when the call ends.
      iterator.return?.().catch(() => undefined);
      return Promise.resolve();
    },
  };
}
