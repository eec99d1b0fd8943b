/**
 * The one error taxonomy of Roster. Domain, app and storage code throw
 * `RosterError`; exactly one module (in src/rpc) maps its `kind` to a gRPC /
 * Connect code. Anything that is not a RosterError is a bug and becomes
 * INTERNAL there, with the cause logged and never sent.
 */

/** What went wrong, in transport-neutral terms (one per gRPC code we use). */
export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "failed_precondition"
  | "aborted"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "unavailable";

/** Every error kind, for exhaustive tables (the error mapper, tests). */
export const errorKinds: readonly ErrorKind[] = [
  "invalid_argument",
  "not_found",
  "already_exists",
  "permission_denied",
  "unauthenticated",
  "failed_precondition",
  "aborted",
  "resource_exhausted",
  "deadline_exceeded",
  "unavailable",
];

/**
 * An error whose message is safe to send to the client as is. `field` is set
 * for invalid_argument errors so that batch results and tests can tell which
 * request field was refused without parsing the message.
 */
export class RosterError extends Error {
  override readonly name = "RosterError";
  readonly kind: ErrorKind;
  readonly field: string | undefined;

  constructor(kind: ErrorKind, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.field = options?.field;
  }
}

/** True for a RosterError: the error mapper sends only these messages to clients. */
export function isRosterError(error: unknown): error is RosterError {
  return error instanceof RosterError;
}

/** A request field is invalid: message "<field>: <problem>", e.g. "group.slug: must match …". */
export function invalidArgument(field: string, problem: string): RosterError {
  return new RosterError("invalid_argument", `${field}: ${problem}`, { field });
}

/** The named thing does not exist, or the caller may not know it exists. */
export function notFound(message: string): RosterError {
  return new RosterError("not_found", message);
}

/** A unique thing (slug, member) already exists. */
export function alreadyExists(message: string): RosterError {
  return new RosterError("already_exists", message);
}

/** The caller is known and may see the target, but lacks the permission named in the message. */
export function permissionDenied(message: string): RosterError {
  return new RosterError("permission_denied", message);
}

/** No valid credentials; the message says which check failed, never the token. */
export function unauthenticated(message: string): RosterError {
  return new RosterError("unauthenticated", message);
}

/** The system is not in a state that allows the change (cycle, last admin, live children). */
export function failedPrecondition(message: string): RosterError {
  return new RosterError("failed_precondition", message);
}

/** A concurrent change won (stale etag, transaction conflict); the client may retry. */
export function aborted(message: string): RosterError {
  return new RosterError("aborted", message);
}

/** A limit was hit (batch size, depth of a traversal budget, rate). */
export function resourceExhausted(message: string): RosterError {
  return new RosterError("resource_exhausted", message);
}

/** The request's deadline passed before the work finished. */
export function deadlineExceeded(message: string): RosterError {
  return new RosterError("deadline_exceeded", message);
}

/** A dependency (the database) is unreachable; the client may retry later. */
export function unavailable(message: string): RosterError {
  return new RosterError("unavailable", message);
}
