/**
 * `npm run bench:rpc`: RPC throughput and latency of a running Roster,
 * measured from this process against the service in a separate process,
 * with its store in a third one:
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *
 * At 32 concurrent callers on one grpc-js client (one channel), each for a
 * bounded duration: a bare no-op RPC (`/roster.bench.v1.Noop/Ping`, enabled
 * in the service by ROSTER_BENCH_NOOP=1; raw bytes, no pipeline, no token),
 * `GetGroup`, and `CheckMembership` through 5 levels of nested groups; then
 * `GetGroup` through the web door's Connect protocol, over HTTP/1.1
 * keep-alive and over HTTP/2 with prior knowledge (h2c), each also printed
 * as a ratio to the gRPC door's `GetGroup` (issue 12's target for the web
 * door: at least 0.5×). Each Roster RPC is
 * measured twice: answered by the read model (the default), and by a second
 * service on the same database with ROSTER_READ_MODEL=false (reads from the
 * database: what Roster did before its read model). Every figure is
 * printed next to the no-op's with the ratio, and with the CPU time the
 * answering service process spent per call (from /proc, Linux only): on a
 * shared machine req/s and latency move with everyone else's load, the
 * service's own CPU per call much less. Children are stopped on exit, on
 * errors and on Ctrl-C.
 *
 * Knobs: BENCH_SECONDS (default 5), BENCH_CONCURRENCY (default 32),
 * BENCH_SERVICE_NODE_ARGS (extra node arguments for the service process,
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it).
 */
import { performance } from "node:perf_hooks";
import { Role } from "../gen/roster/v1/access_pb.ts";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { benchNoopPath } from "../src/transport/grpc/bench-noop.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { withDatabase } from "../test/fixtures/roster-in-process.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { createConnectGetGroup, type ConnectGetGroup } from "./support/connect-getgroup.ts";
import { percentile } from "./support/measure.ts";
import { processCpuUs } from "./support/process-cpu.ts";

const seconds = Number(process.env["BENCH_SECONDS"] ?? "5");
const concurrency = Number(process.env["BENCH_CONCURRENCY"] ?? "32");
/** Warm-up per operation, all operations first, so JIT and caches of the service and store are hot for every row. */
const warmupMs = 1_500;
/** Each row is measured in this many alternating rounds (seconds split between them), so load drift affects all rows alike. */
const rounds = 2;
const nestingLevels = 5;

interface Result {
  readonly label: string;
  readonly calls: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time (user + system) of the answering service per call, in µs; undefined where /proc cannot tell. */
  readonly serviceCpuUs: number | undefined;
}

/** `concurrency` callers issue `op` back to back for `durationMs`; appends every latency, returns the elapsed time. */
async function run(durationMs: number, op: () => Promise<void>, latencies: number[]): Promise<number> {
  const started = performance.now();
  const stopAt = started + durationMs;
  const caller = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const t0 = performance.now();
      await op();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return performance.now() - started;
}

interface Operation {
  readonly label: string;
  readonly op: () => Promise<void>;
  /** The service process that answers it, for its CPU time. */
  readonly pid: number;
}

/** Warms every operation up, then measures them in alternating rounds. */
async function measureAll(operations: readonly Operation[]): Promise<Result[]> {
  for (const { op } of operations) await run(warmupMs, op, []);
  const latencies = operations.map(() => [] as number[]);
  const elapsed = operations.map(() => 0);
  const cpuUs = operations.map(() => 0);
  let cpuKnown = true;
  for (let round = 0; round < rounds; round++) {
    for (const [i, { op, pid }] of operations.entries()) {
      const cpuBefore = processCpuUs(pid);
      elapsed[i] = (elapsed[i] ?? 0) + (await run((seconds * 1000) / rounds, op, latencies[i] ?? []));
      const cpuAfter = processCpuUs(pid);
      if (cpuBefore === undefined || cpuAfter === undefined) cpuKnown = false;
      else cpuUs[i] = (cpuUs[i] ?? 0) + cpuAfter - cpuBefore;
    }
  }
  return operations.map(({ label }, i) => {
    const sorted = (latencies[i] ?? []).sort((a, b) => a - b);
    const result = {
      label,
      calls: sorted.length,
      perSecond: (sorted.length / (elapsed[i] ?? 1)) * 1000,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      serviceCpuUs: cpuKnown && sorted.length > 0 ? (cpuUs[i] ?? 0) / sorted.length : undefined,
    };
    process.stdout.write(`  measured ${label}: ${Math.round(result.perSecond)} req/s over ${result.calls} calls\n`);
    return result;
  });
}

function noopCall(client: RosterClient): () => Promise<void> {
  const empty = Buffer.alloc(0);
  return () =>
    new Promise((resolve, reject) => {
      client.raw.makeUnaryRequest(
        benchNoopPath,
        (b: Buffer) => b,
        (b: Buffer) => b,
        empty,
        (error) => {
          if (error) reject(error);
          else resolve();
        },
      );
    });
}

/** A web door row and the gRPC row it is held against. */
interface WebVersusGrpc {
  readonly web: string;
  readonly grpc: string;
}

function printResults(noop: Result, results: readonly Result[], pairs: readonly WebVersusGrpc[]): void {
  printTable([
    ["RPC (32 callers)", "req/s", "p50 ms", "p99 ms", "req/s vs no-op", "p50 vs no-op", "p99 vs no-op", "service CPU µs/call"],
    ...[noop, ...results].map((r) => [
      r.label,
      r.perSecond.toFixed(0),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      r === noop ? "1.00×" : `${(r.perSecond / noop.perSecond).toFixed(2)}×`,
      r === noop ? "1.00×" : `${(r.p50Ms / noop.p50Ms).toFixed(2)}×`,
      r === noop ? "1.00×" : `${(r.p99Ms / noop.p99Ms).toFixed(2)}×`,
      r.serviceCpuUs === undefined ? "—" : r.serviceCpuUs.toFixed(0),
    ]),
  ]);
  process.stdout.write(
    `\n${seconds} s per row (${rounds} alternating rounds) after ${warmupMs / 1000} s warm-up of each, ${concurrency} concurrent callers, one client channel; ` +
      `service and embedded store each in their own process (node ${process.version}).\n`,
  );
  const byLabel = new Map(results.map((r) => [r.label, r]));
  process.stdout.write("\nWeb door against the gRPC door (target: Connect GetGroup ≥ 0.5× gRPC GetGroup):\n");
  printTable([
    ["web door row", "req/s vs gRPC GetGroup", "service CPU per call vs gRPC GetGroup"],
    ...pairs.map(({ web, grpc }) => {
      const w = byLabel.get(web);
      const g = byLabel.get(grpc);
      const cpu = w?.serviceCpuUs !== undefined && g?.serviceCpuUs !== undefined ? `${(w.serviceCpuUs / g.serviceCpuUs).toFixed(2)}×` : "—";
      return [web, w === undefined || g === undefined ? "—" : `${(w.perSecond / g.perSecond).toFixed(2)}×`, cpu];
    }),
  ]);
}

async function main({ store, startService, secret, defer }: BenchRun): Promise<void> {
  const { grpcPort, httpUrl, pid } = await startService({
    mongodbUri: withDatabase(store.uri, "roster_bench"),
    env: { ROSTER_BENCH_NOOP: "1" },
    webDoor: true,
  });

  const database = await startService({
    mongodbUri: withDatabase(store.uri, "roster_bench"),
    env: { ROSTER_READ_MODEL: "false" },
    webDoor: true,
  });

  const token = await signHs256Token({ subject: "bench", ttlSeconds: 3600 }, secret);
  const client = createRosterClient(`127.0.0.1:${grpcPort}`);
  const databaseClient = createRosterClient(`127.0.0.1:${database.grpcPort}`);
  defer(() => {
    client.close();
    databaseClient.close();
  });
  const bench = client.as(token);
  const benchDatabase = databaseClient.as(token);

  // The data: a group to read, and a chain L0 ⊃ L1 ⊃ … ⊃ L4 ⊃ user:deep.
  const created = await bench.groups.createGroup({ group: { slug: "bench-target", displayName: "Bench target" } });
  const groupId = created.group?.id ?? "";
  const chain: string[] = [];
  for (let i = 0; i < nestingLevels; i++) {
    const level = await bench.groups.createGroup({ group: { slug: `bench-level-${i}`, displayName: `Level ${i}` } });
    chain.push(level.group?.id ?? "");
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    await bench.memberships.addMember({ groupId: chain[i] ?? "", member: `group:${chain[i + 1] ?? ""}`, role: Role.MEMBER });
  }
  await bench.memberships.addMember({ groupId: chain[nestingLevels - 1] ?? "", member: "user:deep", role: Role.MEMBER });
  const top = chain[0] ?? "";
  const check = await bench.memberships.checkMembership({ groupId: top, principal: "user:deep" });
  if (!check.isMember || check.path.length !== nestingLevels) {
    throw new Error(`setup: expected user:deep in ${top} through ${nestingLevels} levels, got ${JSON.stringify(check.path)}`);
  }

  const webClients = (baseUrl: string): ConnectGetGroup[] => [
    createConnectGetGroup({ baseUrl, token, maxSockets: concurrency }),
    createConnectGetGroup({ baseUrl, token, maxSockets: concurrency, h2c: true }),
  ];
  const connect = webClients(httpUrl);
  const connectDatabase = webClients(database.httpUrl);
  defer(() => {
    for (const web of [...connect, ...connectDatabase]) web.close();
  });
  const pairs: WebVersusGrpc[] = [];
  process.stdout.write(`measuring at ${concurrency} concurrent callers, ${seconds} s each in ${rounds} rounds...\n`);
  const [noop, ...results] = await measureAll([
    { label: "no-op (bare grpc-js, no pipeline)", op: noopCall(client), pid },
    ...[
      { source: "read model", as: bench, web: connect, pid },
      { source: "database", as: benchDatabase, web: connectDatabase, pid: database.pid },
    ].flatMap(({ source, as, web, pid }) => [
      {
        label: `GetGroup (gRPC, ${source})`,
        op: async () => {
          const res = await as.groups.getGroup({ id: groupId });
          if (res.group?.id !== groupId) throw new Error("GetGroup returned the wrong group");
        },
        pid,
      },
      {
        label: `CheckMembership, ${nestingLevels} levels (gRPC, ${source})`,
        op: async () => {
          const res = await as.memberships.checkMembership({ groupId: top, principal: "user:deep" });
          if (!res.isMember) throw new Error("CheckMembership said no");
        },
        pid,
      },
      ...web.map((client) => {
        const label = `GetGroup (web door, ${client.label}, ${source})`;
        pairs.push({ web: label, grpc: `GetGroup (gRPC, ${source})` });
        return { label, op: () => client.call(groupId), pid };
      }),
    ]),
  ]);
  if (noop === undefined) throw new Error("no results");
  printResults(noop, results, pairs);
}

runBench("bench:rpc", "roster-bench-", main);
