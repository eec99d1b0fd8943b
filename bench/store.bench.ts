/**
 * `npm run bench:store`: throughput of the embedded MongoDB server, measured
 * from a separate process through the official driver.
 *
 * (a) unique-index point lookups on 10k and on 100k documents, whose rates the
 *     issue requires to be within 30% of each other (index lookups must not
 *     degrade with collection size), measured in alternating rounds;
 * (b) insertMany throughput in memory;
 * (c) the same inserts with a data directory (journal) against without.
 * A `ping` round-trip rate, measured in the same run, is the bare-protocol
 * baseline every figure is also shown against. Prints PASS/FAIL for the 30%
 * criterion; the exit code only reflects errors, not the criterion.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient, type Collection, type Db, type Document } from "mongodb";
import { spawnEmbeddedMongo, type SpawnedEmbeddedMongo } from "../test/support/spawn-embedded-mongo.ts";
import { measureThroughput, seededRandomInts, type Throughput } from "./support/measure.ts";

const concurrency = 16;
const lookups = 20_000;
const lookupWarmup = 1_000;
/** The lookups on both collections alternate in this many rounds. */
const lookupRounds = 4;
const pings = 5_000;
const pingWarmup = 1_000;
const insertTotal = 100_000;
const insertBatch = 1_000;
/** Each measured phase stops after this long, keeping the whole run near two minutes. */
const phaseBudgetMs = 20_000;
const labelWidth = 56;
const allowedLookupGap = 0.3;

const servers: SpawnedEmbeddedMongo[] = [];
const clients: MongoClient[] = [];
const tempDirs: string[] = [];

async function cleanup(): Promise<void> {
  await Promise.allSettled(clients.splice(0).map((c) => c.close(true)));
  await Promise.allSettled(servers.splice(0).map((s) => s.stop(5_000)));
  await Promise.allSettled(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

async function startServer(dataDir?: string): Promise<Db> {
  const server = await spawnEmbeddedMongo(dataDir === undefined ? {} : { dataDir });
  servers.push(server);
  const client = new MongoClient(server.uri, { maxPoolSize: concurrency, serverSelectionTimeoutMS: 10_000 });
  clients.push(client);
  await client.connect();
  return client.db("bench");
}

function lookupKey(i: number): string {
  return `member-${i.toString().padStart(7, "0")}`;
}

function memberDoc(i: number): Document {
  return { key: lookupKey(i), name: `Member ${i}`, group: i % 100, joined: new Date(1_700_000_000_000 + i * 1000), tags: ["a", "b"], note: "x".repeat(64) };
}

async function fill(coll: Collection, count: number): Promise<void> {
  for (let start = 0; start < count; start += insertBatch) {
    const n = Math.min(insertBatch, count - start);
    await coll.insertMany(Array.from({ length: n }, (_, j) => memberDoc(start + j)), { ordered: false });
  }
}

/** Ping round trips after a short warm-up, so the baseline is not measured against a cold JIT. */
async function measurePing(db: Db): Promise<Throughput> {
  const ping = async (): Promise<void> => {
    await db.command({ ping: 1 });
  };
  await measureThroughput({ total: pingWarmup, concurrency, budgetMs: phaseBudgetMs }, ping);
  return measureThroughput({ total: pings, concurrency, budgetMs: phaseBudgetMs }, ping);
}

/** Random findOne by the unique key; every answer is checked, so a wrong result aborts the run. */
function lookupOn(coll: Collection, size: number, seed: number): () => Promise<void> {
  const random = seededRandomInts(seed);
  return async () => {
    const key = lookupKey(random(size));
    const doc = await coll.findOne({ key });
    if (doc?.["key"] !== key) throw new Error(`lookup of ${key} in ${coll.collectionName} returned ${JSON.stringify(doc)}`);
  };
}

/**
 * Lookup rates on the two collections, measured in alternating rounds so that
 * load drifting on a shared machine affects both alike.
 */
async function measureLookupPair(small: Collection, big: Collection): Promise<[Throughput, Throughput]> {
  const targets = [lookupOn(small, 10_000, 1), lookupOn(big, 100_000, 2)] as const;
  for (const lookup of targets) await measureThroughput({ total: lookupWarmup, concurrency, budgetMs: phaseBudgetMs }, lookup);
  const totals = [
    { ops: 0, elapsedMs: 0, truncated: false },
    { ops: 0, elapsedMs: 0, truncated: false },
  ];
  const perRound = lookups / lookupRounds;
  for (let round = 0; round < lookupRounds; round += 1) {
    for (const [i, lookup] of targets.entries()) {
      const result = await measureThroughput({ total: perRound, concurrency, budgetMs: phaseBudgetMs / lookupRounds }, lookup);
      const total = totals[i];
      if (total === undefined) throw new Error("unreachable: two targets, two totals");
      total.ops += result.ops;
      total.elapsedMs += result.elapsedMs;
      total.truncated ||= result.truncated;
    }
  }
  const [smallTotal, bigTotal] = totals.map((t) => ({ ...t, perSecond: (t.ops * 1000) / t.elapsedMs }));
  if (smallTotal === undefined || bigTotal === undefined) throw new Error("unreachable: two totals");
  return [smallTotal, bigTotal];
}

/** insertMany of `insertTotal` documents in batches of `insertBatch`, one caller (batches in order). */
async function measureInserts(db: Db): Promise<Throughput> {
  const coll = db.collection("insert_bench");
  const batches = insertTotal / insertBatch;
  const result = await measureThroughput({ total: batches, concurrency: 1, budgetMs: phaseBudgetMs }, async (b) => {
    await coll.insertMany(Array.from({ length: insertBatch }, (_, j) => memberDoc(b * insertBatch + j)), { ordered: false });
  });
  const stored = await coll.countDocuments();
  if (stored !== result.ops * insertBatch) throw new Error(`inserted ${result.ops * insertBatch} documents but ${stored} are stored`);
  return { ...result, ops: result.ops * insertBatch, perSecond: result.perSecond * insertBatch };
}

function format(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function line(label: string, t: Throughput, unit: string, baseline: Throughput): string {
  const note = t.truncated ? `  (time budget hit after ${format(t.ops)} ${unit})` : "";
  return `${label.padEnd(labelWidth)} ${format(t.perSecond).padStart(10)} ${unit}/s   ${(t.perSecond / baseline.perSecond).toFixed(2)}× ping${note}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`store bench: embedded server in a child process, driver concurrency ${concurrency}`);

  const memory = await startServer();
  const ping = await measurePing(memory);
  console.log(`${"ping round trips (baseline)".padEnd(labelWidth)} ${format(ping.perSecond).padStart(10)} ops/s`);

  const inMemoryInserts = await measureInserts(memory);
  console.log(line(`insertMany ${format(insertTotal)} docs, batches of ${insertBatch}, in memory`, inMemoryInserts, "docs", ping));

  const dataDir = await mkdtemp(join(tmpdir(), "roster-bench-"));
  tempDirs.push(dataDir);
  const durable = await startServer(dataDir);
  const durablePing = await measurePing(durable);
  console.log(`${"ping round trips, --data-dir server (its baseline)".padEnd(labelWidth)} ${format(durablePing.perSecond).padStart(10)} ops/s`);
  const durableInserts = await measureInserts(durable);
  console.log(line(`insertMany ${format(insertTotal)} docs, with --data-dir`, durableInserts, "docs", durablePing));
  console.log(`${"  data dir / in memory insert rate".padEnd(labelWidth)} ${(durableInserts.perSecond / inMemoryInserts.perSecond).toFixed(2)}`);

  const small = memory.collection("lookup_10k");
  const big = memory.collection("lookup_100k");
  await small.createIndex({ key: 1 }, { unique: true }, undefined);
  await big.createIndex({ key: 1 }, { unique: true }, undefined);
  await fill(small, 10_000);
  await fill(big, 100_000);
  // Re-measured next to the lookups: on a shared machine the load drifts during the run.
  const lookupPing = await measurePing(memory);
  console.log(`${"ping round trips, just before the lookups".padEnd(labelWidth)} ${format(lookupPing.perSecond).padStart(10)} ops/s`);
  const [smallRate, bigRate] = await measureLookupPair(small, big);
  console.log(line("unique-index findOne, 10k docs", smallRate, "ops", lookupPing));
  console.log(line("unique-index findOne, 100k docs", bigRate, "ops", lookupPing));
  const ratio = bigRate.perSecond / smallRate.perSecond;
  const gap = 1 - Math.min(ratio, 1 / ratio);
  const verdict = gap <= allowedLookupGap ? "PASS" : "FAIL";
  console.log(`${"  100k / 10k lookup rate".padEnd(labelWidth)} ${ratio.toFixed(2)}`);
  console.log(`${verdict}: lookup rates on 10k and 100k docs within ${allowedLookupGap * 100}% of each other (gap ${(gap * 100).toFixed(1)}%)`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const onSignal = (): void => {
  void cleanup().finally(() => process.exit(130));
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

try {
  await main();
} catch (error) {
  console.error("store bench failed:", error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
