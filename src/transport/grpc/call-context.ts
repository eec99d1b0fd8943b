/**
 * One connect HandlerContext per grpc-js call: request metadata as headers,
 * the client's deadline (grpc-timeout) as the context's timeout and as the
 * pipeline's `deadlineKey`, client cancellation and server shutdown as the
 * context's AbortSignal, and the door's facts (door, protocol, peer).
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, createHandlerContext } from "@connectrpc/connect";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { callInfoKey, clientCertificateCnKey, deadlineKey } from "../../rpc/context.ts";
import { metadataToHeaderEntries } from "./metadata.ts";
import { grpcPath } from "./service-definition.ts";

/** What every call of the door shares. */
export interface DoorCallOptions {
  /** Aborted (with UNAVAILABLE) when the door's shutdown grace period is over. */
  readonly shutdownSignal: AbortSignal;
  /**
   * Read the verified client certificate's subject CN into the call's context
   * (mTLS with ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn); off otherwise, so
   * calls do not pay for copying the certificate.
   */
  readonly readClientCertificate: boolean;
}

/** The context and a function to release its timer once the call is over. */
export type GrpcHandlerContext = ReturnType<typeof createHandlerContext>;

/** A cancellation this close to the deadline is taken to be the deadline. */
const deadlineSlackMs = 50;

/** Epoch ms of the call's deadline, or undefined when the client set none. */
export function deadlineOf(call: ServerSurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Creates the HandlerContext of `call`. The caller must call `ctx.abort()`
 * when the call is over (it clears the deadline timer).
 */
export function createGrpcHandlerContext(
  call: ServerSurfaceCall & { readonly metadata: import("@grpc/grpc-js").Metadata },
  method: DescMethod,
  options: DoorCallOptions,
): GrpcHandlerContext {
  const deadline = deadlineOf(call);
  const values = createContextValues().set(callInfoKey, { door: "grpc", protocol: "grpc", peer: call.getPeer() });
  if (deadline !== undefined) values.set(deadlineKey, deadline);
  if (options.readClientCertificate) {
    const cn = verifiedClientCn(call);
    if (cn !== undefined) values.set(clientCertificateCnKey, cn);
  }
  const init = {
    service: method.parent,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: grpcPath(method),
    shutdownSignal: options.shutdownSignal,
    requestHeader: metadataToHeaderEntries(call.metadata),
    contextValues: values,
  };
  const ctx = createHandlerContext(deadline === undefined ? init : { ...init, timeoutMs: Math.max(0, deadline - Date.now()) });
  call.once("cancelled", () => {
    // grpc-js reports its own deadline expiry as a cancellation, and a client
    // whose deadline passed cancels the stream, which can arrive a moment
    // before the server's copy of the deadline (computed from grpc-timeout
    // after transit) expires: both are the deadline, not a user's cancel.
    const expired = deadline !== undefined && Date.now() >= deadline - deadlineSlackMs;
    ctx.abort(expired ? new ConnectError("deadline exceeded", Code.DeadlineExceeded) : cancelledByClient);
  });
  return ctx;
}

/**
 * The subject CN of the client certificate, if the TLS handshake verified it:
 * grpc-js reports a peer certificate only for an authorized TLS socket. A
 * certificate with several CNs names no one (which one would it be?).
 */
function verifiedClientCn(call: ServerSurfaceCall): string | undefined {
  const auth = call.getAuthContext();
  if (auth.transportSecurityType !== "ssl") return undefined;
  const cn = auth.sslPeerCertificate?.subject.CN;
  return typeof cn === "string" ? cn : undefined;
}

const cancelledByClient = new ConnectError("the call was cancelled by the client", Code.Canceled);
/** The abort reason once a call is over (preallocated: aborting without a reason builds a DOMException per call). */
const callFinished = new ConnectError("the call has finished", Code.Canceled);

/** Releases the context of a finished call: clears its deadline timer and aborts its signal for leftover work. */
export function finishCall(ctx: GrpcHandlerContext): void {
  ctx.abort(callFinished);
}
