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

/** Encodes a message for the wire. */
export function encodeMessage(schema: DescMessage, message: Message): Buffer {
  const bytes = toBinary(schema, message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a response (clients: tests and benchmarks); malformed responses throw. */
export function decodeResponse(schema: DescMessage, bytes: Buffer): Message {
  return fromBinary(schema, bytes);
}
