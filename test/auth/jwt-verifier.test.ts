import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJwtVerifier, extractBearerToken, type JwtVerifier } from "../../src/auth/jwt-verifier.ts";
import { signHs256Token } from "../../src/auth/token-signer.ts";
import { RosterError } from "../../src/domain/errors.ts";

const secret = "test-secret-of-at-least-32-bytes-long!!";
const otherSecret = "another-secret-of-at-least-32-bytes!!!!";
const now = () => Math.floor(Date.now() / 1000);

/** Signs `claims` (exp defaults to +1 h) with HS256 and `key`. */
async function hs256(claims: Record<string, unknown>, key = secret, header: Record<string, unknown> = {}): Promise<string> {
  // An `undefined` claim (e.g. exp) is dropped by JSON serialisation: that is how "no exp" is made.
  return new SignJWT({ exp: now() + 3600, ...claims }).setProtectedHeader({ alg: "HS256", ...header }).sign(new TextEncoder().encode(key));
}

/**
 * The caller, or "<kind>: <message>" of the RosterError; checks the message
 * never contains the token. The caller is given without its
 * `credentialExpiresAt` (its token's exp plus the tolerance), which the
 * tests of that field assert with `verify` itself.
 */
async function outcome(verifier: JwtVerifier, authorization: string | undefined): Promise<unknown> {
  try {
    const { credentialExpiresAt: _expiry, ...caller } = await verifier.verify(authorization);
    return caller;
  } catch (error) {
    expect(error).toBeInstanceOf(RosterError);
    const { kind, message } = error as RosterError;
    const token = authorization?.replace(/^\S+\s+/u, "") ?? "";
    if (token.length > 0) {
      expect(message).not.toContain(token);
      for (const part of token.split(".")) if (part.length > 8) expect(message).not.toContain(part);
    }
    return `${kind}: ${message}`;
  }
}

const bearer = (token: string) => `Bearer ${token}`;

describe("HS256", () => {
  const verifier = createJwtVerifier({ hs256Secret: secret, admins: ["user:root", "service:ops"] });

  it("accepts a valid token as user:<sub>", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "alice" })))).toEqual({ principal: "user:alice", isSystemAdmin: false });
  });

  it("accepts the scheme case-insensitively and surrounding whitespace", async () => {
    const token = await hs256({ sub: "alice" });
    expect(await outcome(verifier, `bearer  ${token} `)).toEqual({ principal: "user:alice", isSystemAdmin: false });
  });

  it('maps principal_type "service" to service:<sub>', async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "ci", principal_type: "service" })))).toEqual({
      principal: "service:ci",
      isSystemAdmin: false,
    });
    expect(await outcome(verifier, bearer(await hs256({ sub: "bob", principal_type: "user" })))).toEqual({
      principal: "user:bob",
      isSystemAdmin: false,
    });
  });

  it("makes listed principals system administrators, by kind", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "root" })))).toEqual({ principal: "user:root", isSystemAdmin: true });
    expect(await outcome(verifier, bearer(await hs256({ sub: "ops", principal_type: "service" })))).toEqual({
      principal: "service:ops",
      isSystemAdmin: true,
    });
    expect(await outcome(verifier, bearer(await hs256({ sub: "ops" })))).toEqual({ principal: "user:ops", isSystemAdmin: false });
  });

  it("ignores roster_admin outside development mode", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "mallory", roster_admin: true })))).toEqual({
      principal: "user:mallory",
      isSystemAdmin: false,
    });
  });

  it("honours roster_admin: true in development mode only", async () => {
    const dev = createJwtVerifier({ hs256Secret: secret, developmentMode: true });
    expect(await outcome(dev, bearer(await hs256({ sub: "dev", roster_admin: true })))).toEqual({
      principal: "user:dev",
      isSystemAdmin: true,
    });
    expect(await outcome(dev, bearer(await hs256({ sub: "dev", roster_admin: false })))).toEqual({
      principal: "user:dev",
      isSystemAdmin: false,
    });
    expect(await outcome(dev, bearer(await hs256({ sub: "dev", roster_admin: "true" })))).toBe(
      "unauthenticated: malformed token: roster_admin claim must be a boolean",
    );
    expect(await outcome(dev, bearer(await hs256({ sub: "dev" })))).toEqual({ principal: "user:dev", isSystemAdmin: false });
  });

  it.each([
    ["an expired token", { sub: "a", exp: now() - 120 }, "unauthenticated: token expired"],
    ["a token not yet valid", { sub: "a", nbf: now() + 120 }, "unauthenticated: token not yet valid"],
    ["a token without sub", {}, "unauthenticated: token has no sub claim"],
    ["a token with an empty sub", { sub: "" }, "unauthenticated: token has no sub claim"],
    [
      "a sub with whitespace",
      { sub: "a b" },
      "unauthenticated: token sub claim is not a valid principal id (1-256 characters, no whitespace or control characters)",
    ],
    [
      "an unknown principal_type",
      { sub: "a", principal_type: "robot" },
      'unauthenticated: token principal_type claim must be "user" or "service"',
    ],
    ["a token without exp", { sub: "a", exp: undefined }, "unauthenticated: token has no exp claim"],
    ["a non-numeric exp", { sub: "a", exp: "soon" as unknown as number }, "unauthenticated: malformed token: exp claim must be a number"],
    // A correctly signed token whose claims have the wrong JSON type: the claim is named, never an internal error.
    ["a numeric sub", { sub: 42 }, "unauthenticated: malformed token: sub claim must be a string"],
    ["an array sub", { sub: ["alice"] }, "unauthenticated: malformed token: sub claim must be a string"],
    ["an object sub", { sub: { id: "alice" } }, "unauthenticated: malformed token: sub claim must be a string"],
    ["a null sub", { sub: null }, "unauthenticated: malformed token: sub claim must be a string"],
    ["a boolean sub", { sub: true }, "unauthenticated: malformed token: sub claim must be a string"],
    ["a numeric iss", { sub: "a", iss: 1 }, "unauthenticated: malformed token: iss claim must be a string"],
    ["an aud of numbers", { sub: "a", aud: [1, 2] }, "unauthenticated: malformed token: aud claim must be a string or an array of strings"],
    ["an object aud", { sub: "a", aud: { x: 1 } }, "unauthenticated: malformed token: aud claim must be a string or an array of strings"],
    ["a string nbf", { sub: "a", nbf: "now" }, "unauthenticated: malformed token: nbf claim must be a number"],
    ["a string iat", { sub: "a", iat: "now" }, "unauthenticated: malformed token: iat claim must be a number"],
    ["an array exp", { sub: "a", exp: [1] }, "unauthenticated: malformed token: exp claim must be a number"],
    ["a numeric jti", { sub: "a", jti: 7 }, "unauthenticated: malformed token: jti claim must be a string"],
    ["a string auth_time", { sub: "a", auth_time: "yesterday" }, "unauthenticated: malformed token: auth_time claim must be a number"],
    [
      "a numeric principal_type",
      { sub: "a", principal_type: 1 },
      "unauthenticated: malformed token: principal_type claim must be a string",
    ],
    ["a string roster_admin", { sub: "a", roster_admin: "yes" }, "unauthenticated: malformed token: roster_admin claim must be a boolean"],
  ])("refuses %s", async (_name, claims, expected) => {
    expect(await outcome(verifier, bearer(await hs256(claims)))).toBe(expected);
  });

  it("tolerates 30 s of clock skew on exp and nbf", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "a", exp: now() - 10 })))).toEqual({
      principal: "user:a",
      isSystemAdmin: false,
    });
    expect(await outcome(verifier, bearer(await hs256({ sub: "a", nbf: now() + 10 })))).toEqual({
      principal: "user:a",
      isSystemAdmin: false,
    });
  });

  it("gives the caller the instant its token stops being accepted: exp plus the clock tolerance", async () => {
    const exp = now() + 600;
    const caller = await verifier.verify(bearer(await hs256({ sub: "alice", exp })));
    expect(caller.credentialExpiresAt).toEqual(new Date((exp + 30) * 1000));
    const strict = createJwtVerifier({ hs256Secret: secret, clockToleranceSeconds: 0 });
    expect((await strict.verify(bearer(await hs256({ sub: "alice", exp })))).credentialExpiresAt).toEqual(new Date(exp * 1000));
  });

  it("uses the injected clock", async () => {
    const token = await hs256({ sub: "a", exp: now() + 60 });
    const later = createJwtVerifier({ hs256Secret: secret, now: () => new Date(Date.now() + 3_600_000) });
    expect(await outcome(later, bearer(token))).toBe("unauthenticated: token expired");
  });

  it("answers a repeated token only while it is valid: past exp it is refused as expired, as on first sight", async () => {
    let clock = Date.now();
    // A cache age bound longer than the test's jumps, so exp and nbf alone decide.
    const clocked = createJwtVerifier({ hs256Secret: secret, now: () => new Date(clock), cache: { maxEntries: 10, maxAgeMs: 3_600_000 } });
    const token = await hs256({ sub: "a", exp: now() + 60 });
    expect(await outcome(clocked, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
    expect(await outcome(clocked, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
    clock += 91_000; // past exp + 30 s of tolerance
    expect(await outcome(clocked, bearer(token))).toBe("unauthenticated: token expired");
    clock -= 91_000; // an expired answer is not remembered either way: back in time it verifies again
    expect(await outcome(clocked, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
  });

  it("answers verified() without a promise only for a token verify accepted, and only while verify would", async () => {
    let clock = Date.now();
    const clocked = createJwtVerifier({ hs256Secret: secret, now: () => new Date(clock), cache: { maxEntries: 10, maxAgeMs: 3_600_000 } });
    const exp = now() + 60;
    const token = await hs256({ sub: "a", exp });
    const caller = { principal: "user:a", isSystemAdmin: false, credentialExpiresAt: new Date((exp + 30) * 1000) };
    expect(clocked.verified(bearer(token))).toBeUndefined();
    expect(await outcome(clocked, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
    expect(clocked.verified(bearer(token))).toEqual(caller);
    expect(clocked.verified(`bearer  ${token} `)).toEqual(caller);
    for (const header of [undefined, "", "Basic x", "Bearer", bearer(`${token}x`)]) expect(clocked.verified(header)).toBeUndefined();
    clock += 91_000; // past exp + 30 s of tolerance
    expect(clocked.verified(bearer(token))).toBeUndefined();
    expect(await outcome(clocked, bearer(token))).toBe("unauthenticated: token expired");
  });

  it("answers each of several headers used in turn with its own caller, and a malformed one between them with its error", async () => {
    const verifier = createJwtVerifier({ hs256Secret: secret });
    const [a, b] = [await hs256({ sub: "a" }), await hs256({ sub: "b" })];
    expect(await outcome(verifier, bearer(a))).toEqual({ principal: "user:a", isSystemAdmin: false });
    expect(await outcome(verifier, bearer(b))).toEqual({ principal: "user:b", isSystemAdmin: false });
    for (let i = 0; i < 3; i++) {
      expect(verifier.verified(bearer(a))?.principal).toBe("user:a");
      expect(verifier.verified(bearer(a))?.principal).toBe("user:a");
      expect(verifier.verified(bearer(b))?.principal).toBe("user:b");
      expect(verifier.verified("Basic x")).toBeUndefined();
      expect(await outcome(verifier, "Basic x")).toBe("unauthenticated: authorization header is not a Bearer token");
      expect(await outcome(verifier, "Bearer ")).toBe("unauthenticated: malformed token: empty Bearer token");
      expect(verifier.verified(bearer(`${a}x`))).toBeUndefined();
    }
  });

  it("answers verified() with nothing for a verifier whose cache is off", async () => {
    const uncached = createJwtVerifier({ hs256Secret: secret, cache: { maxEntries: 0, maxAgeMs: 0 } });
    const token = await hs256({ sub: "a" });
    expect(await outcome(uncached, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
    expect(uncached.verified(bearer(token))).toBeUndefined();
  });

  it("refuses a token before nbf even after accepting it later (a clock set back)", async () => {
    let clock = Date.now();
    // A cache age bound longer than the test's jumps, so exp and nbf alone decide.
    const clocked = createJwtVerifier({ hs256Secret: secret, now: () => new Date(clock), cache: { maxEntries: 10, maxAgeMs: 3_600_000 } });
    const token = await hs256({ sub: "a", nbf: now() + 60 });
    clock += 60_000;
    expect(await outcome(clocked, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
    clock -= 60_000; // before nbf - 30 s
    expect(await outcome(clocked, bearer(token))).toBe("unauthenticated: token not yet valid");
  });

  it("trusts no other bytes than a verified token's: a forgery of a verified token is still refused", async () => {
    const token = await hs256({ sub: "alice" });
    expect(await outcome(verifier, bearer(token))).toEqual({ principal: "user:alice", isSystemAdmin: false });
    const [header, , signature] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "root", exp: now() + 3600 })).toString("base64url");
    expect(await outcome(verifier, bearer(`${header}.${forged}.${signature}`))).toBe("unauthenticated: bad token signature");
  });

  it("refuses a token signed with another secret", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "a" }, otherSecret)))).toBe("unauthenticated: bad token signature");
  });

  it("refuses a tampered payload", async () => {
    const [header, , signature] = (await hs256({ sub: "alice" })).split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "root", exp: now() + 3600 })).toString("base64url");
    expect(await outcome(verifier, bearer(`${header}.${forged}.${signature}`))).toBe("unauthenticated: bad token signature");
  });

  it("refuses a correctly signed payload that is not a JSON object", async () => {
    const token = await new CompactSign(new TextEncoder().encode("[1,2]"))
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(secret));
    expect(await outcome(verifier, bearer(token))).toBe("unauthenticated: malformed token");
  });

  it('refuses alg "none"', async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    const payload = Buffer.from(JSON.stringify({ sub: "root", exp: now() + 3600 })).toString("base64url");
    expect(await outcome(verifier, bearer(`${header}.${payload}.`))).toBe("unauthenticated: token signing algorithm is not accepted");
  });

  it.each([
    ["a missing header", undefined, "unauthenticated: missing authorization header"],
    ["an empty header", "", "unauthenticated: missing authorization header"],
    ["a Basic header", "Basic YWxpY2U6c2VjcmV0cGFzc3dvcmQ=", "unauthenticated: authorization header is not a Bearer token"],
    ["a bare token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlcw", "unauthenticated: authorization header is not a Bearer token"],
    ["an empty Bearer", "Bearer ", "unauthenticated: malformed token: empty Bearer token"],
    ["two tokens", "Bearer aaaaaaaaaa bbbbbbbbbb", "unauthenticated: authorization header is not a Bearer token"],
    ["a non-JWT", "Bearer not-a-jwt-at-all", "unauthenticated: malformed token"],
    ["three garbage parts", "Bearer aaaaaaaaaaa.bbbbbbbbbbb.ccccccccccc", "unauthenticated: malformed token"],
    [
      "an unsigned non-JSON payload",
      `Bearer eyJhbGciOiJIUzI1NiJ9.${Buffer.from("nope").toString("base64url")}.c2lnbmF0dXJl`,
      "unauthenticated: bad token signature",
    ],
  ])("refuses %s", async (_name, header, expected) => {
    expect(await outcome(verifier, header)).toBe(expected);
  });
});

describe("issuer and audience", () => {
  const verifier = createJwtVerifier({ hs256Secret: secret, issuer: "https://idp.example", audience: "roster" });

  it("accepts matching claims (aud as a string or in an array)", async () => {
    const ok = { principal: "user:a", isSystemAdmin: false };
    expect(await outcome(verifier, bearer(await hs256({ sub: "a", iss: "https://idp.example", aud: "roster" })))).toEqual(ok);
    expect(await outcome(verifier, bearer(await hs256({ sub: "a", iss: "https://idp.example", aud: ["x", "roster"] })))).toEqual(ok);
  });

  it.each([
    ["a wrong issuer", { sub: "a", iss: "https://evil.example", aud: "roster" }, "unauthenticated: wrong token issuer"],
    ["a missing issuer", { sub: "a", aud: "roster" }, "unauthenticated: wrong token issuer"],
    ["a wrong audience", { sub: "a", iss: "https://idp.example", aud: "other" }, "unauthenticated: wrong token audience"],
    ["a missing audience", { sub: "a", iss: "https://idp.example" }, "unauthenticated: wrong token audience"],
    [
      "an issuer of the wrong type",
      { sub: "a", iss: ["https://idp.example"], aud: "roster" },
      "unauthenticated: malformed token: iss claim must be a string",
    ],
    [
      "an audience of the wrong type",
      { sub: "a", iss: "https://idp.example", aud: 7 },
      "unauthenticated: malformed token: aud claim must be a string or an array of strings",
    ],
  ])("refuses %s", async (_name, claims, expected) => {
    expect(await outcome(verifier, bearer(await hs256(claims)))).toBe(expected);
  });

  it("checks the signature before the claims", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "a", iss: "https://evil.example" }, otherSecret)))).toBe(
      "unauthenticated: bad token signature",
    );
  });
});

describe("RS256 with a PEM public key", () => {
  let verifier: JwtVerifier;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair("RS256")).privateKey;
    verifier = createJwtVerifier({ publicKeyPem: await exportSPKI(pair.publicKey) });
  });

  const rs256 = (claims: JWTPayload, key: CryptoKey) =>
    new SignJWT({ exp: now() + 3600, ...claims }).setProtectedHeader({ alg: "RS256" }).sign(key);

  it("accepts a token signed by the matching private key", async () => {
    expect(await outcome(verifier, bearer(await rs256({ sub: "alice" }, privateKey)))).toEqual({
      principal: "user:alice",
      isSystemAdmin: false,
    });
  });

  it("refuses a token signed by another key", async () => {
    expect(await outcome(verifier, bearer(await rs256({ sub: "alice" }, otherKey)))).toBe("unauthenticated: bad token signature");
  });

  it("refuses HS256 tokens when no secret is configured (no algorithm confusion)", async () => {
    expect(await outcome(verifier, bearer(await hs256({ sub: "alice" })))).toBe("unauthenticated: token signing algorithm is not accepted");
  });

  it("refuses an ES256 token when the PEM key is RSA", async () => {
    const ecKey = (await generateKeyPair("ES256")).privateKey;
    const token = await new SignJWT({ sub: "a", exp: now() + 60 }).setProtectedHeader({ alg: "ES256" }).sign(ecKey);
    expect(await outcome(verifier, bearer(token))).toBe("unauthenticated: token signing algorithm is not accepted");
  });

  it("verifies ES256 with an EC P-256 PEM key and refuses other curves", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const ec = createJwtVerifier({ publicKeyPem: await exportSPKI(pair.publicKey) });
    const token = await new SignJWT({ sub: "a", exp: now() + 60 }).setProtectedHeader({ alg: "ES256" }).sign(pair.privateKey);
    expect(await outcome(ec, bearer(token))).toEqual({ principal: "user:a", isSystemAdmin: false });
    const p384 = await generateKeyPair("ES384", { extractable: true });
    const pem = await exportSPKI(p384.publicKey);
    expect(() => createJwtVerifier({ publicKeyPem: pem })).toThrow("JWT verifier: the public key must be RSA (RS256) or EC P-256 (ES256)");
  });

  it("refuses unusable keys at creation", () => {
    expect(() => createJwtVerifier({ publicKeyPem: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" })).toThrow(
      "JWT verifier: the public key is not a valid PEM public key",
    );
    expect(() => createJwtVerifier({})).toThrow("JWT verifier: no key configured (HS256 secret, JWKS URL or PEM public key)");
  });
});

describe("ES256 via a JWKS URL", () => {
  let server: Server;
  let jwksUrl: string;
  let signingKey: CryptoKey;
  let strangerKey: CryptoKey;
  let requests = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    signingKey = pair.privateKey;
    strangerKey = (await generateKeyPair("ES256")).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  });

  const es256 = (claims: JWTPayload, key: CryptoKey, kid = "k1") =>
    new SignJWT({ exp: now() + 3600, ...claims }).setProtectedHeader({ alg: "ES256", kid }).sign(key);

  it("accepts a token whose kid is in the key set, fetching it once", async () => {
    const verifier = createJwtVerifier({ jwksUrl, admins: ["user:alice"] });
    const before = requests;
    expect(await outcome(verifier, bearer(await es256({ sub: "alice" }, signingKey)))).toEqual({
      principal: "user:alice",
      isSystemAdmin: true,
    });
    expect(await outcome(verifier, bearer(await es256({ sub: "bob", principal_type: "service" }, signingKey)))).toEqual({
      principal: "service:bob",
      isSystemAdmin: false,
    });
    expect(requests - before).toBe(1);
  });

  it("refuses a token signed by another key under a known kid", async () => {
    const verifier = createJwtVerifier({ jwksUrl });
    expect(await outcome(verifier, bearer(await es256({ sub: "alice" }, strangerKey)))).toBe("unauthenticated: bad token signature");
  });

  it("refuses a token whose kid is unknown", async () => {
    const verifier = createJwtVerifier({ jwksUrl });
    expect(await outcome(verifier, bearer(await es256({ sub: "alice" }, strangerKey, "k2")))).toBe(
      "unauthenticated: bad token signature: no matching key in the key set",
    );
  });

  it("accepts HS256 and JWKS tokens side by side when both are configured", async () => {
    const verifier = createJwtVerifier({ jwksUrl, hs256Secret: secret });
    expect(await outcome(verifier, bearer(await hs256({ sub: "h" })))).toEqual({ principal: "user:h", isSystemAdmin: false });
    expect(await outcome(verifier, bearer(await es256({ sub: "e" }, signingKey)))).toEqual({ principal: "user:e", isSystemAdmin: false });
  });

  it("answers unavailable when the key set cannot be fetched", async () => {
    const down = createServer();
    await new Promise<void>((resolve) => down.listen(0, "127.0.0.1", resolve));
    const port = (down.address() as AddressInfo).port;
    await new Promise<void>((resolve) =>
      down.close(() => {
        resolve();
      }),
    );
    const verifier = createJwtVerifier({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` });
    expect(await outcome(verifier, bearer(await es256({ sub: "alice" }, signingKey)))).toBe(
      "unavailable: cannot fetch the JSON Web Key Set to verify the token",
    );
  });
});

describe("signHs256Token (npm run token)", () => {
  it("produces tokens the verifier accepts, with the CLI's claims", async () => {
    const dev = createJwtVerifier({ hs256Secret: secret, developmentMode: true, issuer: "iss", audience: "aud" });
    const token = await signHs256Token(
      { subject: "bot", service: true, admin: true, ttlSeconds: 60, issuer: "iss", audience: "aud" },
      secret,
    );
    expect(await outcome(dev, bearer(token))).toEqual({ principal: "service:bot", isSystemAdmin: true });
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as JWTPayload;
    expect(payload).toMatchObject({ sub: "bot", principal_type: "service", roster_admin: true, iss: "iss", aud: "aud" });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(60);
  });

  it("carries auth_time (seconds since the epoch) into the caller", async () => {
    const authTime = new Date("2030-05-06T07:08:09Z");
    const token = await signHs256Token({ subject: "a", ttlSeconds: 60, authTime }, secret);
    expect(await outcome(createJwtVerifier({ hs256Secret: secret }), bearer(token))).toEqual({
      principal: "user:a",
      isSystemAdmin: false,
      authTime,
    });
  });

  it("expires after its ttl", async () => {
    const issued = new Date(Date.now() - 2 * 3600_000);
    const token = await signHs256Token({ subject: "a", ttlSeconds: 3600, now: issued }, secret);
    expect(await outcome(createJwtVerifier({ hs256Secret: secret }), bearer(token))).toBe("unauthenticated: token expired");
  });
});

describe("extractBearerToken", () => {
  it("returns the token", () => {
    expect(extractBearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(extractBearerToken("BEARER x")).toBe("x");
  });
});
