/**
 * The error labels mongod attaches to replies, by its rules: a transaction's
 * transient errors get TransientTransactionError, a retryable write's (and a
 * commit or abort's) retryable errors get RetryableWriteError, a change
 * stream's resumable errors on getMore get ResumableChangeStreamError. Drivers
 * retry by these labels only, so they must be exact.
 */
import { errorCodes } from "../errors.ts";

/** Codes in mongod's RetriableError category. */
const retriable = new Set<number>([
  errorCodes.HostUnreachable,
  errorCodes.HostNotFound,
  errorCodes.NetworkTimeout,
  errorCodes.ShutdownInProgress,
  errorCodes.PrimarySteppedDown,
  errorCodes.ExceededTimeLimit,
  errorCodes.SocketException,
  errorCodes.NotWritablePrimary,
  errorCodes.InterruptedAtShutdown,
  errorCodes.InterruptedDueToReplStateChange,
  errorCodes.NotPrimaryNoSecondaryOk,
  errorCodes.NotPrimaryOrSecondary,
]);

/** Errors a change stream may resume after (mongod's isResumableChangeStreamError). */
const resumable = new Set<number>([
  ...retriable,
  errorCodes.StaleShardVersion,
  errorCodes.StaleEpoch,
  13388,
  errorCodes.RetryChangeStream,
  errorCodes.FailedToSatisfyReadPreference,
]);

/** mongod's NonResumableChangeStreamError category. */
const nonResumable = new Set<number>([errorCodes.ChangeStreamFatalError, errorCodes.ChangeStreamHistoryLost]);

/** Errors that make a transaction worth retrying as a whole. */
const transient = new Set<number>([
  errorCodes.WriteConflict,
  errorCodes.LockTimeout,
  errorCodes.PreparedTransactionInProgress,
  errorCodes.SnapshotUnavailable,
]);

export interface LabelContext {
  /** The command ran with `autocommit: false` (a transaction statement, commit or abort). */
  readonly inTransaction: boolean;
  readonly commitOrAbort: boolean;
  /** A retryable write (txnNumber outside a transaction), or a commit or abort. */
  readonly retryableWrite: boolean;
  readonly changeStreamGetMore: boolean;
}

/** Labels for a reply whose error code is `code` (undefined on success) and whose writeConcernError code is `wcCode`. */
export function errorLabelsFor(code: number | undefined, wcCode: number | undefined, context: LabelContext): string[] {
  const labels: string[] = [];
  if (context.inTransaction && code !== undefined) {
    const isTransient =
      transient.has(code) ||
      (context.commitOrAbort
        ? code === errorCodes.NoSuchTransaction && wcCode === undefined
        : retriable.has(code) || code === errorCodes.NoSuchTransaction);
    if (isTransient) labels.push("TransientTransactionError");
  }
  if (
    labels.length === 0 &&
    context.retryableWrite &&
    ((code !== undefined && retriable.has(code)) || (wcCode !== undefined && retriable.has(wcCode)))
  ) {
    labels.push("RetryableWriteError");
  }
  if (context.changeStreamGetMore && code !== undefined && resumable.has(code)) labels.push("ResumableChangeStreamError");
  if (context.changeStreamGetMore && code !== undefined && nonResumable.has(code)) labels.push("NonResumableChangeStreamError");
  return labels;
}
