/**
 * Roster's own signing key, for the group tokens of IssueGroupToken: loaded
 * from ROSTER_SIGNING_KEY (an RSA key signs RS256, a P-256 EC key ES256) or,
 * in development mode, generated in memory at start (tokens issued before a
 * restart then no longer verify). Its public half is published as a JWKS on
 * the web door (`/.well-known/jwks.json`), with the key id every token
 * carries in its header, so other services verify group tokens with any JWT
 * library. Roster itself never accepts them as caller tokens: its verifier
 * knows only the keys of ROSTER_JWT_*.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from "jose";
import type { GroupTokenLimits, GroupTokenSigner } from "../domain/group-token.ts";

export type SigningAlgorithm = "RS256" | "ES256";

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly alg: SigningAlgorithm;
  /** The `kid` of tokens and of the JWKS entry. */
  readonly kid: string;
  /** The public key as published (with kid, alg, use). */
  readonly publicJwk: JWK;
}

/** A JSON Web Key Set, as served at /.well-known/jwks.json. */
export interface JsonWebKeySet {
  readonly keys: readonly JWK[];
}

/** Shortest RSA modulus accepted (NIST: 2048 bits). */
const MIN_RSA_BITS = 2048;

/**
 * The algorithm a private key signs with, or throws naming what is wrong:
 * for configuration checks at start-up (ROSTER_SIGNING_KEY).
 */
export function signingAlgorithmOf(key: KeyObject): SigningAlgorithm {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") {
    const bits = details?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new Error(`an RSA key must have at least ${MIN_RSA_BITS} bits (got ${bits})`);
    return "RS256";
  }
  if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") return "ES256";
  throw new Error("must be an RSA private key (RS256) or a P-256 EC private key (ES256)");
}

/** Parses a PEM private key (PKCS#8, or PKCS#1 / SEC1) into a SigningKey; `kid` defaults to the key's RFC 7638 thumbprint. */
export async function signingKeyFromPem(pem: string, kid?: string): Promise<SigningKey> {
  return signingKeyOf(createPrivateKey(pem), kid);
}

/** A fresh P-256 key (development mode). */
export function generateSigningKey(): Promise<SigningKey> {
  return signingKeyOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, undefined);
}

async function signingKeyOf(privateKey: KeyObject, kid: string | undefined): Promise<SigningKey> {
  const alg = signingAlgorithmOf(privateKey);
  const jwk = await exportJWK(createPublicKey(privateKey));
  const keyId = kid ?? (await calculateJwkThumbprint(jwk));
  return { privateKey, alg, kid: keyId, publicJwk: { ...jwk, kid: keyId, alg, use: "sig" } };
}

/** The JWKS publishing `key`'s public half. */
export function jwksOf(key: SigningKey): JsonWebKeySet {
  return { keys: [key.publicJwk] };
}

/** Signs group tokens with `key`: header {alg, typ: JWT, kid}; claims iss, sub, aud, iat, exp, jti. */
export function createGroupTokenSigner(key: SigningKey, issuer: string, limits: GroupTokenLimits): GroupTokenSigner {
  return {
    limits,
    sign: (claims) =>
      new SignJWT({})
        .setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid })
        .setIssuer(issuer)
        .setSubject(claims.subject)
        .setAudience(claims.audience)
        .setIssuedAt(Math.floor(claims.issuedAt.getTime() / 1000))
        .setExpirationTime(Math.floor(claims.expiresAt.getTime() / 1000))
        .setJti(claims.tokenId)
        .sign(key.privateKey),
  };
}
