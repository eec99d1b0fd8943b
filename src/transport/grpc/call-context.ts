/**
 * One connect HandlerContext per grpc-js call: request metadata as headers,
 * the client's deadline (grpc-timeout) as the context's timeout and as the
 * pipeline's `deadlineKey`, client cancellation and server shutdown as the
 * end of the call (its AbortSignal, and the pipeline's `callAbortKey`), and
 * the door's facts (door, protocol, peer).
 *
 * Not connect's `createHandlerContext`: that one builds two AbortControllers
 * per call (the deadline's and one linked to it and to the shutdown signal,
 * with a listener on each) and aborts them when the call ends, which was 11%
 * of the service's CPU in `npm run bench:rpc` for reads that never look at
 * the signal. Here the AbortSignal is made on first use (a store call or a
 * stream's backpressure wait asks for it; a read answered from the read
 * model does not), already aborted if the call is over; the pipeline's
 * deadline step is told of the end through `callAbortKey` instead; shutdown
 * reaches each call through the door's set of calls in flight, not through
 * a listener per call.
 */
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Metadata } from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { callAbortKey, callInfoKey, clientCertificateCnKey, deadlineKey, type CallAbort, type CallInfo } from "../../rpc/context.ts";
import { raceWithListener } from "../../rpc/deadline-interceptor.ts";
import { MetadataHeaders, ResponseHeaders } from "./metadata.ts";
import { grpcPath } from "./service-definition.ts";

/** The calls of a door that have started and not finished, so shutdown can end each. */
export interface CallsInFlight {
  /** Aborted (with UNAVAILABLE) when the door's shutdown grace period is over: no new call starts after that. */
  readonly shutdownSignal: AbortSignal;
  readonly calls: Set<GrpcHandlerContext>;
}

/** What every call of the door shares. */
export interface DoorCallOptions {
  readonly inFlight: CallsInFlight;
  /**
   * Read the verified client certificate's subject CN into the call's context
   * (mTLS with ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn); off otherwise, so
   * calls do not pay for copying the certificate.
   */
  readonly readClientCertificate: boolean;
}

/** A cancellation this close to the deadline is taken to be the deadline. */
const deadlineSlackMs = 50;

/** Epoch ms of the call's deadline, or undefined when the client set none. */
export function deadlineOf(call: ServerSurfaceCall): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The reason a call's deadline ends it with (connect's wording for the same event). */
const deadlinePassed = new ConnectError("the operation timed out", Code.DeadlineExceeded);
const cancelledByClient = new ConnectError("the call was cancelled by the client", Code.Canceled);
/** The abort reason once a call is over (preallocated: aborting without a reason builds a DOMException per call). */
const callFinished = new ConnectError("the call has finished", Code.Canceled);

/**
 * A HandlerContext whose AbortSignal is made on first use. A class, not a
 * factory's object literal: one is built per call, and prototype getters and
 * methods cost no closures.
 */
export class GrpcHandlerContext implements HandlerContext, CallAbort {
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly requestHeader: Headers;
  readonly responseHeader: Headers = new ResponseHeaders();
  readonly responseTrailer: Headers = new ResponseHeaders();
  readonly values: ContextValues;
  /** Why the call ended (deadline, client cancel, shutdown, or finished); undefined while it runs. */
  reason: unknown = undefined;
  readonly method: DescMethod;
  /** Epoch ms of the client's deadline; undefined without one. */
  readonly deadline: number | undefined;
  readonly #inFlight: CallsInFlight;
  #controller: AbortController | undefined = undefined;
  #listeners: ((reason: unknown) => void)[] | undefined = undefined;
  #timer: NodeJS.Timeout | undefined = undefined;
  /** The pending `race` (the pipeline's deadline step races once per call): its rejection and the error it rejects with. */
  #racing: ((error: Error) => void) | undefined = undefined;
  #raceError: ((reason: unknown) => Error) | undefined = undefined;

  constructor(method: DescMethod, deadline: number | undefined, metadata: Metadata, values: ContextValues, inFlight: CallsInFlight) {
    this.method = method;
    this.deadline = deadline;
    this.#inFlight = inFlight;
    this.service = method.parent;
    this.requestHeader = new MetadataHeaders(metadata);
    this.values = values.set(callAbortKey, this);
    if (inFlight.shutdownSignal.aborted) {
      this.reason = inFlight.shutdownSignal.reason;
      return;
    }
    inFlight.calls.add(this);
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) this.abort(deadlinePassed);
      else
        this.#timer = setTimeout(() => {
          this.abort(deadlinePassed);
        }, left);
    }
  }

  get url(): string {
    return grpcPath(this.method);
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** The call's AbortSignal, made now if nothing asked for it before (aborted already if the call is over). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.reason !== undefined) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  timeoutMs(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - Date.now();
  }

  whenAborted(listener: (reason: unknown) => void): () => void {
    (this.#listeners ??= []).push(listener);
    return () => {
      const listeners = this.#listeners;
      const at = listeners?.indexOf(listener) ?? -1;
      if (at >= 0) listeners?.splice(at, 1);
    };
  }

  /**
   * The call's "cancelled" listener. grpc-js reports its own deadline expiry
   * as a cancellation, and a client whose deadline passed cancels the
   * stream, which can arrive a moment before the server's copy of the
   * deadline (computed from grpc-timeout after transit) expires: both are
   * the deadline, not a user's cancel.
   */
  cancelled(): void {
    const deadline = this.deadline;
    const expired = deadline !== undefined && Date.now() >= deadline - deadlineSlackMs;
    this.abort(expired ? new ConnectError("deadline exceeded", Code.DeadlineExceeded) : cancelledByClient);
  }

  /**
   * CallAbort's race with fewer objects per call than a `whenAborted`
   * listener (a promise and its executor; no listener, no list, no stop
   * function): the abort rejects the pending race directly. A second race
   * while one is pending goes through `whenAborted`.
   */
  race<T>(work: Promise<T>, toError: (reason: unknown) => Error): Promise<T> {
    if (this.reason !== undefined) return Promise.reject(toError(this.reason));
    if (this.#racing !== undefined) return raceWithListener(this, work, toError);
    return new Promise<T>((resolve, reject) => {
      this.#racing = reject;
      this.#raceError = toError;
      work.then(resolve, reject);
    });
  }

  /** Ends the call with `reason` (the first reason wins): clears its timer, aborts its signal if one was made, tells the listeners. */
  abort(reason: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.#inFlight.calls.delete(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#controller?.abort(reason);
    const racing = this.#racing;
    if (racing !== undefined) {
      this.#racing = undefined;
      // A race already settled ignores this (the call finished first).
      racing((this.#raceError as (reason: unknown) => Error)(reason));
    }
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(reason);
  }
}

/**
 * Creates the HandlerContext of `call`. The caller must call `finishCall`
 * when the call is over (it clears the deadline timer and leaves the set of
 * calls in flight).
 */
export function createGrpcHandlerContext(
  call: ServerSurfaceCall & { readonly metadata: Metadata },
  method: DescMethod,
  options: DoorCallOptions,
): GrpcHandlerContext {
  const deadline = deadlineOf(call);
  const values = createContextValues().set(callInfoKey, callInfoOf(call));
  if (deadline !== undefined) values.set(deadlineKey, deadline);
  if (options.readClientCertificate) {
    const cn = verifiedClientCn(call);
    if (cn !== undefined) values.set(clientCertificateCnKey, cn);
  }
  const ctx = new GrpcHandlerContext(method, deadline, call.metadata, values, options.inFlight);
  // `on`, not `once` (once wraps the listener in a bound function and a state
  // object per call; a second "cancelled", which grpc-js never sends, would
  // find the call ended: abort keeps the first reason). An arrow passed as
  // it is: one bound to a name (or a class field) also gets its name defined
  // per call under tsx (~2 µs).
  call.on("cancelled", () => {
    ctx.cancelled();
  });
  return ctx;
}

/** Each connection's CallInfo, made on its first call: door, protocol and peer are the connection's. */
const connectionCallInfos = new WeakMap<object, CallInfo>();

/**
 * The CallInfo of `call`, shared by every call on its connection. grpc-js's
 * `getPeer` formats the peer anew for each call, reading the socket through
 * node's HTTP/2 socket proxy (~0.3 µs); a connection's peer never changes.
 */
export function callInfoOf(call: ServerSurfaceCall): CallInfo {
  const connection = connectionOf(call);
  let info = connection === undefined ? undefined : connectionCallInfos.get(connection);
  if (info === undefined) {
    info = Object.freeze({ door: "grpc", protocol: "grpc", peer: call.getPeer() });
    // "unknown": the socket was already gone; a later call may still tell.
    if (connection !== undefined && info.peer !== "unknown") connectionCallInfos.set(connection, info);
  }
  return info;
}

/**
 * The HTTP/2 session `call` came on. No public grpc-js API names a call's
 * connection, so this reads grpc-js's own fields (the call's `call.stream.session`);
 * if they ever change shape, it is undefined and every call asks grpc-js
 * for its peer (test/service/grpc-call-context.test.ts notices).
 */
function connectionOf(call: ServerSurfaceCall): object | undefined {
  const session = (call as { readonly call?: { readonly stream?: { readonly session?: unknown } } }).call?.stream?.session;
  return typeof session === "object" && session !== null ? session : undefined;
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

/** Releases the context of a finished call: clears its deadline timer and aborts its signal for leftover work. */
export function finishCall(ctx: GrpcHandlerContext): void {
  ctx.abort(callFinished);
}

/** Ends every call still in flight with `reason` (the door's shutdown, once its grace period is over). */
export function abortCallsInFlight(inFlight: CallsInFlight, reason: unknown): void {
  for (const ctx of [...inFlight.calls]) ctx.abort(reason);
}
