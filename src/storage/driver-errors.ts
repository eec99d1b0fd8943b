/**
 * The one place where MongoDB driver errors become Roster errors. Stores call
 * `translateDriverError` on what the driver throws; the transaction helper
 * calls it on what is left after retries. Above storage no code knows the
 * driver's error classes: the RPC layer maps only RosterErrors, and anything
 * unrecognised here is passed through unchanged so that it is reported as
 * INTERNAL (and logged). A database failure keeps the driver's error as its
 * `cause`, which the RPC layer logs server-side.
 */
import {
  MongoClientClosedError,
  MongoError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from "mongodb";
import { alreadyExists, failedPrecondition, invalidArgument, isRosterError, RosterError } from "../domain/errors.ts";

/** Server error codes Roster reacts to. */
export const mongoErrorCodes = {
  badValue: 2,
  namespaceExists: 48,
  maxTimeMSExpired: 50,
  writeConflict: 112,
  invalidResumeToken: 260,
  changeStreamFatalError: 280,
  changeStreamHistoryLost: 286,
  duplicateKey: 11000,
} as const;

/** Whether `error` is a driver error carrying `code`. */
export function hasMongoCode(error: unknown, code: number): boolean {
  return error instanceof MongoError && error.code === code;
}

/** Whether the driver would retry the whole transaction for this error. */
export function isTransientTransactionError(error: unknown): boolean {
  return error instanceof MongoError && error.hasErrorLabel("TransientTransactionError");
}

/** The database cannot be reached, or the client is closed (shutting down): try again later. */
function isUnreachable(error: unknown): boolean {
  return (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError
  );
}

/** The client was closed (the process is stopping): nothing will work on it again. */
export function isClosedClientError(error: unknown): boolean {
  const cause = error instanceof RosterError ? error.cause : error;
  return cause instanceof MongoClientClosedError || cause instanceof MongoTopologyClosedError || cause instanceof MongoNotConnectedError;
}

/**
 * Turns a driver error into a RosterError where Roster has a meaning for it:
 * a unique-index violation → already_exists (`duplicateMessage`, which only
 * the calling store can phrase: "slug … is taken"); the server's time limit
 * or the driver's timeout → deadline_exceeded; a write conflict →
 * aborted; an unreachable database → unavailable.
 */
export function translateDriverError(error: unknown, duplicateMessage?: string): unknown {
  if (isRosterError(error)) return error;
  if (hasMongoCode(error, mongoErrorCodes.duplicateKey)) {
    // A client's mistake (a taken slug), not a database failure: no cause to log.
    return alreadyExists(duplicateMessage ?? "the record already exists");
  }
  if (hasMongoCode(error, mongoErrorCodes.maxTimeMSExpired) || error instanceof MongoOperationTimeoutError) {
    return new RosterError("deadline_exceeded", "deadline exceeded while waiting for the database", { cause: error });
  }
  if (hasMongoCode(error, mongoErrorCodes.writeConflict) || isTransientTransactionError(error)) {
    return new RosterError("aborted", "a concurrent change conflicted with this one; retry", { cause: error });
  }
  if (isUnreachable(error)) return new RosterError("unavailable", "database unavailable, try again later", { cause: error });
  return error;
}

/**
 * Runs one driver operation, translating duplicate keys and deadlines.
 * Transient transaction errors (write conflicts) are rethrown untouched so
 * that `withTransaction` can retry the transaction.
 */
export async function driverCall<T>(operation: () => Promise<T>, duplicateMessage?: string): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isTransientTransactionError(error)) throw error;
    throw translateDriverError(error, duplicateMessage);
  }
}

/**
 * Translates what opening or reading a change stream from a client's
 * position threw: a position older than the change history the database
 * holds (ChangeStreamHistoryLost, also for a stream that falls behind it
 * later) or one it never issued (a token from another deployment, or from
 * before its data was restored: ChangeStreamFatalError) is
 * failed_precondition telling the client to resynchronize; before the
 * stream's first answer (`opened` false), a position the server cannot
 * parse is invalid_argument naming `positionField`; the rest as
 * `translateDriverError`.
 */
export function translateChangeStreamError(error: unknown, positionField: string, opened: boolean): unknown {
  const resynchronize = "resynchronize from the list RPCs (ListGroups, ListMemberships) and continue from a new token";
  if (hasMongoCode(error, mongoErrorCodes.changeStreamHistoryLost)) {
    return failedPrecondition(`${positionField}: the change history no longer reaches back to this token; ${resynchronize}`);
  }
  if (hasMongoCode(error, mongoErrorCodes.changeStreamFatalError)) {
    return failedPrecondition(`${positionField}: this token was not issued by this deployment's change history; ${resynchronize}`);
  }
  if (!opened && (hasMongoCode(error, mongoErrorCodes.invalidResumeToken) || hasMongoCode(error, mongoErrorCodes.badValue))) {
    return invalidArgument(positionField, "is not a valid change token");
  }
  return translateDriverError(error);
}
