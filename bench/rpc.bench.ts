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
 * `GetGroup` through the web door's Connect protocol. Every figure is
 * printed next to the no-op's with the ratio. Children are stopped on exit,
 * on errors and on Ctrl-C.
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
import { createConnectGetGroup } from "./support/connect-getgroup.ts";
import { percentile } from "./support/measure.ts";

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
}

/** Warms every operation up, then measures them in alternating rounds. */
async function measureAll(operations: readonly Operation[]): Promise<Result[]> {
  for (const { op } of operations) await run(warmupMs, op, []);
  const latencies = operations.map(() => [] as number[]);
  const elapsed = operations.map(() => 0);
  for (let round = 0; round < rounds; round++) {
    for (const [i, { op }] of operations.entries()) {
      elapsed[i] = (elapsed[i] ?? 0) + (await run((seconds * 1000) / rounds, op, latencies[i] ?? []));
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

function printResults(noop: Result, results: readonly Result[]): void {
  printTable([
    ["RPC (32 callers)", "req/s", "p50 ms", "p99 ms", "req/s vs no-op", "p50 vs no-op"],
    ...[noop, ...results].map((r) => [
      r.label,
      r.perSecond.toFixed(0),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      r === noop ? "1.00×" : `${(r.perSecond / noop.perSecond).toFixed(2)}×`,
      r === noop ? "1.00×" : `${(r.p50Ms / noop.p50Ms).toFixed(2)}×`,
    ]),
  ]);
  process.stdout.write(
    `\n${seconds} s per row (${rounds} alternating rounds) after ${warmupMs / 1000} s warm-up of each, ${concurrency} concurrent callers, one client channel; ` +
      `service and embedded store each in their own process (node ${process.version}).\n`,
  );
}

async function main({ store, startService, secret, defer }: BenchRun): Promise<void> {
  const { grpcPort, httpUrl } = await startService({
    mongodbUri: withDatabase(store.uri, "roster_bench"),
    env: { ROSTER_BENCH_NOOP: "1" },
    webDoor: true,
  });

  const token = await signHs256Token({ subject: "bench", ttlSeconds: 3600 }, secret);
  const client = createRosterClient(`127.0.0.1:${grpcPort}`);
  defer(() => {
    client.close();
  });
  const bench = client.as(token);

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

  const connect = createConnectGetGroup({ baseUrl: httpUrl, token, maxSockets: concurrency });
  defer(() => {
    connect.close();
  });
  process.stdout.write(`measuring at ${concurrency} concurrent callers, ${seconds} s each in ${rounds} rounds...\n`);
  const [noop, ...results] = await measureAll([
    { label: "no-op (bare grpc-js, no pipeline)", op: noopCall(client) },
    {
      label: "GetGroup (gRPC)",
      op: async () => {
        const res = await bench.groups.getGroup({ id: groupId });
        if (res.group?.id !== groupId) throw new Error("GetGroup returned the wrong group");
      },
    },
    {
      label: `CheckMembership, ${nestingLevels} levels (gRPC)`,
      op: async () => {
        const res = await bench.memberships.checkMembership({ groupId: top, principal: "user:deep" });
        if (!res.isMember) throw new Error("CheckMembership said no");
      },
    },
    { label: `GetGroup (web door, ${connect.label})`, op: () => connect.call(groupId) },
  ]);
  if (noop === undefined) throw new Error("no results");
  printResults(noop, results);
}

runBench("bench:rpc", "roster-bench-", main);
