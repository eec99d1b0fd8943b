/**
 * Per-call context for storage operations: the transaction session (if any)
 * and the request's deadline. Every store method takes one, so a request's
 * deadline bounds each database round trip (`maxTimeMS` from the time left)
 * and a cancelled request stops between round trips.
 */
import type { ClientSession } from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";
import { deadlineExceeded } from "../domain/errors.ts";
import type { TransactionEnd } from "./transaction-end.ts";

export interface StoreCall {
  /** Set inside `runTransaction`; every operation of the transaction must carry it. */
  readonly session?: ClientSession;
  /** Epoch milliseconds after which the request has failed. */
  readonly deadline?: number;
  /** Aborted when the request is cancelled. */
  readonly signal?: AbortSignal;
  /**
   * Told the cluster time of each transaction `runTransaction` commits for
   * this call (the consistency token of the write, and the process's own
   * last write that its read model must have applied before it answers).
   */
  readonly onCommit?: (time: ClusterTime) => void;
  /** Set inside `runTransaction`: what the transaction's last write is made of (transaction-end.ts). */
  readonly transactionEnd?: TransactionEnd;
}

/** A StoreCall with no session and no deadline, for start-up work and tests. */
export const unboundedCall: StoreCall = Object.freeze({});

/**
 * Throws deadline_exceeded when the call is out of time or cancelled. Called
 * before each round trip rather than relying on the server alone, so a
 * cancelled request does not start more work.
 */
export function ensureTimeLeft(call: StoreCall): void {
  if (call.signal?.aborted === true) throw deadlineExceeded("the request was cancelled");
  if (call.deadline !== undefined && call.deadline - Date.now() <= 0) {
    throw deadlineExceeded("deadline exceeded before the database work finished");
  }
}

/** Driver options for one operation: the session, plus `maxTimeMS` outside transactions. */
export interface OperationOptions {
  session?: ClientSession;
  maxTimeMS?: number;
}

/**
 * Options for one driver operation. Inside a transaction `maxTimeMS` is left
 * out: the transaction as a whole is bounded by the deadline check before each
 * step and by `maxCommitTimeMS` (see transaction.ts).
 */
export function operationOptions(call: StoreCall): OperationOptions {
  ensureTimeLeft(call);
  const options: OperationOptions = {};
  if (call.session !== undefined) {
    options.session = call.session;
    return options;
  }
  if (call.deadline !== undefined) options.maxTimeMS = Math.max(1, Math.ceil(call.deadline - Date.now()));
  return options;
}
