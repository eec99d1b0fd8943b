/**
 * Turns an `authorization: Bearer <JWT>` header into the Caller of an RPC,
 * using `jose` for everything cryptographic. Every failure is an
 * `unauthenticated` RosterError whose message says which check failed and
 * never contains the token (clients log these messages).
 *
 * Claims:
 * - `sub` (required) → `user:<sub>`, or `service:<sub>` when the claim
 *   `principal_type` is "service" ("user" or absent means a user; any other
 *   value is refused rather than guessed).
 * - `exp` (required: a token that never expires is refused), `nbf`, with a
 *   clock tolerance of 30 s by default. The caller carries the instant its
 *   token stops being accepted (`credentialExpiresAt`): a stream opened with
 *   it ends then (src/rpc/credential-expiry-interceptor.ts).
 * - `iss` / `aud` are checked when an issuer / audience is configured.
 * - `auth_time` (optional, seconds since the epoch as in OpenID Connect Core
 *   §2): when the caller last authenticated. High-assurance groups
 *   (authentication_assurance_timeout) need it recent.
 * - `roster_admin: true` makes the caller a system administrator in
 *   development mode only; otherwise administrators are the principals listed
 *   in `admins` (ROSTER_ADMINS).
 * - Every claim Roster or the JWT/OIDC specifications give a type (see
 *   `claimTypes`) must have it when present, or the token is refused as
 *   malformed, naming the claim: a correctly signed token with odd claims is
 *   the client's mistake, never an internal error, and never half-read.
 *
 * A token verified once is answered from a bounded cache while its exp
 * holds (src/auth/verified-token-cache.ts), so the same token on every call
 * is verified once, not per call.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import { RosterError, unauthenticated, unavailable } from "../domain/errors.ts";
import type { Caller } from "../domain/model.ts";
import { isValidPrincipalId } from "../domain/principal.ts";
import { createVerifiedTokenCache, defaultVerifiedTokenCacheOptions, type VerifiedTokenCacheOptions } from "./verified-token-cache.ts";

/** The claim that marks a token's subject as a service. */
export const PRINCIPAL_TYPE_CLAIM = "principal_type";
/** The development-mode claim that makes the caller a system administrator. */
export const DEV_ADMIN_CLAIM = "roster_admin";
/** Default allowed clock skew for exp/nbf, in seconds. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

/** Asymmetric algorithms accepted from a JWKS or a PEM public key. */
export type AsymmetricAlgorithm = "RS256" | "ES256";

/** How tokens are verified. At least one key source must be given. */
export interface JwtVerifierOptions {
  /** HS256 shared secret (ROSTER_JWT_SECRET, or the development key); its UTF-8 bytes are the key. */
  readonly hs256Secret?: string | undefined;
  /** URL of a JSON Web Key Set with RS256/ES256 keys (ROSTER_JWKS_URL); fetched and cached by jose. */
  readonly jwksUrl?: string | URL | undefined;
  /** A PEM (SPKI) RSA or EC P-256 public key; RSA keys verify RS256, EC keys ES256. */
  readonly publicKeyPem?: string | undefined;
  /** Required `iss` when set (ROSTER_JWT_ISSUER). */
  readonly issuer?: string | undefined;
  /** Required `aud` when set (ROSTER_JWT_AUDIENCE). */
  readonly audience?: string | undefined;
  /** System administrators, as principals ("user:alice") (ROSTER_ADMINS). */
  readonly admins?: readonly string[] | undefined;
  /** Development mode: the `roster_admin` claim is honoured. */
  readonly developmentMode?: boolean | undefined;
  /** Allowed clock skew for exp/nbf in seconds (default 30). */
  readonly clockToleranceSeconds?: number | undefined;
  /** The current time, for tests. */
  readonly now?: (() => Date) | undefined;
  /** Bounds of the cache of verified tokens (default `defaultVerifiedTokenCacheOptions`; `maxEntries: 0` turns it off). */
  readonly cache?: VerifiedTokenCacheOptions | undefined;
}

/** The JSON types of the claims Roster reads or the JWT and OIDC specifications define (RFC 7519 §4.1, OIDC Core §2). */
const claimTypes: Readonly<Record<string, { readonly is: (value: unknown) => boolean; readonly must: string }>> = {
  iss: { is: isString, must: "a string" },
  sub: { is: isString, must: "a string" },
  aud: { is: (value) => isString(value) || (Array.isArray(value) && value.every(isString)), must: "a string or an array of strings" },
  exp: { is: isFiniteNumber, must: "a number" },
  nbf: { is: isFiniteNumber, must: "a number" },
  iat: { is: isFiniteNumber, must: "a number" },
  jti: { is: isString, must: "a string" },
  auth_time: { is: isFiniteNumber, must: "a number" },
  [PRINCIPAL_TYPE_CLAIM]: { is: isString, must: "a string" },
  [DEV_ADMIN_CLAIM]: { is: (value) => typeof value === "boolean", must: "a boolean" },
};

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** The unauthenticated error for the first claim of `payload` whose JSON type is wrong, if any. */
function mistypedClaim(payload: unknown): RosterError | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  for (const [claim, type] of Object.entries(claimTypes)) {
    if (Object.hasOwn(payload, claim) && !type.is((payload as Record<string, unknown>)[claim])) {
      return unauthenticated(`malformed token: ${claim} claim must be ${type.must}`);
    }
  }
  return undefined;
}

/** Verifies the authorization header of a request. */
export interface JwtVerifier {
  /**
   * Resolves to the caller, or rejects with a RosterError: unauthenticated
   * for a bad token, unavailable when the JWKS cannot be fetched.
   */
  verify(authorization: string | undefined): Promise<Caller>;
  /**
   * The caller of a token `verify` accepted before and whose exp still holds
   * (the cache of verified tokens), without a promise; undefined for any
   * other header (then `verify` decides, with its error). The same answer
   * `verify` would give, for the request pipeline's common case.
   */
  verified(authorization: string | undefined): Caller | undefined;
}

/**
 * Creates a verifier. Throws (at start-up, not per request) when no key
 * source is configured or the PEM key is unusable.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const getKey = createKeyResolver(options);
  const admins = new Set(options.admins ?? []);
  const developmentMode = options.developmentMode === true;
  const clockTolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  const cache = createVerifiedTokenCache(options.cache ?? defaultVerifiedTokenCacheOptions);
  const verifyOptions = (currentDate: Date): JWTVerifyOptions => ({
    algorithms: getKey.algorithms,
    clockTolerance,
    requiredClaims: ["exp"],
    currentDate,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    ...(options.audience === undefined ? {} : { audience: options.audience }),
  });

  const currentTime = (): Date => options.now?.() ?? new Date();
  const nowMs = options.now === undefined ? Date.now : () => currentTime().getTime();
  // The last header parsed and its token. Clients repeat one header on every
  // call, and the parse (a regular expression, then a substring the cache
  // must hash) was most of a cached token check: ~1.8 of ~2 µs per call
  // (.scratch microbenchmark, a fresh header string per call). Handing the
  // cache the same token string each time also spares the map lookup its
  // hash: V8 keeps a string's hash in the string.
  let lastHeader: string | undefined;
  let lastToken = "";
  const tokenOf = (authorization: string | undefined): string => {
    if (authorization !== undefined && authorization === lastHeader) return lastToken;
    const token = extractBearerToken(authorization);
    lastHeader = authorization;
    lastToken = token;
    return token;
  };

  return {
    verified(authorization) {
      if (authorization === undefined) return undefined;
      let token: string;
      try {
        token = tokenOf(authorization);
      } catch {
        return undefined;
      }
      return cache.get(token, nowMs());
    },
    async verify(authorization) {
      const token = tokenOf(authorization);
      const now = currentTime();
      const cached = cache.get(token, now.getTime());
      if (cached !== undefined) return cached;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey.resolve, verifyOptions(now)));
      } catch (error) {
        throw toRosterError(error);
      }
      const mistyped = mistypedClaim(payload);
      if (mistyped !== undefined) throw mistyped;
      const principal = principalOf(payload);
      const isSystemAdmin = admins.has(principal) || (developmentMode && payload[DEV_ADMIN_CLAIM] === true);
      const authTime = payload["auth_time"];
      // jose required exp and checked its type (mistypedClaim too), so it is a number here.
      const validUntil = (payload.exp ?? 0) + clockTolerance;
      const credentialExpiresAt = new Date(validUntil * 1000);
      const caller: Caller =
        typeof authTime === "number"
          ? { principal, isSystemAdmin, authTime: new Date(authTime * 1000), credentialExpiresAt }
          : { principal, isSystemAdmin, credentialExpiresAt };
      cache.set(token, caller, validUntil, now.getTime());
      return caller;
    },
  };
}

/** The token of a `Bearer <token>` header (scheme case-insensitive, RFC 7235). */
export function extractBearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === "") {
    throw unauthenticated("missing authorization header");
  }
  const match = /^\s*(\S+)(?:\s+(\S*))?\s*$/u.exec(authorization);
  if (match?.[1]?.toLowerCase() !== "bearer") throw unauthenticated("authorization header is not a Bearer token");
  const token = match[2] ?? "";
  if (token === "") throw unauthenticated("malformed token: empty Bearer token");
  return token;
}

/** The principal of a payload whose claims have their types (`mistypedClaim`). */
function principalOf(payload: JWTPayload): string {
  const sub = payload.sub;
  if (sub === undefined || sub === "") throw unauthenticated("token has no sub claim");
  if (!isValidPrincipalId(sub)) {
    throw unauthenticated("token sub claim is not a valid principal id (1-256 characters, no whitespace or control characters)");
  }
  const type = payload[PRINCIPAL_TYPE_CLAIM];
  if (type === undefined || type === "user") return `user:${sub}`;
  if (type === "service") return `service:${sub}`;
  throw unauthenticated(`token ${PRINCIPAL_TYPE_CLAIM} claim must be "user" or "service"`);
}

interface KeyResolver {
  readonly algorithms: string[];
  readonly resolve: JWTVerifyGetKey;
}

function createKeyResolver(options: JwtVerifierOptions): KeyResolver {
  const algorithms: string[] = [];
  const secret =
    options.hs256Secret === undefined || options.hs256Secret === "" ? undefined : new TextEncoder().encode(options.hs256Secret);
  if (secret !== undefined) algorithms.push("HS256");
  const pem = options.publicKeyPem === undefined || options.publicKeyPem === "" ? undefined : importPem(options.publicKeyPem);
  if (pem !== undefined) algorithms.push(pem.algorithm);
  const jwksUrl = options.jwksUrl === undefined || options.jwksUrl === "" ? undefined : new URL(options.jwksUrl);
  const jwks = jwksUrl === undefined ? undefined : createRemoteJWKSet(jwksUrl);
  if (jwks !== undefined) algorithms.push(...(["RS256", "ES256"] as const).filter((a) => !algorithms.includes(a)));
  if (algorithms.length === 0) throw new Error("JWT verifier: no key configured (HS256 secret, JWKS URL or PEM public key)");

  const resolve: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === "HS256" && secret !== undefined) return secret;
    if (pem !== undefined && header.alg === pem.algorithm) return pem.key;
    if (jwks === undefined) throw new joseErrors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
    try {
      return await jwks(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      throw unavailable("cannot fetch the JSON Web Key Set to verify the token");
    }
  };
  return { algorithms, resolve };
}

function importPem(pem: string): { key: KeyObject; algorithm: AsymmetricAlgorithm } {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error("JWT verifier: the public key is not a valid PEM public key");
  }
  if (key.asymmetricKeyType === "rsa") return { key, algorithm: "RS256" };
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return { key, algorithm: "ES256" };
  }
  throw new Error("JWT verifier: the public key must be RSA (RS256) or EC P-256 (ES256)");
}

/** Maps jose's errors to messages that say which check failed; rethrows anything else. */
function toRosterError(error: unknown): RosterError {
  if (error instanceof RosterError) return error;
  // A claim check failed on a verified payload: a mistyped claim (an issuer
  // that is a number, say) is malformed rather than merely "wrong".
  if (error instanceof joseErrors.JWTClaimValidationFailed || error instanceof joseErrors.JWTExpired) {
    const mistyped = mistypedClaim(error.payload);
    if (mistyped !== undefined) return mistyped;
  }
  if (error instanceof joseErrors.JWTExpired) {
    return unauthenticated("token expired");
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return unauthenticated(error.reason === "invalid" ? "malformed token: nbf claim must be a number" : "token not yet valid");
      case "exp":
        return unauthenticated(error.reason === "missing" ? "token has no exp claim" : "malformed token: exp claim must be a number");
      case "iss":
        return unauthenticated("wrong token issuer");
      case "aud":
        return unauthenticated("wrong token audience");
      default:
        return unauthenticated(`malformed token: bad ${error.claim} claim`);
    }
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return unauthenticated("bad token signature");
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) {
    return unauthenticated("token signing algorithm is not accepted");
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return unauthenticated("bad token signature: no matching key in the key set");
  }
  if (error instanceof joseErrors.JOSEError) return unauthenticated("malformed token");
  // Not a token problem: a bug, which must surface as INTERNAL rather than as a client error.
  throw error;
}
