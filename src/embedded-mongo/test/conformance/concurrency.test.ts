/**
 * Single-document atomicity under concurrent clients: no lost updates, and
 * findOneAndUpdate hands out each intermediate value exactly once, upserts on
 * a unique key never duplicate, and concurrent transactions conserve totals.
 */
import { describe, expect, it } from "vitest";
import type { Collection, MongoClient } from "mongodb";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("concurrency");
const clientCount = 4;
const perClient = 200;
/** Operations each client keeps in flight, so requests interleave on the server. */
const inFlight = 8;
/** Hundreds of round trips on a shared 2-core machine: generous, but bounded. */
const timeout = 60_000;

async function clients(): Promise<MongoClient[]> {
  return Promise.all(Array.from({ length: clientCount }, () => ctx().newClient({ maxPoolSize: inFlight })));
}

function collectionOn(client: MongoClient, name: string): Collection<TestDoc> {
  return client.db(ctx().db.databaseName).collection<TestDoc>(name);
}

/** Runs `total` calls of `op` with `inFlight` of them running at a time. */
async function runConcurrently(total: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next;
        next += 1;
        await op(i);
      }
    }),
  );
}

describe("atomic single-document updates", () => {
  it(`${clientCount} clients × ${perClient} concurrent $inc on one document lose nothing`, { timeout }, async () => {
    await ctx().db.collection<TestDoc>("counter").insertOne({ _id: "c", n: 0, perClient: {} });
    const all = await clients();
    await Promise.all(
      all.map((client, c) =>
        runConcurrently(perClient, async () => {
          const result = await collectionOn(client, "counter").updateOne({ _id: "c" }, { $inc: { n: 1, [`perClient.c${c}`]: 1 } });
          expect(result.modifiedCount).toBe(1);
        }),
      ),
    );
    const doc = await ctx().db.collection<TestDoc>("counter").findOne({ _id: "c" });
    expect(doc?.["n"]).toBe(clientCount * perClient);
    expect(doc?.["perClient"]).toEqual(Object.fromEntries(all.map((_, c) => [`c${c}`, perClient])));
  });

  it("concurrent findOneAndUpdate $inc returns every value exactly once (after and before images)", { timeout }, async () => {
    await ctx().db.collection<TestDoc>("ticket").insertOne({ _id: "t", n: 0 });
    const all = await clients();
    const afterValues: number[] = [];
    const beforeValues: number[] = [];
    await Promise.all(
      all.map((client, c) =>
        runConcurrently(50, async (i) => {
          const returnDocument = (c + i) % 2 === 0 ? "after" : "before";
          const doc = await collectionOn(client, "ticket").findOneAndUpdate({ _id: "t" }, { $inc: { n: 1 } }, { returnDocument });
          const n = doc?.["n"] as number;
          (returnDocument === "after" ? afterValues : beforeValues).push(n);
        }),
      ),
    );
    const total = clientCount * 50;
    // Each increment moved n from k to k+1 for a distinct k: before-images report k, after-images k+1.
    const steps = [...beforeValues, ...afterValues.map((v) => v - 1)].sort((a, b) => a - b);
    expect(steps).toEqual(Array.from({ length: total }, (_, k) => k));
    expect((await ctx().db.collection<TestDoc>("ticket").findOne({ _id: "t" }))?.["n"]).toBe(total);
  });

  it("concurrent upserts on a unique key create one document and count every call", { timeout }, async () => {
    const coll = ctx().db.collection<TestDoc>("upserts");
    await coll.createIndex({ k: 1 }, { unique: true }, undefined);
    const all = await clients();
    await Promise.all(
      all.map((client) =>
        runConcurrently(25, async () => {
          await collectionOn(client, "upserts").updateOne({ k: "only" }, { $inc: { n: 1 } }, { upsert: true });
        }),
      ),
    );
    const docs = await coll.find({}, { projection: { _id: 0 } }).toArray();
    expect(docs).toEqual([{ k: "only", n: clientCount * 25 }]);
  });

  it("concurrent inserts from several clients all land", { timeout }, async () => {
    const all = await clients();
    await Promise.all(
      all.map((client, c) =>
        runConcurrently(50, async (i) => {
          await collectionOn(client, "inserts").insertOne({ _id: `${c}-${i}` });
        }),
      ),
    );
    expect(await ctx().db.collection<TestDoc>("inserts").countDocuments()).toBe(clientCount * 50);
  });

  it("concurrent withTransaction transfers between accounts conserve the total", { timeout }, async () => {
    const accounts = 5;
    const perClientTransfers = 25;
    await ctx()
      .db.collection<TestDoc>("accounts")
      .insertMany(Array.from({ length: accounts }, (_, i) => ({ _id: i, balance: 1000 })));
    const all = await clients();
    let attempts = 0;
    await Promise.all(
      all.map((client, c) =>
        runConcurrently(perClientTransfers, async (i) => {
          const from = (c + i) % accounts;
          const to = (c + 2 * i + 1) % accounts;
          if (from === to) return;
          const coll = collectionOn(client, "accounts");
          const session = client.startSession();
          try {
            await session.withTransaction(async () => {
              attempts += 1;
              await coll.updateOne({ _id: from }, { $inc: { balance: -7 } }, { session });
              await coll.updateOne({ _id: to }, { $inc: { balance: 7 } }, { session });
            });
          } finally {
            await session.endSession();
          }
        }),
      ),
    );
    const docs = await ctx().db.collection<TestDoc>("accounts").find().toArray();
    const total = docs.reduce((sum, d) => sum + (d["balance"] as number), 0);
    expect(total).toBe(accounts * 1000);
    expect(attempts).toBeGreaterThan(0);
  });
});
