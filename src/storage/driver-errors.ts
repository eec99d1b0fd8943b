/**
 * The one place where MongoDB driver errors become Roster errors. Stores call
 * `translateDriverError` on what the driver throws; the transaction helper
 * calls it on what is left after retries. Everything unrecognised is passed
 * through unchanged so that the RPC layer reports it as INTERNAL (and logs it).
 */
import { MongoError, MongoNetworkError, MongoServerSelectionError } from "mongodb";
import { aborted, alreadyExists, deadlineExceeded, isRosterError, unavailable } from "../domain/errors.ts";

/** Server error codes Roster reacts to. */
export const mongoErrorCodes = {
  maxTimeMSExpired: 50,
  writeConflict: 112,
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

/**
 * Turns a driver error into a RosterError where Roster has a meaning for it.
 * `duplicateMessage` is the already_exists message for a unique-index
 * violation, which only the calling store can phrase ("slug … is taken").
 */
export function translateDriverError(error: unknown, duplicateMessage?: string): unknown {
  if (isRosterError(error)) return error;
  if (hasMongoCode(error, mongoErrorCodes.duplicateKey)) {
    return alreadyExists(duplicateMessage ?? "the record already exists");
  }
  if (hasMongoCode(error, mongoErrorCodes.maxTimeMSExpired)) {
    return deadlineExceeded("deadline exceeded while waiting for the database");
  }
  if (hasMongoCode(error, mongoErrorCodes.writeConflict) || isTransientTransactionError(error)) {
    return aborted("a concurrent change conflicted with this one; retry");
  }
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) {
    return unavailable("the database is unreachable");
  }
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
