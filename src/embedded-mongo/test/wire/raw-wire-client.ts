/**
 * A minimal raw TCP client for protocol-edge tests: builds OP_MSG / OP_QUERY
 * frames by hand and reads replies split only by their length prefix.
 */
import { connect, type Socket } from "node:net";
import { BSON, type Document } from "bson";

export interface RawReply {
  readonly requestId: number;
  readonly responseTo: number;
  readonly opCode: number;
  readonly flags: number;
  readonly doc: Document;
  /** The reply document's BSON bytes, for checks of wire types. */
  readonly bson: Buffer;
}

let requestCounter = 1000;

export function header(length: number, requestId: number, opCode: number): Buffer {
  const out = Buffer.alloc(16);
  out.writeInt32LE(length, 0);
  out.writeInt32LE(requestId, 4);
  out.writeInt32LE(0, 8);
  out.writeInt32LE(opCode, 12);
  return out;
}

export interface OpMsgParts {
  readonly flags?: number;
  readonly body: Document;
  readonly sequences?: readonly (readonly [identifier: string, docs: readonly Document[]])[];
  readonly checksum?: boolean;
  readonly requestId?: number;
}

export function opMsg(parts: OpMsgParts): Buffer {
  const sections: Buffer[] = [Buffer.from([0]), Buffer.from(BSON.serialize(parts.body))];
  for (const [identifier, docs] of parts.sequences ?? []) {
    const payload = Buffer.concat([Buffer.from(`${identifier}\0`), ...docs.map((d) => Buffer.from(BSON.serialize(d)))]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(payload.length + 4);
    sections.push(Buffer.from([1]), size, payload);
  }
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE((parts.flags ?? 0) | (parts.checksum === true ? 1 : 0));
  const checksum = parts.checksum === true ? Buffer.alloc(4, 0xab) : Buffer.alloc(0);
  const bodyLength = 4 + sections.reduce((n, b) => n + b.length, 0) + checksum.length;
  return Buffer.concat([header(16 + bodyLength, parts.requestId ?? ++requestCounter, 2013), flags, ...sections, checksum]);
}

export function opQuery(collection: string, query: Document, requestId = ++requestCounter): Buffer {
  const name = Buffer.from(`${collection}\0`);
  const fields = Buffer.alloc(12);
  fields.writeInt32LE(0, 0); // flags
  fields.writeInt32LE(0, 4); // numberToSkip
  fields.writeInt32LE(-1, 8); // numberToReturn
  const doc = Buffer.from(BSON.serialize(query));
  const body = Buffer.concat([fields.subarray(0, 4), name, fields.subarray(4), doc]);
  return Buffer.concat([header(16 + body.length, requestId, 2004), body]);
}

export interface RawConnection {
  readonly socket: Socket;
  send(bytes: Buffer): void;
  /** The next reply, or rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<RawReply>;
  /** Resolves true if no reply arrives within `ms`. */
  silentFor(ms: number): Promise<boolean>;
  /** Resolves when the server closes the connection (or rejects after timeoutMs). */
  closed(timeoutMs?: number): Promise<void>;
  close(): void;
}

function parseReply(frame: Buffer): RawReply {
  const opCode = frame.readInt32LE(12);
  const base = { requestId: frame.readInt32LE(4), responseTo: frame.readInt32LE(8), opCode };
  if (opCode === 2013) {
    const flags = frame.readUInt32LE(16);
    if (frame.readUInt8(20) !== 0) throw new Error("reply section is not kind 0");
    const size = frame.readInt32LE(21);
    if (21 + size !== frame.length) throw new Error("reply has more than one section or a checksum");
    const bson = frame.subarray(21, 21 + size);
    return { ...base, flags, doc: BSON.deserialize(bson), bson };
  }
  if (opCode === 1) {
    const bson = frame.subarray(36);
    return { ...base, flags: frame.readInt32LE(16), doc: BSON.deserialize(bson), bson };
  }
  throw new Error(`unexpected reply opCode ${opCode}`);
}

export async function rawConnect(port: number): Promise<RawConnection> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let buffered = Buffer.alloc(0);
  const replies: RawReply[] = [];
  const waiters: ((reply: RawReply) => void)[] = [];
  let isClosed = false;
  const closeWaiters: (() => void)[] = [];
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
      const length = buffered.readInt32LE(0);
      const reply = parseReply(buffered.subarray(0, length));
      buffered = buffered.subarray(length);
      const waiter = waiters.shift();
      if (waiter) waiter(reply);
      else replies.push(reply);
    }
  });
  socket.on("error", () => undefined);
  socket.on("close", () => {
    isClosed = true;
    for (const w of closeWaiters.splice(0)) w();
  });
  return {
    socket,
    send(bytes) {
      socket.write(bytes);
    },
    next(timeoutMs = 3000) {
      const ready = replies.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error("no reply within timeout"));
        }, timeoutMs);
        const waiter = (reply: RawReply): void => {
          clearTimeout(timer);
          resolve(reply);
        };
        waiters.push(waiter);
      });
    },
    async silentFor(ms) {
      if (replies.length > 0) return false;
      await new Promise((r) => setTimeout(r, ms));
      return replies.length === 0;
    },
    closed(timeoutMs = 3000) {
      if (isClosed) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error("connection still open"));
        }, timeoutMs);
        closeWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    close() {
      socket.destroy();
    },
  };
}
