/**
 * Principals are strings `user:<id>`, `group:<group id>` and `service:<id>`,
 * where `<id>` is 1-256 characters without whitespace or control characters.
 * Parsing happens once at the edge of every request so that the rest of the
 * code can rely on well-formed principals.
 */
import { invalidArgument } from "./errors.ts";
import type { PrincipalKind } from "./model.ts";
import { codePointLength } from "./text-length.ts";

/** Longest principal id, in characters (code points). */
export const MAX_PRINCIPAL_ID_LENGTH = 256;

/** A principal split into its kind and id. */
export interface ParsedPrincipal {
  readonly kind: PrincipalKind;
  readonly id: string;
  /** The canonical string form, `<kind>:<id>`. */
  readonly principal: string;
}

const kinds: readonly PrincipalKind[] = ["user", "group", "service"];
const forbidden = /[\s\p{Cc}]/u;

/**
 * Parses a principal from request field `field`, or throws invalid_argument
 * naming the field, e.g. `member: must be "user:<id>", "group:<group id>" or "service:<id>"`.
 */
export function parsePrincipal(value: string, field: string): ParsedPrincipal {
  if (value === "") throw invalidArgument(field, "is required");
  const colon = value.indexOf(":");
  const kind = colon < 0 ? undefined : kinds.find((k) => k === value.slice(0, colon));
  if (kind === undefined) {
    throw invalidArgument(field, 'must be "user:<id>", "group:<group id>" or "service:<id>"');
  }
  const id = value.slice(colon + 1);
  checkPrincipalId(id, field);
  return { kind, id, principal: value };
}

/**
 * Checks the `<id>` part of a principal (also used for JWT subjects and group
 * ids): 1-256 characters, no whitespace or control characters.
 */
export function checkPrincipalId(id: string, field: string): void {
  const length = codePointLength(id);
  if (length < 1 || length > MAX_PRINCIPAL_ID_LENGTH) {
    throw invalidArgument(field, `id must be 1-${MAX_PRINCIPAL_ID_LENGTH} characters`);
  }
  if (forbidden.test(id)) throw invalidArgument(field, "id must not contain whitespace or control characters");
}

/** Whether `id` is a well-formed principal id. */
export function isValidPrincipalId(id: string): boolean {
  const length = codePointLength(id);
  return length >= 1 && length <= MAX_PRINCIPAL_ID_LENGTH && !forbidden.test(id);
}

/** Whether `value` is a well-formed principal. */
export function isValidPrincipal(value: string): boolean {
  const colon = value.indexOf(":");
  if (colon < 0) return false;
  const prefix = value.slice(0, colon);
  return kinds.some((k) => k === prefix) && isValidPrincipalId(value.slice(colon + 1));
}

/** The principal string of a kind and id. */
export function formatPrincipal(kind: PrincipalKind, id: string): string {
  return `${kind}:${id}`;
}

/** The principal naming a group as a member: `group:<id>`. */
export function groupPrincipal(groupId: string): string {
  return `group:${groupId}`;
}

/** The group id of a `group:<id>` principal, or undefined for users and services. */
export function groupIdOfPrincipal(principal: string): string | undefined {
  return principal.startsWith("group:") ? principal.slice("group:".length) : undefined;
}
