/**
 * `npm run bench:batch`: adding 100,000 members to one group through the
 * BatchMemberships stream, against the same 100,000 membership documents
 * inserted with the raw driver's `insertMany` into the same store, in one
 * run, with everything in its own process:
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *        └──────────────── driver insertMany ──────────────▶ (same store)
 *
 * The stream client honours backpressure (waits for 'drain') and reads its
 * results as they come, like a well-behaved client. The baseline writes the
 * same documents (same fields, into a collection with the same indexes) in
 * batches of 1,000, unordered. The service's resident memory is sampled from
 * /proc/<pid>/status every 50 ms during the stream; the peak is reported
 * next to its resident memory before the stream.
 *
 * BENCH_BATCH_MEMBERS overrides the 100,000 (e.g. for a quick try);
 * ROSTER_BATCH_CHUNK_SIZE is passed on to the service;
 * BENCH_SERVICE_NODE_ARGS passes node flags to the service, e.g.
 * `--max-old-space-size=64` to show the stream completes with a heap far
 * smaller than its 100,000 operations would need if they were buffered.
 */
import { readFile } from "node:fs/promises";
import { MongoClient } from "mongodb";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { collectionNames, membershipToDoc } from "../src/storage/documents.ts";
import { rosterIndexes } from "../src/storage/indexes.ts";
import { addOp, openBatchStream } from "../test/batch/support/batch-client.ts";
import { createRosterClient, type RosterClient } from "../test/support/roster-client.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";

const members = Number(process.env["BENCH_BATCH_MEMBERS"] ?? "100000");
const insertBatch = 1_000;
const sampleEveryMs = 50;

/** VmRSS and VmHWM of a process, in MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? "0");
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

function member(i: number): string {
  return `user:bench-${String(i).padStart(7, "0")}`;
}

interface StreamRun {
  readonly elapsedMs: number;
  readonly rssBefore: number;
  readonly rssPeak: number;
  readonly results: number;
}

/** Streams `members` adds to `groupId`, honouring backpressure and reading results concurrently. */
async function streamAdds(client: RosterClient, token: string, groupId: string, pid: number): Promise<StreamRun> {
  const rssBefore = (await memoryOf(pid)).rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    void memoryOf(pid).then(({ rss }) => {
      rssPeak = Math.max(rssPeak, rss);
    });
  }, sampleEveryMs);
  const started = performance.now();
  try {
    const stream = openBatchStream(client.raw, token);
    const finished = stream.finish();
    for (let i = 0; i < members; i++) {
      if (!stream.send(addOp(groupId, member(i)))) await new Promise((resolve) => stream.call.once("drain", resolve));
    }
    stream.end();
    const outcome = await finished;
    const elapsedMs = performance.now() - started;
    if (outcome.code !== "OK") throw new Error(`the stream ended with ${outcome.code}: ${outcome.details}`);
    const failed = outcome.results.find((r) => r.status?.code !== 0);
    if (failed !== undefined) throw new Error(`operation ${failed.index} failed: ${failed.status?.message ?? "?"}`);
    if (outcome.results.length !== members) throw new Error(`expected ${members} results, got ${outcome.results.length}`);
    rssPeak = Math.max(rssPeak, (await memoryOf(pid)).rss);
    return { elapsedMs, rssBefore, rssPeak, results: outcome.results.length };
  } finally {
    clearInterval(sampler);
  }
}

/** The same documents through the raw driver: insertMany in batches, into a collection with Roster's membership indexes. */
async function insertManyBaseline(uri: string, defer: BenchRun["defer"]): Promise<number> {
  const client = new MongoClient(uri);
  defer(() => client.close());
  await client.connect();
  const collection = client.db("bench_baseline").collection(collectionNames.memberships);
  await collection.createIndexes([...(rosterIndexes[collectionNames.memberships] ?? [])]);
  const now = new Date();
  const started = performance.now();
  for (let start = 0; start < members; start += insertBatch) {
    const docs = [];
    for (let i = start; i < Math.min(members, start + insertBatch); i++) {
      docs.push(membershipToDoc({ groupId: "baseline", member: member(i), role: "MEMBER", createTime: now, updateTime: now, createdBy: "user:bench" }));
    }
    await collection.insertMany(docs, { ordered: false });
  }
  const elapsedMs = performance.now() - started;
  const count = await collection.countDocuments({ groupId: "baseline" });
  if (count !== members) throw new Error(`baseline stored ${count} documents, expected ${members}`);
  return elapsedMs;
}

async function main({ store, secret, startService, defer }: BenchRun): Promise<void> {
  const { grpcPort, pid } = await startService({
    mongodbUri: store.uri.replace(/\/?(\?.*)?$/, "/roster$1"),
    // The bench makes only a handful of RPCs besides the stream.
    env: process.env["ROSTER_BATCH_CHUNK_SIZE"] === undefined ? {} : { ROSTER_BATCH_CHUNK_SIZE: process.env["ROSTER_BATCH_CHUNK_SIZE"] },
  });
  const token = await signHs256Token({ subject: "bench", ttlSeconds: 3600 }, secret);
  const client = createRosterClient(`127.0.0.1:${grpcPort}`);
  defer(() => {
    client.close();
  });
  const group = await client.as(token).groups.createGroup({ group: { slug: "bench-batch", displayName: "Batch bench" } });
  const groupId = group.group?.id ?? "";

  process.stdout.write(`streaming ${members} adds to one group through BatchMemberships...\n`);
  const stream = await streamAdds(client, token, groupId, pid);
  const stored = await client.as(token).groups.getGroup({ id: groupId });
  if (stored.group?.memberCount !== members + 1) throw new Error(`member_count is ${stored.group?.memberCount}, expected ${members + 1}`);

  process.stdout.write(`inserting the same ${members} documents with insertMany (batches of ${insertBatch})...\n`);
  const baselineMs = await insertManyBaseline(store.uri, defer);

  const streamRate = (members * 1000) / stream.elapsedMs;
  const baselineRate = (members * 1000) / baselineMs;
  printTable([
    ["", "operations", "seconds", "ops/s", "vs insertMany"],
    ["BatchMemberships stream (adds, one group)", String(members), (stream.elapsedMs / 1000).toFixed(1), Math.round(streamRate).toString(), `${(streamRate / baselineRate).toFixed(2)}×`],
    [`raw driver insertMany (batches of ${insertBatch})`, String(members), (baselineMs / 1000).toFixed(1), Math.round(baselineRate).toString(), "1.00×"],
  ]);
  printTable([
    ["service memory (RSS)", "MiB"],
    ["before the stream", stream.rssBefore.toFixed(1)],
    [`peak during the stream (sampled every ${sampleEveryMs} ms)`, stream.rssPeak.toFixed(1)],
    ["growth", (stream.rssPeak - stream.rssBefore).toFixed(1)],
  ]);
  process.stdout.write(
    `\nmember_count checked: ${members + 1}. Client, service and embedded store each in their own process ` +
      `(node ${process.version}); chunks of ${process.env["ROSTER_BATCH_CHUNK_SIZE"] ?? "500"} operations, one transaction each.\n`,
  );
}

runBench("bench:batch", "roster-bench-batch-", main);
