/**
 * `npm run token` (run in the test's process through run-token.ts, what
 * token.ts runs, and once as npm runs it, as the README writes it): it reads
 * the configuration `npm start` reads
 * (the same flags and environment, through loadConfig), so a token minted with
 * the server's flags is accepted by that server — proved end to end against a
 * real `npm start` process with another data directory — and it says clearly
 * what it cannot do: `--admin` for a server with a configured secret, any
 * token for a server verifying with public keys.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrCreateDevSecret } from "../../src/auth/dev-key.ts";
import { runToken as runTokenCommand } from "../../src/cli/run-token.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startRosterProcess, type RosterProcess } from "../fixtures/roster-npm-start-process.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";
import { captureText } from "../fixtures/text-capture.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const secret = "a-configured-secret-of-at-least-32-bytes";
const pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run token -- <args>` with only `env` in its environment, run in this process. */
async function runToken(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const out = captureText();
  const err = captureText();
  const code = await runTokenCommand(args, { ...env }, { out: out.stream, err: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** `npm run -s token -- <args>` as a process, as the README writes it. */
function runNpmToken(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "npm",
      ["run", "-s", "token", "--", ...args],
      {
        cwd: repoRoot,
        env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
        encoding: "utf8",
        timeout: 30_000,
      },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
      },
    );
  });
}

async function verifiedWith(token: string, key: string): Promise<Record<string, unknown>> {
  return (await jwtVerify(token.trim(), new TextEncoder().encode(key), { algorithms: ["HS256"] })).payload;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "roster-token-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm run token: development mode", () => {
  it.each([
    ["--data-dir DIR", (d: string) => [["alice", "--data-dir", d], {}] as const],
    ["--data-dir=DIR, before the subject", (d: string) => [[`--data-dir=${d}`, "alice"], {}] as const],
    ["ROSTER_DATA_DIR", (d: string) => [["alice"], { ROSTER_DATA_DIR: d }] as const],
    ["the flag over ROSTER_DATA_DIR", (d: string) => [["alice", "--data-dir", d], { ROSTER_DATA_DIR: join(dir, "ignored") }] as const],
  ])("signs with the development key of the data directory given by %s", async (_how, build) => {
    const dataDir = join(dir, `dev-${Math.random().toString(36).slice(2)}`);
    const [args, env] = build(dataDir);
    const run = await runToken(args, env);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(`token: created development key ${join(dataDir, "dev-jwt-secret")}\n`);
    const key = await loadOrCreateDevSecret(dataDir);
    expect(key.created).toBe(false);
    expect(await verifiedWith(run.stdout, key.secret)).toMatchObject({ sub: "alice" });
  });

  it("works as the README writes it: npm run -s token -- alice --data-dir DIR (only the token on stdout)", async () => {
    const dataDir = join(dir, "readme");
    const run = await runNpmToken(["alice", "--data-dir", dataDir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(await verifiedWith(run.stdout, (await loadOrCreateDevSecret(dataDir)).secret)).toMatchObject({ sub: "alice" });
  });

  it("adds iss and aud from ROSTER_JWT_ISSUER and --jwt-audience, and roster_admin with --admin", async () => {
    const dataDir = join(dir, "claims");
    const run = await runToken(["root", "--admin", "--data-dir", dataDir, "--jwt-audience", "roster"], {
      ROSTER_JWT_ISSUER: "https://issuer.example",
    });
    expect(run.code).toBe(0);
    expect(decodeJwt(run.stdout.trim())).toMatchObject({ sub: "root", iss: "https://issuer.example", aud: "roster", roster_admin: true });
  });

  it("refuses an invalid configuration as npm start does, naming the setting", async () => {
    const run = await runToken(["alice", "--grpc-port", "soon"], { ROSTER_DATA_DIR: join(dir, "bad") });
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr: 'token: invalid configuration:\n  ROSTER_GRPC_PORT (--grpc-port): must be a whole number between 0 and 65535, got "soon"\n',
    });
  });

  it("refuses an unknown option with its usage", async () => {
    const run = await runToken(["alice", "--data-directory", "x"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^token: unknown option --data-directory\n\nusage: npm run token -- <subject>/);
  });
});

describe("npm run token: a server with a configured key", () => {
  it("signs with ROSTER_JWT_SECRET (or --jwt-secret) and says so", async () => {
    for (const [args, env] of [
      [["alice"], { ROSTER_JWT_SECRET: secret }],
      [["alice", "--jwt-secret", secret], {}],
    ] as const) {
      const run = await runToken(args, env);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe("token: signed with the configured ROSTER_JWT_SECRET (not a development key)\n");
      expect(await verifiedWith(run.stdout, secret)).toMatchObject({ sub: "alice" });
    }
  });

  it("refuses --admin, which such a server ignores", async () => {
    const run = await runToken(["root", "--admin"], { ROSTER_JWT_SECRET: secret });
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "token: --admin: a server with ROSTER_JWT_SECRET ignores the roster_admin claim (development mode only); make the subject an administrator with ROSTER_ADMINS\n",
    });
  });

  it.each([
    ["ROSTER_JWKS_URL", { ROSTER_JWKS_URL: "https://idp.example/jwks.json" }],
    ["ROSTER_JWT_PUBLIC_KEY", { ROSTER_JWT_PUBLIC_KEY: pem }],
  ])("refuses to mint anything when the server verifies with %s", async (setting, env) => {
    const run = await runToken(["alice"], env);
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr:
        `token: ${setting} is set: the server accepts only tokens signed by your identity provider (RS256/ES256), ` +
        "and this command signs only with the development key or ROSTER_JWT_SECRET; get a token from the identity provider\n",
    });
  });
});

describe("npm start -- --data-dir DIR, then npm run token -- alice --data-dir DIR", () => {
  let mongo: TestMongo;
  let proc: RosterProcess;
  let dataDir: string;

  beforeAll(async () => {
    mongo = await startTestMongo();
    dataDir = join(dir, "server");
    // Development mode (no key), data directory given as a flag.
    proc = await startRosterProcess({ MONGODB_URI: withDatabase(mongo.uri, uniqueDbName("token_cli")), ROSTER_JWT_SECRET: "" }, 15_000, [
      "--data-dir",
      dataDir,
    ]);
  });

  afterAll(async () => {
    await proc.dispose();
    await mongo.stop();
  });

  async function listGroups(token: string): Promise<[number, unknown]> {
    const res = await fetch(`${proc.httpUrl}/roster.v1.GroupService/ListGroups`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{}",
    });
    return [res.status, await res.json()];
  }

  it("the token of the same data directory is accepted; one of another directory is not", async () => {
    const same = await runToken(["alice", "--data-dir", dataDir]);
    expect(same.code).toBe(0);
    expect(await listGroups(same.stdout.trim())).toEqual([200, {}]);

    const other = await runToken(["alice"], { ROSTER_DATA_DIR: join(dir, "elsewhere") });
    expect(await listGroups(other.stdout.trim())).toEqual([401, { code: "unauthenticated", message: "bad token signature" }]);
  });
});
