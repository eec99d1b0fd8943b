/**
 * The one error type of the command layer and the one place where errors become
 * wire replies. Handlers throw `CommandError` (or let `EngineError` through);
 * anything else is a bug and is answered as InternalError with its cause logged.
 */
import type { Document } from "bson";
import { EngineError } from "./engine/types.ts";

/** MongoDB error codes used by the command layer, by codeName (src/mongo/base/error_codes.yml). */
export const errorCodes = {
  InternalError: 1,
  BadValue: 2,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  ProtocolError: 17,
  IllegalOperation: 20,
  InvalidBSON: 22,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  NoSuchKey: 4,
  WriteConflict: 112,
  InvalidIdField: 53,
  DuplicateKey: 11000,
  TransactionTooOld: 225,
  NoSuchTransaction: 251,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  InvalidPipelineOperator: 168,
  UnsupportedOpQueryCommand: 352,
  ConflictingOperationInProgress: 117,
  Location40323: 40323,
  Location40324: 40324,
  Location40602: 40602,
  Location31254: 31254,
  Location31253: 31253,
  Location51270: 51270,
  Location15955: 15955,
  CannotCreateIndex: 67,
  DocumentValidationFailure: 121,
} as const;

export type ErrorCodeName = keyof typeof errorCodes;

/** An error the client should see with this code and message. */
export class CommandError extends Error {
  readonly code: number;
  constructor(
    readonly codeName: ErrorCodeName,
    message: string,
    readonly extra: Document = {},
    readonly errorLabels: readonly string[] = [],
  ) {
    super(message);
    this.name = "CommandError";
    this.code = errorCodes[codeName];
  }
}

/** Shorthand used by handlers: `throw commandError("BadValue", "…")`. */
export function commandError(codeName: ErrorCodeName, message: string, extra: Document = {}, labels: readonly string[] = []): CommandError {
  return new CommandError(codeName, message, extra, labels);
}

/** Errors carrying a MongoDB code (ours or the engine's). */
export type CodedError = CommandError | EngineError;

export function isCodedError(err: unknown): err is CodedError {
  return err instanceof CommandError || err instanceof EngineError;
}

/** Receives unexpected exceptions so they are logged, never sent verbatim. */
export type InternalErrorSink = (err: unknown, context: string) => void;

/**
 * Builds the `{ok:0, errmsg, code, codeName, errorLabels?, ...extra}` reply.
 * Unexpected exceptions become code 1 InternalError with a generic message
 * naming the command; their details go to `sink`.
 */
export function errorReply(err: unknown, commandName: string, sink: InternalErrorSink): Document {
  if (isCodedError(err)) {
    const reply: Document = { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName, ...err.extra };
    if (err.errorLabels.length > 0) reply["errorLabels"] = [...err.errorLabels];
    return reply;
  }
  sink(err, commandName);
  const detail = err instanceof Error ? err.message : String(err);
  return { ok: 0, errmsg: `internal error while running '${commandName}': ${detail}`, code: 1, codeName: "InternalError" };
}

/** The write-error entry (`writeErrors[i]`) for a failed statement of a write batch. */
export function writeErrorEntry(err: CodedError, index: number): Document {
  return { index, code: err.code, codeName: err.codeName, errmsg: err.message, ...err.extra };
}
