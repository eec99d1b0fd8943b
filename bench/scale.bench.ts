/**
 * `npm run bench:scale`: what Roster's reads cost as the store grows, for a
 * caller in 5 groups and a caller in 2,000 groups (bench/support/scale-world.ts
 * describes the data, written straight into the store with insertMany):
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *
 * For each size (background groups; BENCH_SCALE_SIZES, default
 * 1000,10000,100000): a fresh database is seeded, and the service is started
 * on it twice — reads from the database (ROSTER_READ_MODEL=false: what
 * Roster did before its read model) and from the read model — and each
 * operation is called sequentially — GetGroup, CheckMembership through 5
 * levels, ListGroups page 1, a ListGroups search that matches 5 groups and
 * one that matches nothing, ListGroups page 1 with permission READ and with
 * member_principals the caller itself,
 * ListPrincipalGroups page 1 — and reported as the median latency, next to
 * the same run's smallest size (the ratio the targets are about).
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
 * Knobs: BENCH_SCALE_SIZES, BENCH_REPS (15 calls per operation),
 * BENCH_OP_SECONDS (10: an operation stops after this long, with at least
 * one call), BENCH_SCALE_DATABASE_UP_TO (100000: larger sizes are
 * measured with the read model only), BENCH_SERVICE_NODE_ARGS. A million
 * groups needs larger heaps than node's default for the bench and the
 * store (NODE_OPTIONS=--max-old-space-size=...), see the README.
 */
import { performance } from "node:perf_hooks";
import { Permission } from "../gen/roster/v1/access_pb.ts";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { closeDatabase, connectDatabase, createDatabase } from "../src/storage/database.ts";
import { ensureIndexes } from "../src/storage/indexes.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { withDatabase } from "../test/fixtures/roster-in-process.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { measureGraph, measureMemberships, type GraphFigures, type MembershipFigures } from "./support/model-memory.ts";
import { fiveGroupCaller, manyGroupCaller, manyGroupCount, seedScaleWorld, type ScaleWorld } from "./support/scale-world.ts";

const sizes = (process.env["BENCH_SCALE_SIZES"] ?? "1000,10000,100000").split(",").map((s) => Number(s.trim()));
const reps = Number(process.env["BENCH_REPS"] ?? "15");
const opSeconds = Number(process.env["BENCH_OP_SECONDS"] ?? "10");
/** Sizes above this are measured with the read model only (the database path takes minutes a call at a million groups). */
const databaseUpTo = Number(process.env["BENCH_SCALE_DATABASE_UP_TO"] ?? "100000");
/** Principals whose first and second calls are timed (cold and warm in the membership cache). */
const coldSamples = 15;

interface Operation {
  readonly label: string;
  readonly call: (client: RosterClient, world: ScaleWorld, principal: string) => Promise<void>;
}

const operations: readonly Operation[] = [
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

const callers = [
  { label: "5 groups", principal: fiveGroupCaller },
  { label: `${manyGroupCount.toLocaleString("en-US")} groups`, principal: manyGroupCaller },
] as const;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median of up to `reps` sequential calls after one warm-up (counted when it alone took a second). */
async function timeOperation(op: () => Promise<void>): Promise<{ ms: number; calls: number }> {
  const times: number[] = [];
  const started = performance.now();
  const first = performance.now();
  await op();
  const firstMs = performance.now() - first;
  if (firstMs >= 1000) times.push(firstMs);
  while (times.length < reps && (times.length === 0 || performance.now() - started < opSeconds * 1000)) {
    const t0 = performance.now();
    await op();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), calls: times.length };
}

/** Where the service answers reads from. */
const modes = [
  { label: "database", env: { ROSTER_READ_MODEL: "false" } },
  { label: "read model", env: { ROSTER_READ_MODEL: "true" } },
] as const;
type Mode = (typeof modes)[number]["label"];

interface ModeResult {
  readonly startSeconds: number;
  /** Service start until its read model serves (read model only). */
  readonly loadSeconds: number | undefined;
  /** nodejs_heap_size_used_bytes after the calls. */
  readonly heapBytes: number;
  /** Median ms by "<operation> / <caller>". */
  readonly medians: ReadonlyMap<string, { ms: number; calls: number }>;
}

interface ModelFigures {
  readonly graph: GraphFigures;
  readonly memberships: MembershipFigures;
}

const mib = (bytes: number | undefined): string => ((bytes ?? Number.NaN) / 2 ** 20).toFixed(0);

interface SizeResult {
  readonly size: number;
  readonly world: ScaleWorld;
  readonly seedSeconds: number;
  readonly model: ModelFigures;
  readonly byMode: ReadonlyMap<Mode, ModeResult>;
}

/** A metric's value in a Prometheus text page (the first series of that name). */
async function metric(httpUrl: string, name: string): Promise<number | undefined> {
  const text = await fetch(`${httpUrl}/metrics`).then((res) => res.text());
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return match === null ? undefined : Number(match[1]);
}

async function measureSize(run: BenchRun, size: number): Promise<SizeResult> {
  const dbName = `roster_bench_scale_${size}`;
  const uri = withDatabase(run.store.uri, dbName);
  process.stdout.write(`\n${size.toLocaleString("en-US")} background groups: seeding...\n`);
  const database = createDatabase(uri, { appName: "bench-scale", serverSelectionTimeoutMs: 10_000 });
  await connectDatabase(database);
  let world: ScaleWorld;
  let model: ModelFigures;
  const seedStarted = performance.now();
  let seedSeconds: number;
  try {
    await database.db.dropDatabase();
    await ensureIndexes(database);
    world = await seedScaleWorld(database.db, size);
    seedSeconds = (performance.now() - seedStarted) / 1000;
    process.stdout.write(
      `  ${world.groups} groups, ${world.memberships} memberships in ${seedSeconds.toFixed(1)} s; weighing the model in this process...\n`,
    );
    const graph = await measureGraph(database);
    const memberships = await measureMemberships(database, coldPrincipals(size), manyGroupCaller);
    model = { graph, memberships };
    process.stdout.write(
      `  graph: ${graph.groups} groups, ${graph.edges} edges, ${mib(graph.bytes)} MiB, loaded in ${(graph.loadMs / 1000).toFixed(2)} s; ` +
        `every user membership: ${memberships.memberships} in ${mib(memberships.allBytes)} MiB\n`,
    );
  } finally {
    await closeDatabase(database);
  }

  const byMode = new Map<Mode, ModeResult>();
  for (const mode of modes) {
    if (mode.label === "database" && size > databaseUpTo) continue;
    process.stdout.write(`  reads from the ${mode.label}:\n`);
    const startStarted = performance.now();
    const service = await run.startService({ mongodbUri: uri, env: mode.env, webDoor: true });
    const startSeconds = (performance.now() - startStarted) / 1000;
    let loadSeconds: number | undefined;
    if (mode.label === "read model") {
      while ((await metric(service.httpUrl, "roster_read_model_serving")) !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
      loadSeconds = (performance.now() - startStarted) / 1000;
    }
    const client = createRosterClient(`127.0.0.1:${service.grpcPort}`);
    const medians = new Map<string, { ms: number; calls: number }>();
    try {
      for (const caller of callers) {
        const token = await signHs256Token({ subject: caller.principal.slice("user:".length), ttlSeconds: 7200 }, run.secret);
        const as = client.as(token);
        for (const operation of operations) {
          const result = await timeOperation(() => operation.call(as, world, caller.principal));
          medians.set(`${operation.label} / ${caller.label}`, result);
          process.stdout.write(
            `    ${operation.label}, caller in ${caller.label}: ${result.ms.toFixed(2)} ms (median of ${result.calls})\n`,
          );
        }
      }
      for (const [key, result] of Object.entries(await timeColdAndWarm(client, run, size))) {
        medians.set(key, result);
        process.stdout.write(`    ${key}: ${result.ms.toFixed(2)} ms (median of ${result.calls})\n`);
      }
      const heapBytes = (await metric(service.httpUrl, "nodejs_heap_size_used_bytes")) ?? Number.NaN;
      byMode.set(mode.label, { startSeconds, loadSeconds, heapBytes, medians });
    } finally {
      client.close();
      await service.stop();
    }
  }
  return { size, world, seedSeconds, model, byMode };
}

/** Owners of background groups spread over the store (user:owner-<i> is the one ADMIN of bg-<i>). */
function coldPrincipals(size: number): string[] {
  return Array.from({ length: Math.min(coldSamples, size) }, (_, k) => `user:owner-${Math.floor((k * size) / coldSamples)}`);
}

const coldKey = "GetGroup, a caller's first call (cold cache)";
const warmKey = "GetGroup, the same caller's next call (warm)";

/** GetGroup of bg-<i> by its owner, twice each: the first loads the owner's memberships, the second finds them held. */
async function timeColdAndWarm(client: RosterClient, run: BenchRun, size: number): Promise<Record<string, { ms: number; calls: number }>> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (const principal of coldPrincipals(size)) {
    const as = client.as(await signHs256Token({ subject: principal.slice("user:".length), ttlSeconds: 7200 }, run.secret));
    const id = `bg-${principal.slice("user:owner-".length)}`;
    for (const times of [cold, warm]) {
      const t0 = performance.now();
      const res = await as.groups.getGroup({ id });
      times.push(performance.now() - t0);
      if (res.group?.id !== id) throw new Error("GetGroup returned the wrong group");
    }
  }
  return { [coldKey]: { ms: median(cold), calls: cold.length }, [warmKey]: { ms: median(warm), calls: warm.length } };
}

async function main(run: BenchRun): Promise<void> {
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await measureSize(run, size));
  const base = results[0];
  if (base === undefined) throw new Error("no sizes");
  const sizeLabel = (r: SizeResult): string => `${r.size.toLocaleString("en-US")} ms`;
  const ms = (r: SizeResult, mode: Mode, key: string): number => r.byMode.get(mode)?.medians.get(key)?.ms ?? Number.NaN;
  for (const mode of modes) {
    process.stdout.write(`\nReads from the ${mode.label}:\n`);
    const rows: string[][] = [];
    for (const caller of callers) {
      for (const operation of operations) {
        const key = `${operation.label} / ${caller.label}`;
        const baseMs = ms(base, mode.label, key);
        const cells = results.map((r) => ms(r, mode.label, key).toFixed(2));
        const ratios = results.slice(1).map((r) => `${(ms(r, mode.label, key) / baseMs).toFixed(2)}×`);
        rows.push([`${operation.label}, caller in ${caller.label}`, ...cells, ...ratios]);
      }
    }
    for (const key of [coldKey, warmKey]) {
      const baseMs = ms(base, mode.label, key);
      rows.push([
        key,
        ...results.map((r) => ms(r, mode.label, key).toFixed(2)),
        ...results.slice(1).map((r) => `${(ms(r, mode.label, key) / baseMs).toFixed(2)}×`),
      ]);
    }
    printTable([
      [
        "median of sequential calls",
        ...results.map(sizeLabel),
        ...results.slice(1).map((r) => `${r.size.toLocaleString("en-US")} / ${base.size.toLocaleString("en-US")}`),
      ],
      ...rows,
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
        r.size.toLocaleString("en-US"),
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
    `\nUp to ${reps} sequential calls per operation (at most ${opSeconds} s each, median), after one warm-up call; ` +
      `client, service and embedded store each in their own process (node ${process.version}).\n`,
  );
}

runBench("bench:scale", "roster-bench-scale-", main);
