/**
 * Splits a TCP byte stream into whole wire messages. TCP delivers arbitrary
 * chunks: one message may span many chunks and one chunk may hold many
 * messages, so bytes are buffered until `messageLength` of them are present.
 */

/** Smallest possible message: the 16-byte header alone. */
export const headerSize = 16;
/** `maxMessageSizeBytes` advertised in hello; larger frames are a protocol error. */
export const maxMessageSizeBytes = 48_000_000;

/** A stream that cannot be framed; the connection must be closed. */
export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FramingError";
  }
}

export interface MessageFramer {
  /** Adds received bytes; returns every message completed by them, in order. */
  push(chunk: Buffer): Buffer[];
  /** Bytes buffered towards an incomplete message. */
  readonly pending: number;
}

export function createMessageFramer(): MessageFramer {
  let chunks: Buffer[] = [];
  let buffered = 0;

  function take(n: number): Buffer {
    const all = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    chunks = rest.length > 0 ? [rest] : [];
    buffered = rest.length;
    return out;
  }

  function peekLength(): number | undefined {
    if (buffered < 4) return undefined;
    const first = chunks[0];
    const head = first !== undefined && first.length >= 4 ? first : Buffer.concat(chunks, buffered);
    return head.readInt32LE(0);
  }

  return {
    push(chunk) {
      chunks.push(chunk);
      buffered += chunk.length;
      const out: Buffer[] = [];
      for (;;) {
        const length = peekLength();
        if (length === undefined) break;
        if (length < headerSize || length > maxMessageSizeBytes) {
          throw new FramingError(`invalid message length ${length} (must be ${headerSize}..${maxMessageSizeBytes})`);
        }
        if (buffered < length) break;
        // Copy so a retained message never pins a larger shared chunk.
        out.push(Buffer.from(take(length)));
      }
      return out;
    },
    get pending() {
      return buffered;
    },
  };
}
