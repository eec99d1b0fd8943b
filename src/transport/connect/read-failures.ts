/**
 * connect-node reads and decodes request messages itself, and reports a
 * client's malformed message in its own terms: a protobuf body it cannot
 * parse is INTERNAL "parse binary: <parser text>" (Connect binary POST and
 * GET with encoding=proto, gRPC-web, gRPC), a JSON body that does not fit
 * the message is INVALID_ARGUMENT "<parser text>", a body it cannot
 * decompress can be INTERNAL too (connect-es 2.2,
 * protocol/serialization.ts, connect-node/compression.ts). A client's mistake
 * must never be INTERNAL, and both doors must answer alike, so the web door
 * restates those failures as Roster's own INVALID_ARGUMENT (the statuses the
 * gRPC door sends, see src/rpc/request-decoding.ts):
 *
 * - for a unary call connect-node decodes before any interceptor runs and
 *   offers no hook; it aborts the call's context with the error right before
 *   it writes it, so `restateReadFailuresOnAbort` (registered by the request
 *   gate) restates that very error in place, for the response and for the
 *   request log alike;
 * - for a streaming call the messages are decoded while the handler reads
 *   them, so `createReadFailureInterceptor` restates what the request stream
 *   throws before the handler and the pipeline see it.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { undecodableRequest } from "../../rpc/request-decoding.ts";

/** connect-node's message when it could not parse a binary message (protocol/serialization.ts). */
const binaryParseFailure = "parse binary: ";
/** connect-node's messages when it could not decompress a message (compression.ts, envelope.ts). */
const decompressionFailures: ReadonlySet<string> = new Set([
  "decompression failed",
  "received compressed envelope, but do not know how to decompress",
]);

/**
 * Roster's status for `error` when it is connect-node's failure to read a
 * request message of `method` (see the module comment); undefined for any
 * other error.
 */
export function restateReadFailure(error: unknown, method: DescMethod): ConnectError | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  if (error.code === Code.Internal && error.rawMessage.startsWith(binaryParseFailure)) {
    return undecodableRequest(method.input, "protobuf");
  }
  // JSON: ConnectError.from(<protobuf-es error>, INVALID_ARGUMENT) keeps the parser's message and error as its cause.
  const cause: unknown = error.cause;
  if (
    error.code === Code.InvalidArgument &&
    cause instanceof Error &&
    !(cause instanceof ConnectError) &&
    error.rawMessage === cause.message
  ) {
    return undecodableRequest(method.input, "JSON");
  }
  if ((error.code === Code.Internal || error.code === Code.InvalidArgument) && decompressionFailures.has(error.rawMessage)) {
    return new ConnectError("request: the compressed message cannot be decompressed", Code.InvalidArgument);
  }
  return undefined;
}

/**
 * From the request gate on: when connect-node ends the call with a read
 * failure (the context is aborted with the error it is about to write), the
 * error becomes Roster's status in place. In place, because connect-node
 * writes that object and offers no other hook; the abort event runs
 * synchronously before it does, on every protocol.
 */
export function restateReadFailuresOnAbort(ctx: HandlerContext): void {
  ctx.signal.addEventListener(
    "abort",
    () => {
      const error: unknown = ctx.signal.reason;
      const restated = restateReadFailure(error, ctx.method);
      if (restated === undefined || !(error instanceof ConnectError)) return;
      const fields: Pick<ConnectError, "code" | "rawMessage" | "message" | "cause"> = {
        code: restated.code,
        rawMessage: restated.rawMessage,
        message: restated.message,
        cause: undefined,
      };
      Object.assign(error, fields);
    },
    { once: true },
  );
}

/** Restates read failures thrown by a streaming call's request messages (see the module comment). */
export function createReadFailureInterceptor(): Interceptor {
  return (next) => (req) => {
    if (!req.stream) return next(req);
    return next({ ...req, message: restating(req.message, req.method) });
  };
}

async function* restating<T>(messages: AsyncIterable<T>, method: DescMethod): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    throw restateReadFailure(error, method) ?? error;
  }
}
