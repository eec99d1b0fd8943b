/**
 * grpc-js (de)serializers built from protobuf-es descriptors. grpc-js turns
 * any exception thrown by a request deserializer into INTERNAL, but a
 * malformed request is the client's fault: so decoding never throws here, it
 * returns the failure, and the call adapter answers INVALID_ARGUMENT through
 * the pipeline (logged like every other call).
 */
import { fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { undecodableRequest } from "../../rpc/request-decoding.ts";

/** A request as grpc-js hands it to the call adapter. */
export type DecodedRequest = { readonly message: Message } | { readonly error: ConnectError };

/** Decodes a request; a malformed one yields Roster's INVALID_ARGUMENT status (undecodableRequest) instead of throwing. */
export function decodeRequest(schema: DescMessage, bytes: Buffer): DecodedRequest {
  try {
    return { message: fromBinary(schema, bytes) };
  } catch {
    return { error: undecodableRequest(schema, "protobuf") };
  }
}

/**
 * Encodings of frozen messages: one that cannot change always encodes to the
 * same bytes, so they are made once (the read responses the handlers keep
 * per group version, src/convert/read-responses.ts). Weak: they go when the
 * message goes.
 */
const frozenEncodings = new WeakMap<Message, Buffer>();

/** Encodes a message for the wire; a frozen message's bytes are made once and reused. */
export function encodeMessage(schema: DescMessage, message: Message): Buffer {
  if (!Object.isFrozen(message)) return toBuffer(toBinary(schema, message));
  let encoded = frozenEncodings.get(message);
  if (encoded === undefined) {
    encoded = toBuffer(toBinary(schema, message));
    frozenEncodings.set(message, encoded);
  }
  return encoded;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a response (clients: tests and benchmarks); malformed responses throw. */
export function decodeResponse(schema: DescMessage, bytes: Buffer): Message {
  return fromBinary(schema, bytes);
}
