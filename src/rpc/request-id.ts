/**
 * Request ids: the client's `x-request-id` when it is a sane token (so a
 * caller can correlate its logs with ours), otherwise a fresh UUID. Anything
 * else (too long, spaces, control characters) is replaced rather than logged.
 */
import { randomUUID } from "node:crypto";

export const requestIdHeader = "x-request-id";
const acceptable = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The request id for a call with these request headers. */
export function requestIdFrom(headers: Headers): string {
  return requestIdFor(headers.get(requestIdHeader));
}

/** The request id for a request whose `x-request-id` header is `given` (absent: null or undefined). */
export function requestIdFor(given: string | null | undefined): string {
  return given !== null && given !== undefined && acceptable.test(given) ? given : randomUUID();
}
