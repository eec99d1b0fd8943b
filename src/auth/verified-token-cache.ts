/**
 * Callers of tokens whose signature and claims were verified, keyed by the
 * token string, so a client that sends the same token on every call pays for
 * the verification once rather than per call (HS256 through WebCrypto was a
 * quarter of the service's CPU per read RPC in `npm run bench:rpc`; Envoy's
 * jwt_authn and most API gateways cache verified tokens the same way).
 *
 * The key is the whole token, signature included, so a hit is a token
 * already proven: any other bytes are a miss and are verified in full. What
 * can change for the same bytes is time, so an entry is used only while its
 * `exp` and `nbf` hold under the same clock tolerance as the full check (the
 * expired token is then verified again and refused with its usual message),
 * and at most `maxAgeMs` after it was verified, so a key withdrawn from a
 * JSON Web Key Set stops accepting its tokens within that time (jose itself
 * trusts a fetched key set for 10 minutes). Only successes are kept, at
 * most `maxEntries`, least recently used first out.
 */
import type { Caller } from "../domain/model.ts";

/** Bounds of the cache. */
export interface VerifiedTokenCacheOptions {
  /** Tokens kept at most; 0 turns the cache off. */
  readonly maxEntries: number;
  /** How long after its verification a token may be answered from the cache, in milliseconds. */
  readonly maxAgeMs: number;
}

/** Defaults: enough for every active client of a replica; a minute bounds the life of a withdrawn key's tokens. */
export const defaultVerifiedTokenCacheOptions: VerifiedTokenCacheOptions = { maxEntries: 10_000, maxAgeMs: 60_000 };

/** The time claims of a verified token, in seconds since the epoch as in the token, widened by the clock tolerance. */
export interface TokenValidity {
  /** The token is valid while the current second is before this (`exp` + tolerance). */
  readonly validUntilSeconds: number;
  /** …and not before this (`nbf` − tolerance); undefined without `nbf`. */
  readonly validFromSeconds?: number | undefined;
}

export interface VerifiedTokenCache {
  /** The caller of `token` if it was verified and is still valid at `nowMs`; drops an entry that no longer is. */
  get(token: string, nowMs: number): Caller | undefined;
  /** Remembers the caller of a token that was just verified at `nowMs`. */
  set(token: string, caller: Caller, validity: TokenValidity, nowMs: number): void;
}

interface Entry {
  readonly caller: Caller;
  readonly validity: TokenValidity;
  readonly verifiedAtMs: number;
}

/** A bounded cache of verified tokens (see the module comment for what makes an entry usable). */
export function createVerifiedTokenCache(options: VerifiedTokenCacheOptions = defaultVerifiedTokenCacheOptions): VerifiedTokenCache {
  /** In least recently used order: a Map keeps insertion order, and a hit moves its entry to the end. */
  const entries = new Map<string, Entry>();
  return {
    get(token, nowMs) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      entries.delete(token);
      // Whole seconds, as jose compares exp and nbf, so the cache accepts exactly what a full check would.
      const nowSeconds = Math.floor(nowMs / 1000);
      const { validUntilSeconds, validFromSeconds } = entry.validity;
      const valid =
        nowSeconds < validUntilSeconds &&
        (validFromSeconds === undefined || nowSeconds >= validFromSeconds) &&
        nowMs >= entry.verifiedAtMs &&
        nowMs - entry.verifiedAtMs < options.maxAgeMs;
      if (!valid) return undefined;
      entries.set(token, entry);
      return entry.caller;
    },
    set(token, caller, validity, nowMs) {
      if (options.maxEntries <= 0) return;
      entries.delete(token);
      entries.set(token, { caller: Object.freeze({ ...caller }), validity, verifiedAtMs: nowMs });
      for (const oldest of entries.keys()) {
        if (entries.size <= options.maxEntries) break;
        entries.delete(oldest);
      }
    },
  };
}
