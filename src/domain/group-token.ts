/**
 * The rules of IssueGroupToken's request: who the token is for (`aud`) and
 * how long it lives. Pure, so the limits are table-tested without keys.
 */
import { invalidArgument } from "./errors.ts";
import { codePointLength } from "./text-length.ts";

/** ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS and ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS. */
export interface GroupTokenLimits {
  /** The lifetime of a token requested without a ttl. */
  readonly defaultTtlSeconds: number;
  /** The longest lifetime a request may ask for. */
  readonly maxTtlSeconds: number;
}

/** The claims of one group token. */
export interface GroupTokenClaims {
  /** `sub`: "group:<id>". */
  readonly subject: string;
  /** `aud`. */
  readonly audience: string;
  /** `iat`. */
  readonly issuedAt: Date;
  /** `exp`. */
  readonly expiresAt: Date;
  /** `jti`. */
  readonly tokenId: string;
}

/**
 * Signs group tokens with Roster's own key (`iss` and the key id are the
 * signer's): the port the app issues through and src/auth implements.
 */
export interface GroupTokenSigner {
  readonly limits: GroupTokenLimits;
  sign(claims: GroupTokenClaims): Promise<string>;
}

export const MAX_AUDIENCE_LENGTH = 256;

const whitespaceOrControl = /[\s\p{Cc}]/u;

/** The `aud` claim: 1-256 characters, no whitespace or control characters (a service name or URL). */
export function validateAudience(audience: string, field = "audience"): string {
  if (audience === "") throw invalidArgument(field, "is required (the service the token is for)");
  const length = codePointLength(audience);
  if (length > MAX_AUDIENCE_LENGTH) throw invalidArgument(field, `must be at most ${MAX_AUDIENCE_LENGTH} characters (got ${length})`);
  if (whitespaceOrControl.test(audience)) throw invalidArgument(field, "must not contain whitespace or control characters");
  return audience;
}

/**
 * The token's lifetime in whole seconds (a fraction rounds up, as `exp` is
 * in seconds): the default when the request sets none, otherwise 1 second
 * up to the configured maximum.
 */
export function groupTokenTtlSeconds(requested: number | undefined, limits: GroupTokenLimits, field = "ttl"): number {
  if (requested === undefined) return limits.defaultTtlSeconds;
  const seconds = Math.ceil(requested);
  if (!(seconds >= 1)) throw invalidArgument(field, `must be positive (got ${requested} s)`);
  if (seconds > limits.maxTtlSeconds) {
    throw invalidArgument(field, `must be at most ${limits.maxTtlSeconds} s (ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS), got ${requested} s`);
  }
  return seconds;
}
