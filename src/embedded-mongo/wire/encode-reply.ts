/**
 * Encodes replies: OP_MSG with a single kind-0 section (the only form the
 * driver parses) and OP_REPLY for legacy OP_QUERY handshakes.
 */
import { BSON, type Document } from "bson";
import { headerSize } from "./message-framer.ts";
import { opCodes } from "./op-codes.ts";

function writeHeader(buffer: Buffer, requestId: number, responseTo: number, opCode: number): void {
  buffer.writeInt32LE(buffer.length, 0);
  buffer.writeInt32LE(requestId, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
}

export function encodeOpMsgReply(requestId: number, responseTo: number, reply: Document): Buffer {
  const body = BSON.serialize(reply);
  const out = Buffer.allocUnsafe(headerSize + 4 + 1 + body.length);
  writeHeader(out, requestId, responseTo, opCodes.msg);
  out.writeUInt32LE(0, headerSize);
  out.writeUInt8(0, headerSize + 4);
  out.set(body, headerSize + 5);
  return out;
}

export function encodeOpReply(requestId: number, responseTo: number, reply: Document): Buffer {
  const body = BSON.serialize(reply);
  const out = Buffer.allocUnsafe(headerSize + 20 + body.length);
  writeHeader(out, requestId, responseTo, opCodes.reply);
  out.writeInt32LE(0, headerSize); // responseFlags
  out.writeBigInt64LE(0n, headerSize + 4); // cursorID
  out.writeInt32LE(0, headerSize + 12); // startingFrom
  out.writeInt32LE(1, headerSize + 16); // numberReturned
  out.set(body, headerSize + 20);
  return out;
}
