/**
 * `npm run bench:batch`: adding 100,000 members to one group through the
 * BatchMemberships stream, and with the `roster import` command from a CSV
 * file, against the same 100,000 membership documents inserted with the raw
 * driver's `insertMany`, in one run, with everything in its own process:
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *   `roster import` ─gRPC─▶        (a store and a service for each run)
 *        └──────────────── driver insertMany ──────────────▶ (a store of its own)
 *
 * The stream client honours backpressure (waits for 'drain') and reads its
 * results as they come, like a well-behaved client. The command
 * (`node src/cli/roster/bin.mjs import <group> members.csv`) is timed from its start
 * to its exit, so its cost over the raw stream is all of its own: start-up,
 * the first pass that counts the rows, CSV parsing, progress, the report;
 * the budget is 10% more time. Stream and command run twice each (stream,
 * command, command, stream), every run on a fresh store and service warmed
 * up with 5,000 unmeasured adds; next to the times, the CPU seconds the
 * service and the client (this process, or the command's) spent, which the
 * machine's other load disturbs less than the times; each run's service and
 * store are stopped when it ends, so no idle one loads the runs after it.
 * Positions matter: run with the tree before the read model (where both
 * modes run the same code), runs 1 and 6 (the "model on" positions) cost the
 * service 0.3-0.9 s and the store 0-1.6 s more CPU than runs 2 and 5, so a
 * mode is best compared with the same positions run by another tree (this
 * file runs unchanged there). The baseline writes the same documents (same
 * fields, into a collection with the same indexes) in batches of 1,000,
 * unordered. The service's resident memory is sampled from /proc/<pid>/status
 * every 50 ms during the first stream, the command's likewise.
 *
 * Writes with the read model on and off (ROSTER_READ_MODEL: the model
 * follows the store's change stream in the service's own process, and a
 * process's reads after its own write wait for the model to apply it, so
 * whether that costs writes anything is measured, not assumed): the stream
 * is run twice more with the model off (on, off, off, on in all, with the
 * commands between), and the unary write RPCs — CreateGroup, AddMember,
 * RemoveMember — are timed on a fresh store and service per mode (on, off,
 * off, on): BENCH_UNARY_WRITES sequential calls each (300), then the same
 * number again from BENCH_UNARY_CALLERS concurrent callers (8).
 *
 * What the model's reading of the changes costs per event, apart from the
 * rest of the service and next to what any reader of the same events pays
 * the driver: BENCH_FEED_EVENTS adds (20,000),
 * committed 500 per transaction into a store of its own (each ended as
 * Roster's transactions end, by a flagged history record, which both readers
 * read: src/storage/transaction-end.ts), are read by this
 * process after each commit, with Roster's graph feed (the model's reader)
 * and, alternating, with a bare driver ChangeStream (the baseline); the CPU
 * µs per event of this process and of the store while reading, five rounds
 * each after one unmeasured, and their median.
 *
 * BENCH_BATCH_MEMBERS overrides the 100,000 (e.g. for a quick try);
 * ROSTER_BATCH_CHUNK_SIZE is passed on to the service;
 * BENCH_SERVICE_NODE_ARGS passes node flags to the service, e.g.
 * `--max-old-space-size=64` to show the stream completes with a heap far
 * smaller than its 100,000 operations would need if they were buffered.
 */
import { readFile } from "node:fs/promises";
import { MongoClient, type ChangeStreamDocument } from "mongodb";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { membershipChangeDraft, type ChangeOrigin } from "../src/domain/change-record.ts";
import type { MembershipRecord } from "../src/domain/model.ts";
import { timestampOf } from "../src/storage/cluster-time.ts";
import { closeDatabase, connectDatabase, createDatabase, type Database } from "../src/storage/database.ts";
import { collectionNames, membershipToDoc } from "../src/storage/documents.ts";
import { openGraphFeed } from "../src/storage/graph-changes.ts";
import { loadGraphSnapshot } from "../src/storage/graph-snapshot.ts";
import { createHistoryStore } from "../src/storage/history-store.ts";
import { rosterIndexes } from "../src/storage/indexes.ts";
import { operationOptions } from "../src/storage/store-call.ts";
import { runTransaction } from "../src/storage/transaction.ts";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addOp, openBatchStream } from "../test/fixtures/batch-stream-client.ts";
import { startRosterCommand } from "../test/fixtures/roster-command-process.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { median, percentile } from "./support/measure.ts";

const members = Number(process.env["BENCH_BATCH_MEMBERS"] ?? "100000");
const insertBatch = 1_000;
const warmUpMembers = 5_000;
const sampleEveryMs = 50;
const unaryWrites = Number(process.env["BENCH_UNARY_WRITES"] ?? "300");
const unaryCallers = Number(process.env["BENCH_UNARY_CALLERS"] ?? "8");
const feedEvents = Number(process.env["BENCH_FEED_EVENTS"] ?? "20000");
/** Rounds of each reader, after one unmeasured round each; the readers alternate. */
const feedRounds = 5;
/** Adds per transaction, as the service commits a BatchMemberships chunk. */
const feedChunk = 500;

/** The service's read model setting of a run. */
type ReadModelMode = "on" | "off";

/** VmRSS and VmHWM of a process, in MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? "0");
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

/** Who the feed rounds' writes are recorded as made by. */
const benchOrigin: ChangeOrigin = { actor: "user:bench", requestId: "", method: "", reason: "" };

function member(i: number): string {
  return `user:bench-${String(i).padStart(7, "0")}`;
}

/**
 * CPU seconds (user + system) a process has used so far, from
 * /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
 */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface StreamRun {
  readonly elapsedMs: number;
  /** CPU seconds this process spent on the stream. */
  readonly clientCpu: number;
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
  const cpuBefore = process.cpuUsage();
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
    const cpu = process.cpuUsage(cpuBefore);
    return { elapsedMs, clientCpu: (cpu.user + cpu.system) / 1e6, rssBefore, rssPeak, results: outcome.results.length };
  } finally {
    clearInterval(sampler);
  }
}

interface CommandImport {
  readonly elapsedMs: number;
  /** CPU seconds of the command's process, as last sampled (at most 50 ms before it exited). */
  readonly clientCpu: number;
  readonly rssPeak: number;
}

/** `roster import <group> <file> -q` as its own process, timed from spawn to exit; its peak RSS sampled like the service's. */
async function commandImport(grpcPort: number, token: string, groupId: string, file: string): Promise<CommandImport> {
  const started = performance.now();
  const running = startRosterCommand(["import", groupId, file, "-q", "--json"], {
    ROSTER_ADDR: `127.0.0.1:${grpcPort}`,
    ROSTER_TOKEN: token,
    ROSTER_PLAINTEXT: "true",
  });
  let rssPeak = 0;
  let clientCpu = 0;
  const pid = running.child.pid ?? 0;
  const sampler = setInterval(() => {
    void Promise.all([memoryOf(pid), cpuSecondsOf(pid)]).then(
      ([{ hwm }, cpu]) => {
        rssPeak = Math.max(rssPeak, hwm);
        clientCpu = Math.max(clientCpu, cpu);
      },
      () => undefined,
    );
  }, sampleEveryMs);
  try {
    const result = await running.done;
    const elapsedMs = performance.now() - started;
    if (result.code !== 0) throw new Error(`roster import exited with ${result.code ?? "?"}: ${result.stderr}${result.stdout}`);
    const summary = JSON.parse(result.stdout) as { done: number; failed: number };
    if (summary.done !== members || summary.failed !== 0) throw new Error(`roster import: ${result.stdout}`);
    return { elapsedMs, clientCpu, rssPeak };
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
      docs.push(
        membershipToDoc({
          groupId: "baseline",
          member: member(i),
          role: "MEMBER",
          createTime: now,
          updateTime: now,
          createdBy: "user:bench",
        }),
      );
    }
    await collection.insertMany(docs, { ordered: false });
  }
  const elapsedMs = performance.now() - started;
  const count = await collection.countDocuments({ groupId: "baseline" });
  if (count !== members) throw new Error(`baseline stored ${count} documents, expected ${members}`);
  return elapsedMs;
}

/** Which reader follows the store's changes in a feed round. */
type FeedReader = "graph feed" | "driver ChangeStream";

/** A reader of the changes committed after `after`: `drain(n)` returns once it has read n more. */
interface ChangeReader {
  drain(count: number): Promise<void>;
  close(): Promise<void>;
}

function openReader(reader: FeedReader, database: Database, after: bigint): ChangeReader {
  if (reader === "graph feed") {
    // As the read model opens it (its stream of an idle second is beside the point here).
    const feed = openGraphFeed(database, after, { maxAwaitMs: 1_000, groupBefore: () => undefined });
    return {
      async drain(count) {
        for (let read = 0; read < count; ) read += (await feed.next()).changes.length;
      },
      close: () => feed.close(),
    };
  }
  // The plainest consumer: every event of the database, whole, nothing done with it (a chunk's end mark too).
  const stream = database.db.watch<ChangeStreamDocument>([], { startAtOperationTime: timestampOf(after + 1n), maxAwaitTimeMS: 1_000 });
  return {
    async drain(count) {
      for (let read = 0; read < count + 1; ) if ((await stream.tryNext()) !== null) read += 1;
    },
    close: () => stream.close(),
  };
}

interface FeedFigures {
  /** CPU µs of this process per event read, per measured round. */
  readonly readerUs: number[];
  /** CPU µs of the store per event, while the reader read, per measured round. */
  readonly storeUs: number[];
}

/**
 * What following the store's changes costs per event, the read model's
 * share of a write: `feedEvents` adds committed `feedChunk` per transaction
 * (as the service commits a BatchMemberships chunk) into a store of its own,
 * read after each commit by this process, with Roster's graph feed (the
 * read model's reader: its pipeline, the driver's decoding, the conversion
 * to changes) and, alternating, with a bare driver ChangeStream on the same
 * database (the baseline). Only the reading is timed: the CPU of this
 * process (nothing else runs in it meanwhile) and of the store while each
 * chunk's events are read.
 */
async function measureFeed(run: BenchRun): Promise<Record<FeedReader, FeedFigures>> {
  const feedStore = await run.startStore();
  const database = createDatabase(feedStore.uri.replace(/\/?(\?.*)?$/, "/roster$1"), {
    appName: "bench-feed",
    serverSelectionTimeoutMs: 10_000,
  });
  run.defer(() => closeDatabase(database));
  await connectDatabase(database);
  const collection = database.db.collection(collectionNames.memberships);
  const history = createHistoryStore(database);
  await collection.createIndexes([...(rosterIndexes[collectionNames.memberships] ?? [])]);
  const storePid = feedStore.process.pid ?? 0;
  const figures: Record<FeedReader, FeedFigures> = {
    "graph feed": { readerUs: [], storeUs: [] },
    "driver ChangeStream": { readerUs: [], storeUs: [] },
  };
  let added = 0;
  for (let round = 0; round < 2 * (feedRounds + 1); round++) {
    const reader: FeedReader = round % 2 === 0 ? "graph feed" : "driver ChangeStream";
    const changes = openReader(reader, database, (await loadGraphSnapshot(database)).time);
    let readerUs = 0;
    let storeUs = 0;
    for (let start = 0; start < feedEvents; start += feedChunk) {
      const now = new Date();
      const memberships = Array.from(
        { length: Math.min(feedChunk, feedEvents - start) },
        (): MembershipRecord => ({
          groupId: "feed",
          member: member(added++),
          role: "MEMBER",
          createTime: now,
          updateTime: now,
          createdBy: "user:bench",
        }),
      );
      const docs = memberships.map(membershipToDoc);
      // Ended as Roster ends a transaction (transaction-end.ts): by its last history record, which both readers read.
      const last = memberships.at(-1);
      const mark =
        last &&
        membershipChangeDraft(
          { effect: "added", groupId: "feed", member: last.member, before: undefined, after: last },
          "",
          benchOrigin,
          now,
        );
      await runTransaction(database, {}, async (tx) => {
        await collection.insertMany(docs, operationOptions(tx));
        await history.append(mark === undefined ? [] : [mark], tx);
      });
      const storeBefore = await cpuSecondsOf(storePid);
      const before = process.cpuUsage();
      await changes.drain(docs.length);
      const cpu = process.cpuUsage(before);
      readerUs += cpu.user + cpu.system;
      storeUs += ((await cpuSecondsOf(storePid)) - storeBefore) * 1e6;
    }
    await changes.close();
    // The first round of each reader warms it up.
    if (round >= 2) {
      figures[reader].readerUs.push(readerUs / feedEvents);
      figures[reader].storeUs.push(storeUs / feedEvents);
    }
  }
  return figures;
}

/** A store and a service of its own with the read model `mode`, serving once returned (its model loaded when on). */
async function startRun(
  { startService, startStore, defer }: BenchRun,
  mode: ReadModelMode,
): Promise<{ client: RosterClient; grpcPort: number; pid: number; storePid: number; stop: () => Promise<void> }> {
  const runStore = await startStore();
  const service = await startService({
    mongodbUri: runStore.uri.replace(/\/?(\?.*)?$/, "/roster$1"),
    // The bench makes only a handful of RPCs besides the stream.
    env: {
      ROSTER_READ_MODEL: mode === "on" ? "true" : "false",
      ...(process.env["ROSTER_BATCH_CHUNK_SIZE"] === undefined ? {} : { ROSTER_BATCH_CHUNK_SIZE: process.env["ROSTER_BATCH_CHUNK_SIZE"] }),
    },
    webDoor: true,
  });
  if (mode === "on") {
    for (;;) {
      const text = await fetch(`${service.httpUrl}/metrics`).then((res) => res.text());
      // A service without a read model (an older tree run with this bench) has no such gauge: it serves at once.
      if (/^roster_read_model_serving 1$/m.test(text) || !/^roster_read_model_serving /m.test(text)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const client = createRosterClient(`127.0.0.1:${service.grpcPort}`);
  defer(() => {
    client.close();
  });
  // A run's service and store are stopped once it is measured: left idle, they would still load the later runs (an idle
  // read model asks its store for changes every second; every service and store keeps its timers), and more so the later the run.
  const stop = async (): Promise<void> => {
    client.close();
    await service.stop();
    await runStore.stop();
  };
  return { client, grpcPort: service.grpcPort, pid: service.pid, storePid: runStore.process.pid ?? 0, stop };
}

/** Latencies of `count` calls of `op(i)` from `callers` concurrent callers, and their rate. */
async function timeCalls(
  count: number,
  callers: number,
  op: (i: number) => Promise<unknown>,
): Promise<{ sorted: number[]; perSecond: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - started;
  return { sorted: latencies.sort((a, b) => a - b), perSecond: (count * 1000) / elapsed };
}

const unaryOperations = ["CreateGroup", "AddMember", "RemoveMember"] as const;
type UnaryFigures = Record<`${(typeof unaryOperations)[number]} ${"sequential" | "concurrent"}`, { sorted: number[]; perSecond: number }>;

/** CreateGroup, AddMember and RemoveMember, sequential and then concurrent (see the module comment). */
async function timeUnaryWrites(client: RosterClient, token: string): Promise<UnaryFigures> {
  const as = client.as(token);
  const figures: Partial<UnaryFigures> = {};
  for (const [how, callers] of [
    ["sequential", 1],
    ["concurrent", unaryCallers],
  ] as const) {
    const groupId = (await as.groups.createGroup({ group: { slug: `unary-${how}`, displayName: "Unary writes" } })).group?.id ?? "";
    figures[`CreateGroup ${how}`] = await timeCalls(unaryWrites, callers, (i) =>
      as.groups.createGroup({ group: { slug: `unary-${how}-${i}`, displayName: "Unary write" } }),
    );
    figures[`AddMember ${how}`] = await timeCalls(unaryWrites, callers, (i) => as.memberships.addMember({ groupId, member: member(i) }));
    figures[`RemoveMember ${how}`] = await timeCalls(unaryWrites, callers, (i) =>
      as.memberships.removeMember({ groupId, member: member(i) }),
    );
  }
  return figures as UnaryFigures;
}

async function main(run: BenchRun): Promise<void> {
  const { store, secret, defer, dataDir } = run;
  const token = await signHs256Token({ subject: "bench", ttlSeconds: 3600 }, secret);
  const file = join(dataDir, "members.csv");
  await writeFile(file, `member\n${Array.from({ length: members }, (_, i) => member(i)).join("\n")}\n`);

  // Unary writes first, model on, off, off, on, each run on a fresh store and service.
  const unary: { mode: ReadModelMode; figures: UnaryFigures }[] = [];
  for (const mode of ["on", "off", "off", "on"] as const) {
    process.stdout.write(
      `unary writes, read model ${mode}: ${unaryWrites} sequential calls of each, then from ${unaryCallers} callers...\n`,
    );
    const { client, stop } = await startRun(run, mode);
    unary.push({ mode, figures: await timeUnaryWrites(client, token) });
    await stop();
  }

  // Stream, command, command, stream — and the stream twice with the model
  // off — each on a store and service of its own started for it, warmed up
  // by a short unmeasured stream: every run starts from the same state. (On
  // one store, the runs after the first would find it fuller, and the one
  // whose writes cross 64 MiB of journal would also pay for the snapshot of
  // everything the store then writes.)
  const streams: (StreamRun & { readonly serviceCpu: number; readonly storeCpu: number; readonly mode: ReadModelMode })[] = [];
  const commands: (CommandImport & { readonly serviceCpu: number })[] = [];
  const runsInOrder = [
    { what: "stream", mode: "on" },
    { what: "stream", mode: "off" },
    { what: "command", mode: "on" },
    { what: "command", mode: "on" },
    { what: "stream", mode: "off" },
    { what: "stream", mode: "on" },
  ] as const;
  for (const { what, mode } of runsInOrder) {
    const { client, grpcPort, pid, storePid, stop } = await startRun(run, mode);
    const newGroup = async (slug: string): Promise<string> => {
      const created = await client.as(token).groups.createGroup({ group: { slug, displayName: "Batch bench" } });
      return created.group?.id ?? "";
    };
    const warmUp = openBatchStream(client.raw, token);
    const warmed = warmUp.finish();
    const warmUpGroup = await newGroup("warm-up");
    for (let i = 0; i < warmUpMembers; i++) warmUp.send(addOp(warmUpGroup, member(i)));
    warmUp.end();
    if ((await warmed).code !== "OK") throw new Error("the warm-up stream failed");

    const groupId = await newGroup("bench-batch");
    const serviceCpuBefore = await cpuSecondsOf(pid);
    const storeCpuBefore = await cpuSecondsOf(storePid);
    if (what === "stream") {
      process.stdout.write(`streaming ${members} adds to one group through BatchMemberships (read model ${mode})...\n`);
      const streamed = await streamAdds(client, token, groupId, pid);
      streams.push({
        ...streamed,
        mode,
        serviceCpu: (await cpuSecondsOf(pid)) - serviceCpuBefore,
        storeCpu: (await cpuSecondsOf(storePid)) - storeCpuBefore,
      });
    } else {
      process.stdout.write(`importing the same ${members} members from a CSV file with \`roster import\`...\n`);
      const imported = await commandImport(grpcPort, token, groupId, file);
      commands.push({ ...imported, serviceCpu: (await cpuSecondsOf(pid)) - serviceCpuBefore });
    }
    const stored = await client.as(token).groups.getGroup({ id: groupId });
    if (stored.group?.memberCount !== members + 1) throw new Error(`member_count is ${stored.group?.memberCount}, expected ${members + 1}`);
    await stop();
  }

  process.stdout.write(`inserting the same ${members} documents with insertMany (batches of ${insertBatch})...\n`);
  const baselineMs = await insertManyBaseline(store.uri, defer);
  process.stdout.write(
    `reading ${feedEvents} adds (transactions of ${feedChunk}) from a store's change stream, ${feedRounds + 1} rounds per reader...\n`,
  );
  const feed = await measureFeed(run);

  const streamsOn = streams.filter((run) => run.mode === "on");
  const streamsOff = streams.filter((run) => run.mode === "off");
  const meanMs = (list: readonly { elapsedMs: number }[]): number => list.reduce((sum, run) => sum + run.elapsedMs, 0) / list.length;
  const streamMs = meanMs(streamsOn);
  const streamOffMs = meanMs(streamsOff);
  const commandMs = meanMs(commands);
  const rate = (ms: number): number => (members * 1000) / ms;
  const runs = (list: readonly { elapsedMs: number }[]): string => list.map((run) => (run.elapsedMs / 1000).toFixed(1)).join(", ");
  const meanOf = (list: readonly { serviceCpu: number; clientCpu: number }[], key: "serviceCpu" | "clientCpu"): string =>
    (list.reduce((sum, run) => sum + run[key], 0) / list.length).toFixed(1);
  const stream = streamsOn[0] ?? { elapsedMs: 0, rssBefore: 0, rssPeak: 0, results: 0 };
  printTable([
    ["", "operations", "runs (s)", "mean (s)", "ops/s", "vs insertMany", "time vs stream", "service CPU (s)", "client CPU (s)"],
    [
      "BatchMemberships stream (adds, one group)",
      String(members),
      runs(streamsOn),
      (streamMs / 1000).toFixed(1),
      Math.round(rate(streamMs)).toString(),
      `${(rate(streamMs) / rate(baselineMs)).toFixed(2)}×`,
      "1.00×",
      meanOf(streamsOn, "serviceCpu"),
      meanOf(streamsOn, "clientCpu"),
    ],
    [
      "the same stream, read model off",
      String(members),
      runs(streamsOff),
      (streamOffMs / 1000).toFixed(1),
      Math.round(rate(streamOffMs)).toString(),
      `${(rate(streamOffMs) / rate(baselineMs)).toFixed(2)}×`,
      `${(streamOffMs / streamMs).toFixed(2)}×`,
      meanOf(streamsOff, "serviceCpu"),
      meanOf(streamsOff, "clientCpu"),
    ],
    [
      "`roster import` of a CSV file (own process, start to exit)",
      String(members),
      runs(commands),
      (commandMs / 1000).toFixed(1),
      Math.round(rate(commandMs)).toString(),
      `${(rate(commandMs) / rate(baselineMs)).toFixed(2)}×`,
      `${(commandMs / streamMs).toFixed(2)}×`,
      meanOf(commands, "serviceCpu"),
      meanOf(commands, "clientCpu"),
    ],
    [
      `raw driver insertMany (batches of ${insertBatch})`,
      String(members),
      (baselineMs / 1000).toFixed(1),
      (baselineMs / 1000).toFixed(1),
      Math.round(rate(baselineMs)).toString(),
      "1.00×",
      "",
      "",
      "",
    ],
  ]);
  const storeCpuOf = (list: readonly { storeCpu: number }[]): string => list.map((r) => r.storeCpu.toFixed(1)).join(", ");
  printTable([
    ["BatchMemberships stream: CPU seconds per run", "service, model on", "service, model off", "store, model on", "store, model off"],
    [
      `${members} adds`,
      streamsOn.map((r) => r.serviceCpu.toFixed(1)).join(", "),
      streamsOff.map((r) => r.serviceCpu.toFixed(1)).join(", "),
      storeCpuOf(streamsOn),
      storeCpuOf(streamsOff),
    ],
  ]);
  const unaryRows = unaryOperations.flatMap((operation) =>
    (["sequential", "concurrent"] as const).map((how) => {
      const key = `${operation} ${how}` as const;
      const of = (mode: ReadModelMode): { p50: number; p99: number; perSecond: number } => {
        const figures = unary.filter((u) => u.mode === mode).map((u) => u.figures[key]);
        const mean = (pick: (f: { sorted: number[]; perSecond: number }) => number): number =>
          figures.reduce((sum, f) => sum + pick(f), 0) / figures.length;
        return {
          p50: mean((f) => percentile(f.sorted, 50)),
          p99: mean((f) => percentile(f.sorted, 99)),
          perSecond: mean((f) => f.perSecond),
        };
      };
      const on = of("on");
      const off = of("off");
      return [
        `${operation}, ${how === "sequential" ? "1 caller" : `${unaryCallers} callers`}`,
        off.p50.toFixed(2),
        on.p50.toFixed(2),
        off.p99.toFixed(2),
        on.p99.toFixed(2),
        off.perSecond.toFixed(0),
        on.perSecond.toFixed(0),
        `${(on.perSecond / off.perSecond).toFixed(2)}×`,
      ];
    }),
  );
  process.stdout.write(`\nUnary writes (${unaryWrites} calls per row and run; the mean of two runs per mode, run on, off, off, on):\n`);
  printTable([
    ["unary write", "p50 ms, model off", "p50 ms, model on", "p99 ms, off", "p99 ms, on", "req/s, off", "req/s, on", "on / off req/s"],
    ...unaryRows,
  ]);
  const usList = (values: readonly number[]): string => values.map((us) => us.toFixed(1)).join(", ");
  const graphFeed = feed["graph feed"];
  const bareStream = feed["driver ChangeStream"];
  process.stdout.write(
    `\nThe read model's reading of the changes, per event (${feedRounds} rounds of ${feedEvents} each, alternated; the median):\n`,
  );
  printTable([
    ["reader of a store's changes", "reader CPU µs/event", "rounds", "vs ChangeStream", "store CPU µs/event", "rounds (store)"],
    [
      "Roster's graph feed (openGraphFeed, as the read model reads)",
      median(graphFeed.readerUs).toFixed(1),
      usList(graphFeed.readerUs),
      `${(median(graphFeed.readerUs) / median(bareStream.readerUs)).toFixed(2)}×`,
      median(graphFeed.storeUs).toFixed(1),
      usList(graphFeed.storeUs),
    ],
    [
      "driver ChangeStream, no pipeline, events dropped",
      median(bareStream.readerUs).toFixed(1),
      usList(bareStream.readerUs),
      "1.00×",
      median(bareStream.storeUs).toFixed(1),
      usList(bareStream.storeUs),
    ],
  ]);
  printTable([
    ["memory (RSS)", "MiB"],
    ["service, before the first stream", stream.rssBefore.toFixed(1)],
    [`service, peak during the first stream (sampled every ${sampleEveryMs} ms)`, stream.rssPeak.toFixed(1)],
    ["service, growth", (stream.rssPeak - stream.rssBefore).toFixed(1)],
    ["`roster import` process, peak", Math.max(...commands.map((run) => run.rssPeak)).toFixed(1)],
  ]);
  process.stdout.write(
    `\nmember_count checked: ${members + 1} in each group. Client, service and embedded store each in their own process; a store and a service per run ` +
      `(node ${process.version}); chunks of ${process.env["ROSTER_BATCH_CHUNK_SIZE"] ?? "500"} operations, one transaction each.\n`,
  );
}

runBench("bench:batch", "roster-bench-batch-", main);
