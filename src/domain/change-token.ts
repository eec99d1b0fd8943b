/**
 * Change tokens: the opaque positions in the change feed that WatchChanges
 * and ListChanges hand out and resume from. A token wraps the database's
 * own position (a change stream's resume token, as storage spells it) in
 * base64url JSON `{v: 1, p}`, so the format can change without clients
 * noticing. Tokens are not secret: a hand-made one only moves the position,
 * and every change is still filtered by the access rules when delivered.
 */
import { invalidArgument } from "./errors.ts";

/** Tokens longer than this are refused before decoding. */
export const MAX_CHANGE_TOKEN_LENGTH = 2048;

const positionPattern = /^[A-Za-z0-9_-]{1,1024}$/;

/** The token of a feed position (as storage gives it). */
export function encodeChangeToken(position: string): string {
  return Buffer.from(JSON.stringify({ v: 1, p: position }), "utf8").toString("base64url");
}

/** The position of a token from a request; "" means now (undefined); anything else malformed is invalid_argument naming `field`. */
export function decodeChangeToken(token: string, field: string): string | undefined {
  if (token === "") return undefined;
  const position = token.length <= MAX_CHANGE_TOKEN_LENGTH && /^[A-Za-z0-9_-]+$/.test(token) ? positionOf(token) : undefined;
  if (position === undefined) throw invalidArgument(field, "is not a valid change token");
  return position;
}

function positionOf(token: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("v" in parsed) || !("p" in parsed)) return undefined;
  const { v, p } = parsed;
  return v === 1 && typeof p === "string" && positionPattern.test(p) ? p : undefined;
}
