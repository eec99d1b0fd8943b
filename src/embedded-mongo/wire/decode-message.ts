/**
 * Turns one framed wire message into a command document. Commands are
 * deserialized with `promoteValues: false` so Int32, Double and Long keep their
 * BSON types all the way into storage.
 */
import { BSON, type Document } from "bson";
import { maxBsonInternalSize } from "../engine/types.ts";
import { headerSize } from "./message-framer.ts";
import { knownRequiredFlags, opCodes, opMsgFlags } from "./op-codes.ts";

export interface MessageHeader {
  readonly messageLength: number;
  readonly requestId: number;
  readonly responseTo: number;
  readonly opCode: number;
}

/** A decoded request: an OP_MSG command, or a legacy OP_QUERY on `<db>.$cmd`. */
export type DecodedRequest =
  | { readonly kind: "msg"; readonly header: MessageHeader; readonly flags: number; readonly command: Document }
  | { readonly kind: "query"; readonly header: MessageHeader; readonly collection: string; readonly command: Document };

/**
 * The message could not be decoded, but its header was; `replyable` says
 * whether an error reply may be sent (never for moreToCome requests).
 */
export class MessageDecodeError extends Error {
  constructor(
    message: string,
    readonly header: MessageHeader,
    readonly codeName: "ProtocolError" | "InvalidBSON" | "BSONObjectTooLarge",
    readonly replyable: boolean,
  ) {
    super(message);
    this.name = "MessageDecodeError";
  }
}

const deserializeOptions = { promoteValues: false, validation: { utf8: false } } as const;

export function readHeader(frame: Buffer): MessageHeader {
  return {
    messageLength: frame.readInt32LE(0),
    requestId: frame.readInt32LE(4),
    responseTo: frame.readInt32LE(8),
    opCode: frame.readInt32LE(12),
  };
}

/** Reads one BSON document at `offset`, bounded by `end`; returns it and its size. */
function readDocument(frame: Buffer, offset: number, end: number, header: MessageHeader, replyable: boolean): [Document, number] {
  if (offset + 5 > end) throw new MessageDecodeError("truncated BSON document", header, "InvalidBSON", replyable);
  const size = frame.readInt32LE(offset);
  if (size < 5 || offset + size > end) {
    throw new MessageDecodeError(`BSON document size ${size} exceeds its section`, header, "InvalidBSON", replyable);
  }
  // A command (or one document of a sequence) may hold a 16 MiB document plus its envelope, no more.
  if (size > maxBsonInternalSize) {
    throw new MessageDecodeError(
      `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${maxBsonInternalSize}(16MB)`,
      header,
      "BSONObjectTooLarge",
      replyable,
    );
  }
  try {
    return [BSON.deserialize(frame.subarray(offset, offset + size), deserializeOptions), size];
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new MessageDecodeError(`invalid BSON: ${why}`, header, "InvalidBSON", replyable);
  }
}

function readCString(frame: Buffer, offset: number, end: number, header: MessageHeader, replyable: boolean): [string, number] {
  const nul = frame.indexOf(0, offset);
  if (nul < 0 || nul >= end) throw new MessageDecodeError("unterminated cstring", header, "ProtocolError", replyable);
  return [frame.toString("utf8", offset, nul), nul + 1];
}

function decodeOpMsg(frame: Buffer, header: MessageHeader): DecodedRequest {
  if (frame.length < headerSize + 5) throw new MessageDecodeError("OP_MSG too short", header, "ProtocolError", true);
  const flags = frame.readUInt32LE(headerSize);
  const replyable = (flags & opMsgFlags.moreToCome) === 0;
  const unknownRequired = flags & 0xffff & ~knownRequiredFlags;
  if (unknownRequired !== 0) {
    throw new MessageDecodeError(
      `OP_MSG contains unknown required flag bits 0x${unknownRequired.toString(16)}`,
      header,
      "ProtocolError",
      replyable,
    );
  }
  const checksum = (flags & opMsgFlags.checksumPresent) !== 0;
  const end = frame.length - (checksum ? 4 : 0);
  let offset = headerSize + 4;
  let body: Document | undefined;
  const sequences: [string, Document[]][] = [];
  while (offset < end) {
    const kind = frame.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (body !== undefined) throw new MessageDecodeError("OP_MSG has more than one kind-0 section", header, "ProtocolError", replyable);
      const [doc, size] = readDocument(frame, offset, end, header, replyable);
      body = doc;
      offset += size;
    } else if (kind === 1) {
      if (offset + 4 > end) throw new MessageDecodeError("truncated kind-1 section", header, "ProtocolError", replyable);
      const size = frame.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end)
        throw new MessageDecodeError(`kind-1 section size ${size} is invalid`, header, "ProtocolError", replyable);
      const [identifier, docsStart] = readCString(frame, offset + 4, sectionEnd, header, replyable);
      const docs: Document[] = [];
      let at = docsStart;
      while (at < sectionEnd) {
        const [doc, docSize] = readDocument(frame, at, sectionEnd, header, replyable);
        docs.push(doc);
        at += docSize;
      }
      sequences.push([identifier, docs]);
      offset = sectionEnd;
    } else {
      throw new MessageDecodeError(`unknown OP_MSG section kind ${kind}`, header, "ProtocolError", replyable);
    }
  }
  if (body === undefined) throw new MessageDecodeError("OP_MSG has no kind-0 section", header, "ProtocolError", replyable);
  for (const [identifier, docs] of sequences) {
    if (identifier in body) {
      throw new MessageDecodeError(
        `duplicate field '${identifier}' in command body and document sequence`,
        header,
        "ProtocolError",
        replyable,
      );
    }
    body[identifier] = docs;
  }
  return { kind: "msg", header, flags, command: body };
}

function decodeOpQuery(frame: Buffer, header: MessageHeader): DecodedRequest {
  const end = frame.length;
  const [collection, afterName] = readCString(frame, headerSize + 4, end, header, true);
  // numberToSkip and numberToReturn follow the name; commands ignore them.
  const [query] = readDocument(frame, afterName + 8, end, header, true);
  return { kind: "query", header, collection, command: query };
}

/** Decodes OP_MSG and OP_QUERY; any other opcode is a protocol error (not replyable). */
export function decodeMessage(frame: Buffer): DecodedRequest {
  const header = readHeader(frame);
  if (header.opCode === opCodes.msg) return decodeOpMsg(frame, header);
  if (header.opCode === opCodes.query) return decodeOpQuery(frame, header);
  throw new MessageDecodeError(`unsupported opCode ${header.opCode}`, header, "ProtocolError", false);
}
