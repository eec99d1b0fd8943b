/**
 * The one place where errors become RPC statuses. Domain, app and storage code
 * throw `RosterError` (storage translates the database driver's errors, see
 * src/storage/driver-errors.ts); everything else is a bug and becomes
 * INTERNAL "internal error" with the cause logged server-side and never sent.
 *
 * `ConnectError`/`Code` from @connectrpc/connect are the neutral status type:
 * the Connect door throws them as they are, and the gRPC door sends
 * `code` as the gRPC status (the numeric values are the same).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isRosterError, type ErrorKind } from "../domain/errors.ts";

/** RosterError kind → status code; exhaustive by type, so a new kind cannot be forgotten. */
export const codeOfKind: Readonly<Record<ErrorKind, Code>> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  resource_exhausted: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
};

/** The message every unexpected failure is reduced to on the wire. */
export const internalErrorMessage = "internal error";

/**
 * Turns anything thrown during a call into the status the client gets.
 *
 * - ConnectError: already a status (thrown by a door, the deadline, or
 *   deliberately by a handler such as UNIMPLEMENTED); passed through.
 * - Anything thrown after the call's own signal was aborted with a status
 *   (deadline, cancellation, shutdown) → that status: the error is only a
 *   consequence of the abort (e.g. the batch engine's "the request was
 *   cancelled" must reach a client cut off by shutdown as UNAVAILABLE).
 * - RosterError: its kind's code and its message (written to be safe to send);
 *   its cause, if any (the driver's error behind a database failure), is
 *   logged, never sent.
 * - Anything else → INTERNAL "internal error"; the cause goes to `logger`.
 */
export function toConnectError(error: unknown, logger?: Logger, signal?: AbortSignal): ConnectError {
  if (error instanceof ConnectError) return error;
  // Once the call's signal is aborted with a status (deadline, client cancel,
  // server shutdown), whatever the work below threw because of it — a
  // RosterError "the request was cancelled", a driver abort — is a
  // consequence: the signal's reason is the truth the client must get.
  if (signal?.aborted === true && signal.reason instanceof ConnectError) return signal.reason;
  if (isRosterError(error)) {
    if (error.cause !== undefined) logger?.warn({ err: error.cause, kind: error.kind }, error.message);
    return new ConnectError(error.message, codeOfKind[error.kind]);
  }
  if (error instanceof Error && error.name === "TimeoutError") {
    return new ConnectError("deadline exceeded", Code.DeadlineExceeded);
  }
  if (error instanceof Error && error.name === "AbortError") {
    return new ConnectError("the call was cancelled", Code.Canceled);
  }
  logger?.error({ err: error }, "unexpected error in RPC");
  return new ConnectError(internalErrorMessage, Code.Internal);
}
