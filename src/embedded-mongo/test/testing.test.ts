/** The testing helpers (testing.ts, spawn-embedded-mongo.ts) behave as every suite relies on. */
import { describe, expect, it, vi } from "vitest";
import { MongoClient } from "mongodb";
import { spawnEmbeddedMongo, storeCliBundleVariable } from "../spawn-embedded-mongo.ts";
import { sharedTestMongoVariable, startSharedTestMongo, startTestMongo, uniqueDbName } from "../testing.ts";

describe("uniqueDbName", () => {
  it("gives distinct names that start with the prefix", () => {
    const names = Array.from({ length: 50 }, () => uniqueDbName("suite"));
    expect(new Set(names).size).toBe(50);
    for (const name of names) expect(name).toMatch(new RegExp(`^suite_${process.pid}_\\d+_[a-z0-9]{6}$`));
  });

  it("stays within MongoDB's 63-character limit and allowed characters", () => {
    const name = uniqueDbName(`a.very/long prefix$with"bad*chars<>:|?${"x".repeat(80)}`);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(uniqueDbName("")).toMatch(/^test_/);
  });
});

describe("startTestMongo", () => {
  it("returns a deployment the driver can use", async () => {
    const mongo = await startTestMongo();
    const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 10_000 });
    try {
      expect(mongo.embedded).toBe(!process.env["MONGODB_URI"]);
      expect(await client.db("admin").command({ ping: 1 })).toMatchObject({ ok: 1 });
    } finally {
      await client.close();
      await mongo.stop();
    }
  });
});

const external = (process.env["MONGODB_URI"] ?? "") !== "";

describe("startSharedTestMongo", () => {
  it.skipIf(external)(
    "starts the store startTestMongo then hands out, except to suites that need test commands (skipped with MONGODB_URI, which is the shared deployment then)",
    async () => {
      const shared = await startSharedTestMongo();
      try {
        expect(shared.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\//);
        vi.stubEnv(sharedTestMongoVariable, shared.uri ?? "");
        const mongo = await startTestMongo();
        expect(mongo).toMatchObject({ uri: shared.uri, embedded: true });
        await mongo.stop();
        const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 10_000 });
        try {
          // stop() of a suite leaves the shared store serving the others.
          expect(await client.db("admin").command({ ping: 1 })).toMatchObject({ ok: 1 });
        } finally {
          await client.close();
        }
        const own = await startTestMongo({ enableTestCommands: true });
        try {
          expect(own.uri).not.toBe(shared.uri);
        } finally {
          await own.stop();
        }
      } finally {
        vi.unstubAllEnvs();
        await shared.stop();
      }
    },
  );
});

describe("spawnEmbeddedMongo", () => {
  it("reports why the server did not start, with its stderr", async () => {
    await expect(spawnEmbeddedMongo({ port: 70_000 })).rejects.toThrow(/exited \(code 2.*--port must be an integer/s);
  });

  // Test runs set the bundle (shared-store-env.ts); without it the CLI runs through tsx's loader, as benchmarks run it.
  it.each([
    ["from the run's bundle of the CLI", process.env[storeCliBundleVariable] ?? ""],
    ["through tsx's loader", ""],
  ])("starts the CLI %s, serves requests and exits 0 on SIGTERM", { timeout: 60_000 }, async (_how, bundle) => {
    vi.stubEnv(storeCliBundleVariable, bundle);
    const server = await spawnEmbeddedMongo().finally(() => vi.unstubAllEnvs());
    expect(server.process.spawnargs.slice(1, 3)).toEqual(bundle === "" ? ["--import", "tsx"] : [bundle, "--port"]);
    const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 10_000 });
    try {
      expect(server.uri).toMatch(/^mongodb:\/\//);
      await client.db("spawn_check").collection("c").insertOne({ ok: true });
      expect(await client.db("spawn_check").collection("c").countDocuments()).toBe(1);
    } finally {
      await client.close();
    }
    expect(await server.stop()).toBe(0);
  });
});
