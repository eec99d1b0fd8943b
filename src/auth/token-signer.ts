/**
 * Signs HS256 tokens in the shape the verifier expects. Used by
 * `npm run token` (development) and by tests that need real tokens.
 */
import { SignJWT } from "jose";
import { DEV_ADMIN_CLAIM, PRINCIPAL_TYPE_CLAIM } from "./jwt-verifier.ts";

/** What to put in a token. */
export interface TokenClaims {
  /** The `sub` claim: the principal id without its `user:` / `service:` prefix. */
  readonly subject: string;
  /** Adds `principal_type: "service"`. */
  readonly service?: boolean;
  /** Adds `roster_admin: true` (honoured only by a verifier in development mode). */
  readonly admin?: boolean;
  /** Lifetime in seconds from `now`. */
  readonly ttlSeconds: number;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** Issue time (default: the current time). */
  readonly now?: Date;
  /** The `auth_time` claim: when the subject authenticated (high-assurance groups check it). */
  readonly authTime?: Date;
}

/** Signs an HS256 token with `secret` (its UTF-8 bytes are the key). */
export async function signHs256Token(claims: TokenClaims, secret: string): Promise<string> {
  const now = claims.now ?? new Date();
  const iat = Math.floor(now.getTime() / 1000);
  const payload: Record<string, unknown> = {};
  if (claims.service === true) payload[PRINCIPAL_TYPE_CLAIM] = "service";
  if (claims.admin === true) payload[DEV_ADMIN_CLAIM] = true;
  if (claims.authTime !== undefined) payload["auth_time"] = Math.floor(claims.authTime.getTime() / 1000);
  let jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.subject)
    .setIssuedAt(iat)
    .setExpirationTime(iat + claims.ttlSeconds);
  if (claims.issuer !== undefined && claims.issuer !== "") jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience !== undefined && claims.audience !== "") jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
