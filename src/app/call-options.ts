/**
 * The per-call options every use case takes, and their translation into the
 * StoreCall that storage methods take (deadline and cancellation, no session).
 */
import { validateReason, type ChangeOrigin } from "../domain/change-record.ts";
import type { ClusterTime, ReadConsistency } from "../domain/consistency.ts";
import type { Caller } from "../domain/model.ts";
import type { StoreCall } from "../storage/store-call.ts";
import type { RequestMemo } from "./request-memo.ts";

/**
 * Per-call options. `deadline` (epoch milliseconds) bounds the database work:
 * every query gets `maxTimeMS` from the time remaining, and a use case that
 * runs out of time throws RosterError("deadline_exceeded"). `signal` aborts
 * between database steps (a cancelled RPC), also as deadline_exceeded.
 */
export interface CallOptions {
  readonly deadline?: number;
  readonly signal?: AbortSignal;
  /**
   * Per-request cache (from `createRequestMemo()`): pass the same memo to
   * `access.authorize` and to the use case of one RPC so the caller's
   * transitive groups are loaded once. Never share one between requests.
   */
  readonly memo?: RequestMemo;
  /**
   * How fresh a read use case's answer must be (README, "Consistency");
   * default minimize_latency. Writes always decide on the database.
   */
  readonly consistency?: ReadConsistency;
  /** Told the cluster time of each transaction the call commits (its response's consistency token). */
  readonly onCommit?: (time: ClusterTime) => void;
}

/** The StoreCall of `options`: its deadline, signal and commit observer, outside any transaction. */
export function storeCallOf(options: CallOptions | undefined): StoreCall {
  if (options === undefined) return {};
  if ("signal" in options) return new SignalledStoreCall(options);
  const call: { -readonly [K in keyof StoreCall]: StoreCall[K] } = {};
  if (options.deadline !== undefined) call.deadline = options.deadline;
  if (options.onCommit !== undefined) call.onCommit = options.onCommit;
  return call;
}

/**
 * The StoreCall of CallOptions that carry a signal. Its signal is a getter passed on unread: the
 * gRPC door makes a call's AbortSignal when it is first read
 * (src/transport/grpc/call-context.ts), and a read the read model answers
 * never reads it. A class rather than a property defined on a literal per
 * call (twice per read RPC: its authorization step and its use case).
 */
class SignalledStoreCall implements StoreCall {
  declare readonly deadline?: number;
  declare readonly onCommit?: (time: ClusterTime) => void;
  readonly #options: CallOptions;

  constructor(options: CallOptions) {
    this.#options = options;
    const optional = this as { deadline?: number; onCommit?: (time: ClusterTime) => void };
    if (options.deadline !== undefined) optional.deadline = options.deadline;
    if (options.onCommit !== undefined) optional.onCommit = options.onCommit;
  }

  get signal(): AbortSignal {
    // Made only for options with a signal (storeCallOf).
    return this.#options.signal as AbortSignal;
  }
}

/**
 * The options of a call that changes something: besides the CallOptions,
 * what the history records about the call with each change it makes.
 */
export interface ChangeOptions extends CallOptions {
  /** The request's reason; absent or "": none. Checked by the use case (invalid_argument "reason"). */
  readonly reason?: string;
  /** The call's request id (x-request-id). */
  readonly requestId?: string;
  /** The RPC, e.g. "roster.v1.GroupService/CreateGroup". */
  readonly method?: string;
}

/** Who makes the changes of a call and why, as its records say; invalid_argument "reason" when the reason is too long. */
export function changeOriginOf(caller: Caller, options: ChangeOptions | undefined): ChangeOrigin {
  return {
    actor: caller.principal,
    reason: validateReason(options?.reason ?? ""),
    requestId: options?.requestId ?? "",
    method: options?.method ?? "",
  };
}
