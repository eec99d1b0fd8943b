import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hs256SecretProblem, loadOrCreateDevSecret } from "../../src/auth/dev-key.ts";

describe("loadOrCreateDevSecret", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "roster-dev-key-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates a private random secret once and reuses it", async () => {
    const dataDir = join(dir, "nested", "data");
    const first = await loadOrCreateDevSecret(dataDir);
    expect(first).toMatchObject({ created: true, path: join(dataDir, "dev-jwt-secret") });
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.path, "utf8")).trim()).toBe(first.secret);
    expect(hs256SecretProblem(first.secret)).toBeUndefined();

    const second = await loadOrCreateDevSecret(dataDir);
    expect(second).toEqual({ ...first, created: false });
  });

  it("agrees with a concurrent creator", async () => {
    const results = await Promise.all([loadOrCreateDevSecret(dir), loadOrCreateDevSecret(dir), loadOrCreateDevSecret(dir)]);
    expect(new Set(results.map((r) => r.secret)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });
});

describe("hs256SecretProblem", () => {
  it("wants at least 32 bytes", () => {
    expect(hs256SecretProblem("short")).toBe("must be at least 32 bytes for HS256 (got 5)");
    expect(hs256SecretProblem("x".repeat(32))).toBeUndefined();
  });
});
