/**
 * Encodes replies: OP_MSG with a single kind-0 section (the only form the
 * driver parses) and OP_REPLY for legacy OP_QUERY handshakes. A reply larger
 * than a command may be (16 MiB plus envelope) is refused with
 * BSONObjectTooLarge, as mongod refuses it, never sent truncated.
 */
import { BSON, calculateObjectSize, type Document } from "bson";
import { maxBsonInternalSize } from "../engine/types.ts";
import { headerSize } from "./message-framer.ts";
import { opCodes } from "./op-codes.ts";

/** The reply document is too large to send. */
export class ReplyTooLargeError extends Error {
  constructor(readonly size: number) {
    super(
      `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${maxBsonInternalSize}(16MB)`,
    );
    this.name = "ReplyTooLargeError";
  }
}

function writeHeader(buffer: Buffer, requestId: number, responseTo: number, opCode: number): void {
  buffer.writeInt32LE(buffer.length, 0);
  buffer.writeInt32LE(requestId, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
}

/**
 * A message of `prefix` bytes of header and fields, then the reply document.
 * Measured after serializing rather than before (a second walk of every
 * reply): the serializer works in a 17 MiB buffer, and what does not fit
 * either throws a RangeError or comes out at least that long (truncated), so
 * a length within the limit is exact.
 */
function encodeMessage(prefix: number, reply: Document): Buffer {
  let body: Uint8Array;
  try {
    body = BSON.serialize(reply);
  } catch (err) {
    if (err instanceof RangeError) throw new ReplyTooLargeError(calculateObjectSize(reply));
    throw err;
  }
  if (body.length > maxBsonInternalSize) throw new ReplyTooLargeError(body.length);
  const out = Buffer.allocUnsafe(prefix + body.length);
  out.set(body, prefix);
  return out;
}

/** `flags`: 0, or moreToCome for each but the last reply of a streamed (exhaust) command. */
export function encodeOpMsgReply(requestId: number, responseTo: number, reply: Document, flags = 0): Buffer {
  const out = encodeMessage(headerSize + 5, reply);
  writeHeader(out, requestId, responseTo, opCodes.msg);
  out.writeUInt32LE(flags, headerSize);
  out.writeUInt8(0, headerSize + 4);
  return out;
}

export function encodeOpReply(requestId: number, responseTo: number, reply: Document): Buffer {
  const out = encodeMessage(headerSize + 20, reply);
  writeHeader(out, requestId, responseTo, opCodes.reply);
  out.writeInt32LE(0, headerSize); // responseFlags
  out.writeBigInt64LE(0n, headerSize + 4); // cursorID
  out.writeInt32LE(0, headerSize + 12); // startingFrom
  out.writeInt32LE(1, headerSize + 16); // numberReturned
  return out;
}
