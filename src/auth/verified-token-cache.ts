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
 * `exp` holds under the same clock tolerance as the full check (the expired
 * token is then verified again and refused with its usual message), never
 * at a time before its verification (so `nbf`, which held then, still
 * holds), and at most `maxAgeMs` after it was verified, so a key withdrawn from a
 * JSON Web Key Set stops accepting its tokens within that time (jose itself
 * trusts a fetched key set for 10 minutes). Only successes are kept, at
 * most `maxEntries`, least recently used first out.
 */
import type { Caller } from "../domain/model.ts";
import { createWeightedLru } from "../domain/weighted-lru.ts";

/** Bounds of the cache. */
export interface VerifiedTokenCacheOptions {
  /** Tokens kept at most; 0 turns the cache off. */
  readonly maxEntries: number;
  /** How long after its verification a token may be answered from the cache, in milliseconds. */
  readonly maxAgeMs: number;
}

/** Defaults: enough for every active client of a replica; a minute bounds the life of a withdrawn key's tokens. */
export const defaultVerifiedTokenCacheOptions: VerifiedTokenCacheOptions = { maxEntries: 10_000, maxAgeMs: 60_000 };

/** How long a verified token stays valid: while the current second (since the epoch) is before this, its `exp` + clock tolerance. */
export type ValidUntilSeconds = number;

export interface VerifiedTokenCache {
  /** The caller of `token` if it was verified and is still valid at `nowMs`; drops an entry that no longer is. */
  get(token: string, nowMs: number): Caller | undefined;
  /** Remembers the caller of a token that was just verified at `nowMs`. */
  set(token: string, caller: Caller, validUntilSeconds: ValidUntilSeconds, nowMs: number): void;
}

interface Entry {
  readonly caller: Caller;
  readonly validUntilSeconds: ValidUntilSeconds;
  readonly verifiedAtMs: number;
}

/** A bounded cache of verified tokens (see the module comment for what makes an entry usable). */
export function createVerifiedTokenCache(options: VerifiedTokenCacheOptions = defaultVerifiedTokenCacheOptions): VerifiedTokenCache {
  const entries = createWeightedLru<Entry>(options.maxEntries);
  return {
    get(token, nowMs) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      // Whole seconds, as jose compares exp, so the cache accepts exactly what a full check would.
      const valid =
        Math.floor(nowMs / 1000) < entry.validUntilSeconds && nowMs >= entry.verifiedAtMs && nowMs - entry.verifiedAtMs < options.maxAgeMs;
      if (valid) return entry.caller;
      entries.delete(token);
      return undefined;
    },
    set(token, caller, validUntilSeconds, nowMs) {
      entries.set(token, { caller: Object.freeze({ ...caller }), validUntilSeconds, verifiedAtMs: nowMs });
    },
  };
}
