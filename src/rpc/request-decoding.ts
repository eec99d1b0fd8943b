/**
 * The one status for a request message that cannot be decoded, on either
 * door and in either encoding: INVALID_ARGUMENT in Roster's own words,
 * naming the message type. Never the parser's message, which is about the
 * parser and may echo the client's bytes back.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/** How the request message was encoded. */
export type MessageEncoding = "protobuf" | "JSON";

const problems: Readonly<Record<MessageEncoding, string>> = {
  protobuf: "malformed protobuf",
  JSON: "malformed JSON, or a field of the wrong type",
};

/** INVALID_ARGUMENT `request: not a valid <type> (<problem>)`. */
export function undecodableRequest(schema: DescMessage, encoding: MessageEncoding): ConnectError {
  return new ConnectError(`request: not a valid ${schema.typeName} (${problems[encoding]})`, Code.InvalidArgument);
}
