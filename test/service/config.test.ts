/** The configuration module: defaults, environment, flag overrides, and errors naming the variable. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, parseArgs, renderConfigTable, settings, splitConfigArgs } from "../../src/config.ts";
import { newPrivateKeyPem } from "../fixtures/signing-keys.ts";

let dir: string;
let certPath: string;
let keyPath: string;
let pemPath: string;
const pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "roster-config-"));
  certPath = join(dir, "cert.pem");
  keyPath = join(dir, "key.pem");
  pemPath = join(dir, "jwt.pem");
  await writeFile(certPath, "cert");
  await writeFile(keyPath, "key");
  await writeFile(pemPath, pem);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problemOf(env: Record<string, string>, argv: string[] = []): string {
  try {
    loadConfig(env, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

const secret = "s".repeat(32);

describe("group token settings", () => {
  it("reads a PEM private key, inline or from a file, and the token limits", async () => {
    const key = newPrivateKeyPem("ec");
    const keyFile = join(dir, "signing.pem");
    await writeFile(keyFile, key);
    expect(loadConfig({ ROSTER_SIGNING_KEY: key })).toMatchObject({
      signingKeyPem: key.trim(),
      signingKeyId: undefined,
      groupTokenIssuer: "roster",
      groupTokenLimits: { defaultTtlSeconds: 900, maxTtlSeconds: 3600 },
    });
    expect(loadConfig({ ROSTER_SIGNING_KEY: keyFile, ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS: "300" })).toMatchObject({
      signingKeyPem: key,
      groupTokenLimits: { defaultTtlSeconds: 300, maxTtlSeconds: 300 },
    });
  });

  it("refuses a key that cannot sign RS256 or ES256, and a default above the maximum", () => {
    expect(problemOf({ ROSTER_SIGNING_KEY: pemPath })).toBe(
      "invalid configuration:\n  ROSTER_SIGNING_KEY: must be a PEM private key (-----BEGIN PRIVATE KEY-----) or the path of a file holding one",
    );
    const ed = newPrivateKeyPem("ed25519");
    expect(problemOf({ ROSTER_SIGNING_KEY: ed })).toBe(
      "invalid configuration:\n  ROSTER_SIGNING_KEY: must be an RSA private key (RS256) or a P-256 EC private key (ES256)",
    );
    const small = newPrivateKeyPem("rsa", 1024);
    expect(problemOf({ ROSTER_SIGNING_KEY: small })).toBe(
      "invalid configuration:\n  ROSTER_SIGNING_KEY: an RSA key must have at least 2048 bits (got 1024)",
    );
    expect(problemOf({ ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS: "4000" })).toBe(
      "invalid configuration:\n  ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS: must be at most ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS (3600)",
    );
  });
});

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({}, [], { ipv6: true });
    expect(config).toMatchObject({
      mongodbUri: undefined,
      dataDir: resolve("./data"),
      hosts: ["127.0.0.1", "::1"],
      loopbackByDefault: true,
      grpcPort: 50051,
      httpPort: 8080,
      jwtKey: { kind: "development" },
      admins: [],
      creatorGroupId: undefined,
      logLevel: "info",
      corsOrigins: [],
      maxMessageBytes: 4 * 1024 * 1024,
      shutdownGraceMs: 10_000,
      grpcTls: undefined,
      httpTls: undefined,
      benchNoop: false,
    });
  });

  it.each([
    ["development mode", {}, true, ["127.0.0.1", "::1"], true],
    ["development mode", {}, false, ["127.0.0.1"], true],
    ["a configured HS256 secret", { ROSTER_JWT_SECRET: secret }, true, ["::"], false],
    ["a configured HS256 secret", { ROSTER_JWT_SECRET: secret }, false, ["0.0.0.0"], false],
    ["a configured public key", { ROSTER_JWT_PUBLIC_KEY: pem }, true, ["::"], false],
    ["ROSTER_HOST in development mode", { ROSTER_HOST: "0.0.0.0" }, true, ["0.0.0.0"], false],
    ["ROSTER_HOST with a configured key", { ROSTER_HOST: "127.0.0.1", ROSTER_JWT_SECRET: secret }, true, ["127.0.0.1"], false],
  ])("listens, with %s and IPv6 %s, on %j", (_what, env: Record<string, string>, ipv6, hosts, loopbackByDefault) => {
    expect(loadConfig(env, [], { ipv6 })).toMatchObject({ hosts, loopbackByDefault });
  });

  it("separates configuration flags from a command's own arguments (npm run token)", () => {
    expect(splitConfigArgs(["alice", "--data-dir", "/d", "--admin", "--jwt-issuer=x", "--ttl", "1h", "--log-level"])).toEqual({
      config: ["--data-dir", "/d", "--jwt-issuer=x", "--log-level"],
      rest: ["alice", "--admin", "--ttl", "1h"],
    });
    expect(problemOf({}, splitConfigArgs(["alice", "--data-dir"]).config)).toBe("--data-dir: missing value");
  });

  it("takes --host over ROSTER_HOST", () => {
    expect(loadConfig({ ROSTER_HOST: "0.0.0.0" }, ["--host", "::1"], { ipv6: true }).hosts).toEqual(["::1"]);
  });

  it("reads the environment, and command-line flags win", () => {
    const config = loadConfig(
      {
        MONGODB_URI: "mongodb://db:27017/roster",
        ROSTER_GRPC_PORT: "6000",
        ROSTER_JWT_SECRET: secret,
        ROSTER_ADMINS: "user:alice, service:ops",
        ROSTER_CREATOR_GROUP: "group:creators",
        ROSTER_CORS_ORIGINS: "https://app.example.com,http://localhost:5173",
        ROSTER_LOG_LEVEL: "DEBUG",
      },
      ["--grpc-port", "5000", "--http-port=9000", "--bench-noop", "1"],
    );
    expect(config).toMatchObject({
      mongodbUri: "mongodb://db:27017/roster",
      grpcPort: 5000,
      httpPort: 9000,
      jwtKey: { kind: "secret", secret },
      admins: ["user:alice", "service:ops"],
      creatorGroupId: "creators",
      corsOrigins: ["https://app.example.com", "http://localhost:5173"],
      logLevel: "debug",
      benchNoop: true,
    });
  });

  it("reads a PEM public key inline or from a file, and TLS file pairs", () => {
    expect(loadConfig({ ROSTER_JWT_PUBLIC_KEY: pem }).jwtKey).toEqual({ kind: "public-key", pem: pem.trim() });
    expect(loadConfig({ ROSTER_JWT_PUBLIC_KEY: pemPath }).jwtKey).toEqual({ kind: "public-key", pem });
    const config = loadConfig({ ROSTER_GRPC_TLS_CERT: certPath, ROSTER_GRPC_TLS_KEY: keyPath, ROSTER_GRPC_CLIENT_CA: certPath });
    expect(config.grpcTls).toEqual({ certPath, keyPath });
    expect(config.grpcClientCaPath).toBe(certPath);
  });

  it.each([
    { env: { ROSTER_GRPC_PORT: "abc" }, problem: 'ROSTER_GRPC_PORT: must be a whole number between 0 and 65535, got "abc"' },
    { env: { ROSTER_HTTP_PORT: "70000" }, problem: "ROSTER_HTTP_PORT: must be between 0 and 65535, got 70000" },
    { env: { MONGODB_URI: "postgres://x" }, problem: "MONGODB_URI: must start with mongodb:// or mongodb+srv://" },
    {
      env: { ROSTER_LOG_LEVEL: "loud" },
      problem: 'ROSTER_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    },
    { env: { ROSTER_ADMINS: "alice" }, problem: 'ROSTER_ADMINS: "alice" is not a user:<id> or service:<id> principal' },
    {
      env: { ROSTER_CORS_ORIGINS: "https://app.example.com/" },
      problem: /^ROSTER_CORS_ORIGINS: "https:\/\/app\.example\.com\/" is not an origin/,
    },
    { env: { ROSTER_JWKS_URL: "ftp://keys" }, problem: 'ROSTER_JWKS_URL: must be an http(s) URL, got "ftp://keys"' },
    {
      env: { ROSTER_JWT_PUBLIC_KEY: "/no/such/key.pem" },
      problem: /^ROSTER_JWT_PUBLIC_KEY: cannot read file "\/no\/such\/key\.pem": ENOENT/,
    },
    { env: { ROSTER_MAX_MESSAGE_BYTES: "10" }, problem: "ROSTER_MAX_MESSAGE_BYTES: must be between 1024 and 2147483647, got 10" },
    { env: { ROSTER_SHUTDOWN_GRACE_MS: "-1" }, problem: /^ROSTER_SHUTDOWN_GRACE_MS: must be a whole number/ },
    { env: { ROSTER_BENCH_NOOP: "maybe" }, problem: 'ROSTER_BENCH_NOOP: must be true or false, got "maybe"' },
    { env: { ROSTER_GRPC_TLS_CERT: "/nope.pem" }, problem: /^ROSTER_GRPC_TLS_CERT: cannot read file "\/nope\.pem": ENOENT/ },
  ])("refuses $env naming the variable", ({ env, problem }) => {
    const message = problemOf(env);
    const line = message.split("\n")[1]?.trim() ?? "";
    if (typeof problem === "string") expect(line).toBe(problem);
    else expect(line).toMatch(problem);
  });

  it("names the variable and the flag when a flag is wrong, and refuses unknown flags", () => {
    expect(problemOf({}, ["--grpc-port", "x"])).toContain(
      'ROSTER_GRPC_PORT (--grpc-port): must be a whole number between 0 and 65535, got "x"',
    );
    expect(problemOf({}, ["--grcp-port", "1"])).toBe("--grcp-port: unknown command-line argument (see --help)");
    expect(problemOf({}, ["--grpc-port"])).toBe("--grpc-port: missing value");
  });

  it("refuses a short HS256 secret without echoing it", () => {
    const message = problemOf({ ROSTER_JWT_SECRET: "tiny-secret-value" });
    expect(message).toContain("ROSTER_JWT_SECRET: must be at least 32 bytes for HS256 (got 17)");
    expect(message).not.toContain("tiny-secret-value");
  });

  it("checks combinations and reports every problem at once", () => {
    const message = problemOf({
      ROSTER_JWT_SECRET: secret,
      ROSTER_JWKS_URL: "https://issuer/jwks",
      ROSTER_HTTP_TLS_CERT: certPath,
      ROSTER_GRPC_CLIENT_CA: certPath,
      ROSTER_GRPC_PORT: "x",
    });
    expect(
      message
        .split("\n")
        .slice(1)
        .map((l) => l.trim()),
    ).toEqual([
      'ROSTER_GRPC_PORT: must be a whole number between 0 and 65535, got "x"',
      "ROSTER_JWT_SECRET, ROSTER_JWKS_URL: set only one way of verifying tokens",
      "ROSTER_HTTP_TLS_KEY: required when ROSTER_HTTP_TLS_CERT is set",
      "ROSTER_GRPC_CLIENT_CA: client certificates need TLS on the gRPC door (set ROSTER_GRPC_TLS_CERT and ROSTER_GRPC_TLS_KEY)",
    ]);
  });
});

describe("configuration table", () => {
  it("lists every authentication and door setting with a flag and a description", () => {
    const names = settings.map((s) => s.name);
    for (const name of [
      "MONGODB_URI",
      "ROSTER_DATA_DIR",
      "ROSTER_GRPC_PORT",
      "ROSTER_HTTP_PORT",
      "ROSTER_JWT_SECRET",
      "ROSTER_JWKS_URL",
      "ROSTER_JWT_PUBLIC_KEY",
      "ROSTER_JWT_ISSUER",
      "ROSTER_JWT_AUDIENCE",
      "ROSTER_ADMINS",
      "ROSTER_CREATOR_GROUP",
      "ROSTER_LOG_LEVEL",
      "ROSTER_CORS_ORIGINS",
      "ROSTER_MAX_MESSAGE_BYTES",
      "ROSTER_SHUTDOWN_GRACE_MS",
      "ROSTER_GRPC_TLS_CERT",
      "ROSTER_GRPC_TLS_KEY",
      "ROSTER_HTTP_TLS_CERT",
      "ROSTER_HTTP_TLS_KEY",
      "ROSTER_GRPC_CLIENT_CA",
    ]) {
      expect(names).toContain(name);
    }
    for (const s of settings) {
      expect(s.description.length).toBeGreaterThan(10);
      expect(parseArgs([s.flag, "v"])).toEqual({ [s.name]: "v" });
    }
    const table = renderConfigTable();
    expect(table.split("\n")).toHaveLength(settings.length + 2);
    expect(table).toContain("| `ROSTER_GRPC_PORT` | `--grpc-port` | `50051` |");
    expect(table).toContain("| `ROSTER_HOST` | `--host` | loopback in development mode, else all interfaces |");
  });

  it("is the README's configuration table, word for word", () => {
    const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");
    expect(readme).toContain(`\n${renderConfigTable()}\n`);
  });
});
