/**
 * Per-request data, carried in connect `ContextValues` rather than globals so
 * that both doors (grpc-js and connect-node) hand the same keys to the same
 * interceptors and handlers. The door sets `callInfoKey`; the pipeline sets
 * the rest as the call goes through it.
 */
import { Code, ConnectError, createContextKey, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import { createRequestMemo, type RequestMemo } from "../app/index.ts";
import type { CallOptions, ChangeOptions } from "../app/index.ts";
import type { ClusterTime, ReadConsistency } from "../domain/consistency.ts";
import type { Caller } from "../domain/model.ts";
import { consistencyTokenToProto } from "../convert/consistency.ts";
import { methodKey } from "./access-rules.ts";

/** Which door a call came through. */
export type Door = "grpc" | "web";

/** Transport facts the door knows before the pipeline runs. */
export interface CallInfo {
  readonly door: Door;
  /** "grpc", "grpc-web" or "connect" (connect-node's `protocolName`). */
  readonly protocol: string;
  /** The client's address as the door sees it, e.g. "ipv4:127.0.0.1:53122". */
  readonly peer: string;
}

export const callInfoKey = createContextKey<CallInfo | undefined>(undefined, { description: "roster call info" });
/**
 * The call's request id. A door that answers every HTTP request with an id
 * (the web door) sets it before the pipeline runs, so the call's log line
 * carries the id the client already received; otherwise ("") the request log
 * assigns it.
 */
export const requestIdKey = createContextKey<string>("", { description: "roster request id" });
/**
 * The call's trace id (32 hex digits) when tracing is on: the caller's, from
 * its `traceparent`, or a new one. Set by the tracing step (src/ops), read by
 * the request log so a log line leads to its trace; "" when tracing is off.
 */
export const traceIdKey = createContextKey<string>("", { description: "roster trace id" });
/**
 * The call's request logger (a child carrying the request id), made on first
 * use: most calls log only their one request line, which the request log
 * writes with the id as a field, and a pino child per call cost more than
 * that line (`npm run bench:rpc` profile).
 */
export const loggerKey = createContextKey<(() => Logger) | undefined>(undefined, { description: "roster request logger" });
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "roster caller" });
/**
 * The subject CN of the client certificate the TLS handshake verified (gRPC
 * door with ROSTER_GRPC_CLIENT_CA and ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn);
 * undefined otherwise, and always on the web door. Set by the door; the
 * authentication step decides whether it names the caller.
 */
export const clientCertificateCnKey = createContextKey<string | undefined>(undefined, {
  description: "roster verified client certificate CN",
});
/**
 * `performance.now()` when the door received the call, if earlier than the
 * pipeline's start (the web door: before the body was read); the request
 * log measures the call's duration from here.
 */
export const callStartedKey = createContextKey<number | undefined>(undefined, { description: "roster call start" });
/**
 * How a door tells the pipeline its call has ended early (client cancel,
 * deadline, shutdown) without making the call's AbortSignal: cheaper than a
 * signal and a listener per call, and most calls never need the signal.
 */
export interface CallAbort {
  /** Why the call ended; undefined while it runs. */
  readonly reason: unknown;
  /** Calls `listener` once when the call ends; returns a function that stops listening. */
  whenAborted(listener: (reason: unknown) => void): () => void;
  /**
   * `work`'s outcome, unless the call ends first: then a rejection with
   * `toError(reason)` at once. Optional: without it, steps race `work`
   * against `whenAborted` (a door may do it with fewer objects per call).
   */
  race?<T>(work: Promise<T>, toError: (reason: unknown) => Error): Promise<T>;
}

/** The call's CallAbort, set by a door that has one (the gRPC door); otherwise steps watch the request's AbortSignal. */
export const callAbortKey = createContextKey<CallAbort | undefined>(undefined, { description: "roster call abort" });
/** Epoch milliseconds by which the call must finish; undefined without a client deadline. Set by the door. */
export const deadlineKey = createContextKey<number | undefined>(undefined, { description: "roster call deadline" });
/** A read RPC's consistency (set by the consistency step); undefined for other calls. */
const readConsistencyKey = createContextKey<ReadConsistency | undefined>(undefined, { description: "roster read consistency" });
/** The latest commit of the call's transactions, for its response's consistency_token. */
const commitsKey = createContextKey<{ latest: ClusterTime | undefined } | undefined>(undefined, { description: "roster commits" });
/** A HandlerContext (handlers) or an interceptor request: both carry the call's ContextValues. */
type HasValues = Pick<HandlerContext, "values"> | { readonly contextValues: ContextValues };

function valuesOf(ctx: HasValues): ContextValues {
  return "values" in ctx ? ctx.values : ctx.contextValues;
}

/**
 * The authenticated caller. Throws (fail closed) if the authentication step
 * did not run, which would be a wiring bug: better an error than an
 * anonymous call treated as someone.
 */
export function requireCaller(ctx: HasValues): Caller {
  const caller = valuesOf(ctx).get(callerKey);
  if (caller === undefined) {
    throw new ConnectError("internal error: call reached a handler without authentication", Code.Internal);
  }
  return caller;
}

/** The request logger (a child carrying the request id), for handlers that log. */
export function loggerOf(ctx: HasValues): Logger | undefined {
  return valuesOf(ctx).get(loggerKey)?.();
}

/** Sets the consistency a read RPC asks for (the consistency step). */
export function setReadConsistency(ctx: HasValues, consistency: ReadConsistency): void {
  valuesOf(ctx).set(readConsistencyKey, consistency);
}

/** The call's CallOptions, made once (the authorization step and the handler both ask). */
const callOptionsKey = createContextKey<CallOptions | undefined>(undefined, { description: "roster call options" });

/**
 * The app's per-call options: the door's deadline (so database work gets
 * `maxTimeMS` from the time left), the call's AbortSignal, the call's
 * request memo, shared by the authorization step and the handler so the
 * caller's transitive groups are loaded once per call, a read RPC's
 * consistency, and an observer of the call's commits (`consistencyTokenOf`).
 * Made on the first request (after the consistency step has run) and the
 * same object after that.
 */
export function callOptionsOf(ctx: HasValues & { readonly signal: AbortSignal }): CallOptions {
  const values = valuesOf(ctx);
  const made = values.get(callOptionsKey);
  if (made !== undefined) return made;
  const commits: { latest: ClusterTime | undefined } = { latest: undefined };
  values.set(commitsKey, commits);
  const options = new PipelineCallOptions(ctx, commits, values.get(deadlineKey), values.get(readConsistencyKey));
  values.set(callOptionsKey, options);
  return options;
}

/**
 * CallOptions whose signal is read when the app asks (a door may make the
 * signal on first use, call-context.ts). A class: a getter in an object
 * literal is a new function per call, and the optional fields are absent
 * rather than undefined, as CallOptions declares them.
 */
class PipelineCallOptions implements CallOptions {
  readonly memo: RequestMemo = createRequestMemo();
  readonly onCommit: (time: ClusterTime) => void;
  declare readonly deadline?: number;
  declare readonly consistency?: ReadConsistency;
  readonly #source: { readonly signal: AbortSignal };

  constructor(
    source: { readonly signal: AbortSignal },
    commits: { latest: ClusterTime | undefined },
    deadline: number | undefined,
    consistency: ReadConsistency | undefined,
  ) {
    this.#source = source;
    this.onCommit = commitObserver(commits);
    const optional = this as { deadline?: number; consistency?: ReadConsistency };
    if (deadline !== undefined) optional.deadline = deadline;
    if (consistency !== undefined) optional.consistency = consistency;
  }

  get signal(): AbortSignal {
    return this.#source.signal;
  }
}

/**
 * Records each commit's time in `seen`, keeping the latest. Made by a
 * function rather than bound to a name in callOptionsOf: under tsx, esbuild
 * names every such closure with a property definition, per call.
 */
function commitObserver(seen: { latest: ClusterTime | undefined }): (time: ClusterTime) => void {
  return (time) => {
    if (seen.latest === undefined || time > seen.latest) seen.latest = time;
  };
}

/** The consistency_token of a mutating response: the latest commit made with this call's options. */
export function consistencyTokenOf(ctx: HasValues): string {
  return consistencyTokenToProto(valuesOf(ctx).get(commitsKey)?.latest);
}

/**
 * The app's options for a call that changes something: the CallOptions, and
 * what its history records say about the call: the request's `reason`, the
 * call's request id and its RPC.
 */
export function changeOptionsOf(ctx: HandlerContext, reason: string): ChangeOptions {
  return {
    // The spread copies own fields only: the signal is a getter of the class.
    ...callOptionsOf(ctx),
    signal: ctx.signal,
    reason,
    requestId: ctx.values.get(requestIdKey),
    method: methodKey(ctx.method),
  };
}
