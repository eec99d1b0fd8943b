/**
 * `npm run bench:scale`: what Roster's reads cost as the store grows, for a
 * caller in 5 groups and a caller in 2,000 groups (bench/support/scale-world.ts
 * describes the data, written straight into the store with insertMany):
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *
 * Every size (background groups; BENCH_SCALE_SIZES, default
 * 1000,10000,100000) is seeded into a database of its own first. Then, for
 * each way of answering reads — from the database (ROSTER_READ_MODEL=false:
 * what Roster did before its read model) and from the read model — one
 * service per size is started, and each operation — GetGroup,
 * CheckMembership through 5 levels, ListGroups page 1, a ListGroups search
 * that matches 5 groups and one that matches nothing, ListGroups page 1 with
 * permission READ and with member_principals the caller itself,
 * ListPrincipalGroups page 1 — is called sequentially in interleaved rounds:
 * every round calls every operation of every size for BENCH_SCALE_ROUND_MS,
 * the sizes in turn (reversed every other round), so that the machine's
 * load drifts over every size alike. Each row shows the median of all its
 * calls with their p25-p75 next to the same run's smallest size (the ratio
 * the targets are about), and the CPU time the answering service
 * spent per call (from /proc/<pid>/stat, every thread) and its garbage
 * collection pauses per call (its `nodejs_gc_duration_seconds`): on a shared
 * 2-core machine the service's CPU per call is much steadier than wall time.
 * For the read model: how long it took to load (service start until
 * `roster_read_model_serving` is 1) and the service's heap next to the
 * database-only service's on the same data (both after the same calls).
 *
 * Also, in this process (bench/support/model-memory.ts), what the model
 * retains at each size: the group graph (bytes per group, per edge, load
 * time) and every user membership held at once against the bounded cache
 * (bytes per membership, a cold and a warm principal); and over RPC a
 * caller's first GetGroup (its memberships not cached) against its next.
 *
 * Knobs: BENCH_SCALE_SIZES; BENCH_SCALE_ROUNDS (10) and
 * BENCH_SCALE_ROUND_MS (200: each operation's calls per round, at least
 * one); BENCH_OP_SECONDS (10: an operation of a size gets no more rounds
 * once its calls took this long in all, so that the slow database rows end);
 * BENCH_SCALE_ONLY (only the operations whose label contains this text, e.g.
 * "ListGroups page 1", to profile one); BENCH_SCALE_DATABASE_UP_TO (100000:
 * larger sizes are measured with the read model only);
 * BENCH_SERVICE_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": a
 * profile per service, its pid in the file name and in the progress lines).
 * A million groups needs larger heaps than node's default for the bench and
 * the store (NODE_OPTIONS=--max-old-space-size=...), see the README.
 */
import { performance } from "node:perf_hooks";
import { Permission } from "../gen/roster/v1/access_pb.ts";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { closeDatabase, connectDatabase, createDatabase } from "../src/storage/database.ts";
import { ensureIndexes } from "../src/storage/indexes.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { withDatabase } from "../test/fixtures/roster-in-process.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { percentile } from "./support/measure.ts";
import { measureGraph, measureMemberships, type GraphFigures, type MembershipFigures } from "./support/model-memory.ts";
import { processCpuUs } from "./support/process-cpu.ts";
import { fiveGroupCaller, manyGroupCaller, manyGroupCount, seedScaleWorld, type ScaleWorld } from "./support/scale-world.ts";

const sizes = (process.env["BENCH_SCALE_SIZES"] ?? "1000,10000,100000").split(",").map((s) => Number(s.trim()));
const rounds = Number(process.env["BENCH_SCALE_ROUNDS"] ?? "10");
const roundMs = Number(process.env["BENCH_SCALE_ROUND_MS"] ?? "200");
const opSeconds = Number(process.env["BENCH_OP_SECONDS"] ?? "10");
const only = process.env["BENCH_SCALE_ONLY"] ?? "";
/** Sizes above this are measured with the read model only (the database path takes minutes a call at a million groups). */
const databaseUpTo = Number(process.env["BENCH_SCALE_DATABASE_UP_TO"] ?? "100000");
/** Principals whose first and second calls are timed (cold and warm in the membership cache). */
const coldSamples = 15;

interface Operation {
  readonly label: string;
  readonly call: (client: RosterClient, world: ScaleWorld, principal: string) => Promise<void>;
}

const allOperations: readonly Operation[] = [
  {
    label: "GetGroup",
    call: async (client, world) => {
      const res = await client.groups.getGroup({ id: world.visibleGroupId });
      if (res.group?.id !== world.visibleGroupId) throw new Error("GetGroup returned the wrong group");
    },
  },
  {
    label: "CheckMembership, 5 levels",
    call: async (client, world, principal) => {
      const res = await client.memberships.checkMembership({ groupId: world.visibleGroupId, principal });
      if (!res.isMember || res.path.length !== 5) throw new Error(`CheckMembership: ${JSON.stringify(res.path)}`);
    },
  },
  {
    label: "ListGroups page 1",
    call: async (client) => {
      const res = await client.groups.listGroups({});
      if (res.groups.length === 0) throw new Error("ListGroups page 1 is empty");
    },
  },
  {
    // The chain's five groups, which both callers see through their membership of L4.
    label: "ListGroups search (5 match)",
    call: async (client) => {
      const res = await client.groups.listGroups({ query: "level-" });
      if (res.groups.length !== 5) throw new Error(`the search matched ${res.groups.length} groups, not 5`);
    },
  },
  {
    label: "ListGroups search (no match)",
    call: async (client) => {
      const res = await client.groups.listGroups({ query: "matches-nothing" });
      if (res.groups.length !== 0) throw new Error("the search matched something");
    },
  },
  {
    label: "ListGroups page 1, permission READ",
    call: async (client) => {
      const res = await client.groups.listGroups({ permission: Permission.READ });
      if (res.groups.length === 0) throw new Error("ListGroups with permission READ is empty");
    },
  },
  {
    label: "ListGroups page 1, member_principals self",
    call: async (client, _world, principal) => {
      const res = await client.groups.listGroups({ memberPrincipals: [principal] });
      if (res.groups.length !== 5 && res.groups.length !== 50) throw new Error(`ListGroups by member has ${res.groups.length}`);
    },
  },
  {
    label: "ListPrincipalGroups page 1",
    call: async (client) => {
      const res = await client.memberships.listPrincipalGroups({});
      if (res.entries.length !== 5 && res.entries.length !== 50) throw new Error(`ListPrincipalGroups has ${res.entries.length}`);
    },
  },
];

const operations = allOperations.filter((operation) => operation.label.includes(only));

const callers = [
  { label: "5 groups", principal: fiveGroupCaller },
  { label: `${manyGroupCount.toLocaleString("en-US")} groups`, principal: manyGroupCaller },
] as const;

/** What one row measured over all its rounds. */
interface Sample {
  /** Wall time of every call, ms. */
  readonly times: number[];
  /** The service's CPU time over those calls, µs (NaN where /proc cannot tell). */
  cpuUs: number;
  /** The service's garbage collection pauses over those calls, µs. */
  gcUs: number;
  /** Sum of `times`. */
  spentMs: number;
}

function emptySample(): Sample {
  return { times: [], cpuUs: 0, gcUs: 0, spentMs: 0 };
}

/** A row's figures: median and quartiles of its calls' wall time, the service's CPU and GC per call. */
interface Figures {
  readonly ms: number;
  readonly p25: number;
  readonly p75: number;
  readonly calls: number;
  readonly cpuUs: number;
  readonly gcUs: number;
}

/** The least CPU time a row's figure is printed for: 20 ticks of /proc/<pid>/stat. */
const minCpuUs = 200_000;

function figuresOf(sample: Sample): Figures {
  const sorted = [...sample.times].sort((a, b) => a - b);
  const calls = sorted.length;
  return {
    ms: percentile(sorted, 50),
    p25: percentile(sorted, 25),
    p75: percentile(sorted, 75),
    calls,
    // /proc counts in ticks of 10 ms: too few of them (the cold and warm rows' 15 calls) tell nothing.
    cpuUs: sample.cpuUs >= minCpuUs ? sample.cpuUs / calls : Number.NaN,
    gcUs: sample.gcUs / calls,
  };
}

/** Where the service answers reads from. */
const modes = [
  { label: "database", env: { ROSTER_READ_MODEL: "false" } },
  // A loaded machine can hold the change stream's idle poll past the default 5 s bound; then reads would
  // fall back to the database mid-row (or fail with UNAVAILABLE): this mode measures the model's answers.
  { label: "read model", env: { ROSTER_READ_MODEL: "true", ROSTER_READ_MODEL_MAX_LAG_MS: "120000" } },
] as const;
type Mode = (typeof modes)[number]["label"];

interface ModeResult {
  readonly startSeconds: number;
  /** Service start until its read model serves (read model only). */
  readonly loadSeconds: number | undefined;
  /** nodejs_heap_size_used_bytes after the calls. */
  readonly heapBytes: number;
  /** By "<operation> / <caller>". */
  readonly figures: ReadonlyMap<string, Figures>;
}

interface ModelFigures {
  readonly graph: GraphFigures;
  readonly memberships: MembershipFigures;
}

const mib = (bytes: number | undefined): string => ((bytes ?? Number.NaN) / 2 ** 20).toFixed(0);

/** A size's database, seeded and weighed. */
interface Seeded {
  readonly size: number;
  readonly uri: string;
  readonly world: ScaleWorld;
  readonly seedSeconds: number;
  readonly model: ModelFigures;
}

interface SizeResult extends Seeded {
  readonly byMode: ReadonlyMap<Mode, ModeResult>;
}

/** A Prometheus text page's series of `name` (any labels), summed; undefined when there is none. */
function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) sum = (sum ?? 0) + Number(match[1]);
  return sum;
}

async function metric(httpUrl: string, name: string): Promise<number | undefined> {
  return metricSum(await fetch(`${httpUrl}/metrics`).then((res) => res.text()), name);
}

async function seedSize(run: BenchRun, size: number): Promise<Seeded> {
  const uri = withDatabase(run.store.uri, `roster_bench_scale_${size}`);
  process.stdout.write(`\n${size.toLocaleString("en-US")} background groups: seeding...\n`);
  const database = createDatabase(uri, { appName: "bench-scale", serverSelectionTimeoutMs: 10_000 });
  await connectDatabase(database);
  try {
    const seedStarted = performance.now();
    await database.db.dropDatabase();
    await ensureIndexes(database);
    const world = await seedScaleWorld(database.db, size);
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    process.stdout.write(
      `  ${world.groups} groups, ${world.memberships} memberships in ${seedSeconds.toFixed(1)} s; weighing the model in this process...\n`,
    );
    const graph = await measureGraph(database);
    const memberships = await measureMemberships(database, coldPrincipals(size), manyGroupCaller);
    process.stdout.write(
      `  graph: ${graph.groups} groups, ${graph.edges} edges, ${mib(graph.bytes)} MiB, loaded in ${(graph.loadMs / 1000).toFixed(2)} s; ` +
        `every user membership: ${memberships.memberships} in ${mib(memberships.allBytes)} MiB\n`,
    );
    return { size, uri, world, seedSeconds, model: { graph, memberships } };
  } finally {
    await closeDatabase(database);
  }
}

/** One size's service under measurement. */
interface Target {
  readonly seeded: Seeded;
  readonly pid: number;
  readonly httpUrl: string;
  readonly client: RosterClient;
  /** The callers' clients, by caller label. */
  readonly as: ReadonlyMap<string, RosterClient>;
  readonly startSeconds: number;
  readonly loadSeconds: number | undefined;
  /** The service's GC pauses so far (seconds), as last scraped. */
  gcSeconds: number;
  readonly samples: Map<string, Sample>;
  readonly stop: () => Promise<void>;
}

async function startTarget(run: BenchRun, seeded: Seeded, mode: (typeof modes)[number]): Promise<Target> {
  const startStarted = performance.now();
  const service = await run.startService({ mongodbUri: seeded.uri, env: mode.env, webDoor: true });
  const startSeconds = (performance.now() - startStarted) / 1000;
  let loadSeconds: number | undefined;
  if (mode.label === "read model") {
    while ((await metric(service.httpUrl, "roster_read_model_serving")) !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
    loadSeconds = (performance.now() - startStarted) / 1000;
  }
  process.stdout.write(
    `  ${seeded.size.toLocaleString("en-US")}: service pid ${service.pid}, started in ${startSeconds.toFixed(2)} s` +
      (loadSeconds === undefined ? "\n" : `, serving from its model after ${loadSeconds.toFixed(2)} s\n`),
  );
  const client = createRosterClient(`127.0.0.1:${service.grpcPort}`);
  const as = new Map<string, RosterClient>();
  for (const caller of callers) {
    const token = await signHs256Token({ subject: caller.principal.slice("user:".length), ttlSeconds: 7200 }, run.secret);
    as.set(caller.label, client.as(token));
  }
  return {
    seeded,
    pid: service.pid,
    httpUrl: service.httpUrl,
    client,
    as,
    startSeconds,
    loadSeconds,
    gcSeconds: (await metric(service.httpUrl, "nodejs_gc_duration_seconds_sum")) ?? 0,
    samples: new Map(),
    stop: async () => {
      client.close();
      await service.stop();
    },
  };
}

/**
 * Calls `op` back to back for `budgetMs` (at least once) and adds the calls,
 * the service's CPU time over them and its GC pauses since the last batch to
 * `sample`; with `record` false (warm-up) adds nothing.
 */
async function measureBatch(target: Target, sample: Sample, budgetMs: number, record: boolean, op: () => Promise<void>): Promise<void> {
  const cpuBefore = processCpuUs(target.pid) ?? Number.NaN;
  const started = performance.now();
  const times: number[] = [];
  do {
    const t0 = performance.now();
    await op();
    times.push(performance.now() - t0);
  } while (performance.now() - started < budgetMs);
  const cpuAfter = processCpuUs(target.pid) ?? Number.NaN;
  // Scraped after the CPU reading, so the scrape's own work is not counted.
  const gcSeconds = (await metric(target.httpUrl, "nodejs_gc_duration_seconds_sum")) ?? Number.NaN;
  const gcUs = (gcSeconds - target.gcSeconds) * 1e6;
  target.gcSeconds = gcSeconds;
  if (!record) return;
  sample.times.push(...times);
  sample.spentMs += times.reduce((a, b) => a + b, 0);
  sample.cpuUs += cpuAfter - cpuBefore;
  sample.gcUs += gcUs;
}

/** The rows of the interleaved rounds: every operation for every caller. */
const rowsOf = (): { key: string; caller: (typeof callers)[number]; operation: Operation }[] =>
  callers.flatMap((caller) => operations.map((operation) => ({ key: `${operation.label} / ${caller.label}`, caller, operation })));

/** One warm-up batch per row and size, then `rounds` rounds over every row, the sizes in turn (reversed every other round). */
async function measureInterleaved(targets: readonly Target[]): Promise<void> {
  const rows = rowsOf();
  for (let round = -1; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const { world } = target.seeded;
      for (const { key, caller, operation } of rows) {
        let sample = target.samples.get(key);
        if (sample === undefined) target.samples.set(key, (sample = emptySample()));
        if (sample.spentMs >= opSeconds * 1000) continue;
        const as = target.as.get(caller.label);
        if (as === undefined) throw new Error(`no client for ${caller.label}`);
        await measureBatch(target, sample, roundMs, round >= 0, () => operation.call(as, world, caller.principal));
      }
    }
    if (round >= 0) process.stdout.write(`  round ${round + 1} of ${rounds} done\n`);
  }
}

/** Owners of background groups spread over the store (user:owner-<i> is the one ADMIN of bg-<i>). */
function coldPrincipals(size: number): string[] {
  return Array.from({ length: Math.min(coldSamples, size) }, (_, k) => `user:owner-${Math.floor((k * size) / coldSamples)}`);
}

const coldKey = "GetGroup, a caller's first call (cold cache)";
const warmKey = "GetGroup, the same caller's next call (warm)";

/** GetGroup of bg-<i> by its owner, twice each: the first loads the owner's memberships, the second finds them held. */
async function measureColdAndWarm(target: Target, run: BenchRun): Promise<void> {
  const cold = emptySample();
  const warm = emptySample();
  for (const principal of coldPrincipals(target.seeded.size)) {
    const as = target.client.as(await signHs256Token({ subject: principal.slice("user:".length), ttlSeconds: 7200 }, run.secret));
    const id = `bg-${principal.slice("user:owner-".length)}`;
    for (const sample of [cold, warm]) {
      await measureBatch(target, sample, 0, true, async () => {
        const res = await as.groups.getGroup({ id });
        if (res.group?.id !== id) throw new Error("GetGroup returned the wrong group");
      });
    }
  }
  target.samples.set(coldKey, cold);
  target.samples.set(warmKey, warm);
}

async function measureMode(run: BenchRun, seeded: readonly Seeded[], mode: (typeof modes)[number]): Promise<Map<number, ModeResult>> {
  const results = new Map<number, ModeResult>();
  const measured = seeded.filter((s) => mode.label !== "database" || s.size <= databaseUpTo);
  if (measured.length === 0) return results;
  process.stdout.write(`\nreads from the ${mode.label}: ${rounds} interleaved rounds of ${roundMs} ms per row and size\n`);
  const targets: Target[] = [];
  try {
    for (const s of measured) targets.push(await startTarget(run, s, mode));
    await measureInterleaved(targets);
    for (const target of targets) await measureColdAndWarm(target, run);
    for (const target of targets) {
      const figures = new Map([...target.samples].map(([key, sample]) => [key, figuresOf(sample)]));
      for (const [key, f] of figures) {
        process.stdout.write(
          `    ${target.seeded.size.toLocaleString("en-US")}, ${key}: ${f.ms.toFixed(2)} ms (p25-p75 ${f.p25.toFixed(2)}-${f.p75.toFixed(2)}, ` +
            `${f.calls} calls), service CPU ${f.cpuUs.toFixed(0)} µs, GC ${f.gcUs.toFixed(0)} µs per call\n`,
        );
      }
      const heapBytes = (await metric(target.httpUrl, "nodejs_heap_size_used_bytes")) ?? Number.NaN;
      results.set(target.seeded.size, { startSeconds: target.startSeconds, loadSeconds: target.loadSeconds, heapBytes, figures });
    }
  } finally {
    for (const target of targets) await target.stop();
  }
  return results;
}

async function main(run: BenchRun): Promise<void> {
  const seeded: Seeded[] = [];
  for (const size of sizes) seeded.push(await seedSize(run, size));
  const byMode = new Map<Mode, Map<number, ModeResult>>();
  for (const mode of modes) byMode.set(mode.label, await measureMode(run, seeded, mode));
  const results: SizeResult[] = seeded.map((s) => ({
    ...s,
    byMode: new Map(
      modes.flatMap((mode) => {
        const result = byMode.get(mode.label)?.get(s.size);
        return result === undefined ? [] : [[mode.label, result] as const];
      }),
    ),
  }));
  const base = results[0];
  if (base === undefined) throw new Error("no sizes");
  const sizeOf = (r: SizeResult): string => r.size.toLocaleString("en-US");
  const figure = (r: SizeResult, mode: Mode, key: string): Figures | undefined => r.byMode.get(mode)?.figures.get(key);
  const ratio = (value: number | undefined, baseValue: number | undefined): string =>
    `${((value ?? Number.NaN) / (baseValue ?? Number.NaN)).toFixed(2)}×`;
  const keys = [
    ...rowsOf().map(({ key, caller, operation }) => ({ key, label: `${operation.label}, caller in ${caller.label}` })),
    { key: coldKey, label: coldKey },
    { key: warmKey, label: warmKey },
  ];
  const others = results.slice(1);
  for (const mode of modes) {
    if (results.every((r) => !r.byMode.has(mode.label))) continue;
    process.stdout.write(`\nReads from the ${mode.label}:\n`);
    printTable([
      [
        "median of sequential calls",
        ...results.map((r) => `${sizeOf(r)} ms`),
        ...others.map((r) => `${sizeOf(r)} / ${sizeOf(base)}`),
        ...results.map((r) => `${sizeOf(r)} p25-p75`),
      ],
      ...keys.map(({ key, label }) => [
        label,
        ...results.map((r) => (figure(r, mode.label, key)?.ms ?? Number.NaN).toFixed(2)),
        ...others.map((r) => ratio(figure(r, mode.label, key)?.ms, figure(base, mode.label, key)?.ms)),
        ...results.map((r) => {
          const f = figure(r, mode.label, key);
          return f === undefined ? "-" : `${f.p25.toFixed(2)}-${f.p75.toFixed(2)}`;
        }),
      ]),
    ]);
    printTable([
      [
        "service per call (µs)",
        ...results.map((r) => `${sizeOf(r)} CPU`),
        ...others.map((r) => `${sizeOf(r)} / ${sizeOf(base)}`),
        ...results.map((r) => `${sizeOf(r)} GC`),
        ...results.map((r) => `${sizeOf(r)} calls`),
      ],
      ...keys.map(({ key, label }) => [
        label,
        ...results.map((r) => {
          const cpuUs = figure(r, mode.label, key)?.cpuUs ?? Number.NaN;
          return Number.isNaN(cpuUs) ? "-" : cpuUs.toFixed(0);
        }),
        ...others.map((r) => ratio(figure(r, mode.label, key)?.cpuUs, figure(base, mode.label, key)?.cpuUs)),
        ...results.map((r) => (figure(r, mode.label, key)?.gcUs ?? Number.NaN).toFixed(0)),
        ...results.map((r) => (figure(r, mode.label, key)?.calls ?? 0).toString()),
      ]),
    ]);
  }
  printTable([
    [
      "background groups",
      "groups in store",
      "memberships",
      "seed s",
      "start s (database)",
      "read model load s",
      "heap MiB (database)",
      "heap MiB (read model)",
      "model heap MiB",
    ],
    ...results.map((r) => {
      const database = r.byMode.get("database");
      const model = r.byMode.get("read model");
      return [
        sizeOf(r),
        r.world.groups.toLocaleString("en-US"),
        r.world.memberships.toLocaleString("en-US"),
        r.seedSeconds.toFixed(1),
        (database?.startSeconds ?? Number.NaN).toFixed(2),
        (model?.loadSeconds ?? Number.NaN).toFixed(2),
        mib(database?.heapBytes),
        mib(model?.heapBytes),
        mib((model?.heapBytes ?? Number.NaN) - (database?.heapBytes ?? Number.NaN)),
      ];
    }),
  ]);
  process.stdout.write("\nThe read model weighed in this process (heap retained after a full gc; load: snapshot read + graph built):\n");
  const per = (bytes: number, count: number): string => (count === 0 ? "-" : (bytes / count).toFixed(0));
  printTable([
    [
      "groups in store",
      "group edges",
      "graph load s",
      "graph MiB",
      "B/group (all)",
      "B/edge",
      "user memberships",
      "all held MiB",
      "B/membership",
      "B/principal",
      "B/membership, 1 principal",
      "all load s",
      "cold get ms",
      "warm get ms",
    ],
    ...results.map(({ model: { graph, memberships } }) => [
      graph.groups.toLocaleString("en-US"),
      graph.edges.toLocaleString("en-US"),
      (graph.loadMs / 1000).toFixed(2),
      mib(graph.bytes),
      per(graph.bytes, graph.groups),
      per(graph.edgeBytes, graph.edges),
      memberships.memberships.toLocaleString("en-US"),
      mib(memberships.allBytes),
      per(memberships.allBytes, memberships.memberships),
      per(memberships.allBytes, memberships.principals),
      memberships.bytesPerMembershipOfOne.toFixed(0),
      (memberships.allLoadMs / 1000).toFixed(2),
      memberships.coldMs.toFixed(3),
      memberships.warmMs.toFixed(3),
    ]),
  ]);
  process.stdout.write(
    `\nSequential calls in ${rounds} interleaved rounds of ${roundMs} ms per row and size (at most ${opSeconds} s of calls per row), ` +
      `after one warm-up round; one service per size, running side by side; client, services and embedded store each in their own ` +
      `process (node ${process.version}). CPU: the answering service's user + system time per call (every thread); GC: its collection pauses per call.\n`,
  );
}

runBench("bench:scale", "roster-bench-scale-", main);
