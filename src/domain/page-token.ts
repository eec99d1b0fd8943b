/**
 * Opaque keyset page tokens. A token is base64url(JSON {k, f}): `k` is the
 * sort key of the last item returned (the next page starts strictly after
 * it), `f` a fingerprint of the request's other fields, so that a token used
 * with a different query is refused instead of silently skipping or
 * repeating items. Tokens are not secret: a hand-made key only moves the
 * cursor, and every listed item is still filtered by access rules.
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "./errors.ts";

/** Tokens longer than this are refused before decoding. */
export const MAX_PAGE_TOKEN_LENGTH = 4096;

/** A JSON value, the only thing a token can carry. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * A short stable digest of the request fields that must not change between
 * pages (filters, order, the caller). Object keys are sorted, so the order
 * in which fields are listed does not matter.
 */
export function requestFingerprint(fields: Readonly<Record<string, JsonValue | undefined>>): string {
  return createHash("sha256").update(stableJson(fields)).digest("base64url").slice(0, 22);
}

/** Encodes the last sort key of a page and the request fingerprint. */
export function encodePageToken(key: JsonValue, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ k: key, f: fingerprint }), "utf8").toString("base64url");
}

/**
 * Decodes a token from a request: "" means the first page (undefined).
 * Garbage, a key of the wrong shape or a token from another request →
 * invalid_argument naming `field`.
 *
 * @param isKey checks the decoded key's shape (the token is untrusted input)
 */
export function decodePageToken<K extends JsonValue>(
  token: string,
  fingerprint: string,
  isKey: (value: unknown) => value is K,
  field = "page_token",
): K | undefined {
  if (token === "") return undefined;
  const payload = token.length <= MAX_PAGE_TOKEN_LENGTH ? parsePayload(token) : undefined;
  if (payload === undefined || !isKey(payload.k)) throw invalidArgument(field, "is not a valid page token");
  if (payload.f !== fingerprint) {
    throw invalidArgument(field, "was issued for a different request (the other fields must be unchanged)");
  }
  return payload.k;
}

function parsePayload(token: string): { k: unknown; f: string } | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("k" in parsed) || !("f" in parsed)) return undefined;
  const { k, f } = parsed;
  return typeof f === "string" ? { k, f } : undefined;
}

function stableJson(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (Array.isArray(value)) return `[${value.map((v: unknown) => stableJson(v)).join(",")}]`;
  if (typeof value === "object") {
    const record = value as Readonly<Record<string, unknown>>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${stableJson(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
