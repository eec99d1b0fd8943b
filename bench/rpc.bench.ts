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
 * The load generator is this one process, and its CPU per call is printed
 * too: at 32 callers on one channel the client and the service take turns
 * (a batch of requests, then a batch of responses), so req/s is bounded by
 * the sum of both processes' CPU per call, not by the service's alone. The
 * no-op's client sends and receives raw bytes; so, to measure the service
 * rather than protobuf-es in the client, do the gRPC rows: every call of a
 * row sends the same request, so it is encoded once (with its metadata's
 * token); the first response is decoded and checked, and every later one
 * must carry status OK and the same bytes (a response that differs is
 * decoded and checked too). The web door rows do the same over node:http
 * and node:http2 (connect-getgroup.ts, `prepared`). Nothing the service
 * does is skipped.
 *
 * Knobs: BENCH_SECONDS (default 5), BENCH_ROUNDS (alternating rounds each
 * row's seconds are split into; default about one round per second),
 * BENCH_CONCURRENCY (default 32),
 * BENCH_SERVICE_NODE_ARGS (extra node arguments for the service process,
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it), BENCH_ROWS
 * (label fragments separated by "|": only rows whose label contains one are
 * measured, the no-op always; e.g. "gRPC, read model" while profiling).
 */
import { performance } from "node:perf_hooks";
import { create, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { Role } from "../gen/roster/v1/access_pb.ts";
import { GroupService } from "../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../gen/roster/v1/membership_service_pb.ts";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { benchLoopStatsPath, benchNoopPath, type BenchLoopStats } from "../src/transport/grpc/bench-noop.ts";
import { decodeResponse, encodeMessage } from "../src/transport/grpc/message-codec.ts";
import { grpcPath } from "../src/transport/grpc/service-definition.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { withDatabase } from "../test/fixtures/roster-in-process.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { createConnectGetGroup, type ConnectGetGroup } from "./support/connect-getgroup.ts";
import { percentile } from "./support/measure.ts";
import { processCpuUs } from "./support/process-cpu.ts";

const seconds = Number(process.env["BENCH_SECONDS"] ?? "5");
const concurrency = Number(process.env["BENCH_CONCURRENCY"] ?? "32");
const rowFilter = (process.env["BENCH_ROWS"] ?? "").split("|").filter((f) => f !== "");
/** Warm-up per operation, all operations first, so JIT and caches of the service and store are hot for every row. */
const warmupMs = 1_500;
/**
 * Each row is measured in this many alternating rounds (seconds split
 * between them), so load drift affects all rows alike. Default: rounds of
 * about a second. This machine's slow spells (other tenants of the host)
 * last seconds: with two long rounds per row, one spell could fall on one
 * row and not on the other (the no-op measured twice in two rounds of 4 s
 * differed by 13-17% in three runs at load 4-9). The row "no-op, again"
 * shows what is left of that noise in each run.
 */
const rounds = Math.max(2, Number(process.env["BENCH_ROUNDS"] ?? Math.round(seconds)));
const nestingLevels = 5;
/**
 * The no-op measured a second time, in the same rounds: its ratio to the
 * first is the run's noise floor (1.00× on a quiet machine), so a reader can
 * tell how far any other ratio of the run is to be trusted.
 */
const noopAgainLabel = "no-op, again (this run's noise floor)";

interface Result {
  readonly label: string;
  readonly calls: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time (user + system) of the answering service per call, in µs; undefined where /proc cannot tell. */
  readonly serviceCpuUs: number | undefined;
  /** CPU time (user + system) of this process, the load generator, per call, in µs. */
  readonly clientCpuUs: number;
  /** Event-loop iterations of the answering service per call; undefined for a service without the bench methods. */
  readonly serviceLoopTurns: number | undefined;
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
  /** Its event-loop counters, when it serves the bench methods (ROSTER_BENCH_NOOP=1). */
  readonly loopStats: (() => Promise<BenchLoopStats>) | undefined;
}

/** Warms every operation up, then measures them in alternating rounds. */
async function measureAll(all: readonly Operation[]): Promise<Result[]> {
  const operations = all.filter(
    (o, i) => i === 0 || o.label === noopAgainLabel || rowFilter.length === 0 || rowFilter.some((f) => o.label.includes(f)),
  );
  for (const { op } of operations) await run(warmupMs, op, []);
  const latencies = operations.map(() => [] as number[]);
  const elapsed = operations.map(() => 0);
  const cpuUs = operations.map(() => 0);
  const clientCpuUs = operations.map(() => 0);
  const loopTurns = operations.map(() => 0);
  let cpuKnown = true;
  for (let round = 0; round < rounds; round++) {
    // Each round starts one row later, so every row follows every other
    // equally often: whatever a row leaves behind in the service (garbage,
    // a pending log write) is paid by all rows alike, not always by the next.
    for (let turn = 0; turn < operations.length; turn++) {
      const i = (round + turn) % operations.length;
      const operation = operations[i];
      if (operation === undefined) continue;
      const { op, pid, loopStats } = operation;
      const loopsBefore = await loopStats?.();
      const cpuBefore = processCpuUs(pid);
      const clientBefore = process.cpuUsage();
      elapsed[i] = (elapsed[i] ?? 0) + (await run((seconds * 1000) / rounds, op, latencies[i] ?? []));
      const client = process.cpuUsage(clientBefore);
      clientCpuUs[i] = (clientCpuUs[i] ?? 0) + client.user + client.system;
      const loopsAfter = await loopStats?.();
      if (loopsBefore !== undefined && loopsAfter !== undefined)
        loopTurns[i] = (loopTurns[i] ?? 0) + loopsAfter.loopCount - loopsBefore.loopCount;
      const cpuAfter = processCpuUs(pid);
      if (cpuBefore === undefined || cpuAfter === undefined) cpuKnown = false;
      else cpuUs[i] = (cpuUs[i] ?? 0) + cpuAfter - cpuBefore;
    }
  }
  return operations.map(({ label, loopStats }, i) => {
    const sorted = (latencies[i] ?? []).sort((a, b) => a - b);
    const result = {
      label,
      calls: sorted.length,
      perSecond: (sorted.length / (elapsed[i] ?? 1)) * 1000,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      serviceCpuUs: cpuKnown && sorted.length > 0 ? (cpuUs[i] ?? 0) / sorted.length : undefined,
      clientCpuUs: (clientCpuUs[i] ?? 0) / Math.max(1, sorted.length),
      serviceLoopTurns: loopStats === undefined || sorted.length === 0 ? undefined : (loopTurns[i] ?? 0) / sorted.length,
    };
    process.stdout.write(`  measured ${label}: ${Math.round(result.perSecond)} req/s over ${result.calls} calls\n`);
    return result;
  });
}

/** A call of one of the service's raw bench methods (bench-noop.ts); resolves to the response bytes. */
function rawCall(client: RosterClient, path: string): () => Promise<Buffer> {
  const empty = Buffer.alloc(0);
  return () =>
    new Promise((resolve, reject) => {
      client.raw.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        empty,
        (error, response?: Buffer) => {
          if (error) reject(error);
          else resolve(response ?? empty);
        },
      );
    });
}

/**
 * A gRPC row's call: `request` encoded once, sent with `token` on every call;
 * the first response decoded and passed to `check` (which throws if it is
 * wrong), each later one compared byte for byte with it and checked only if
 * it differs.
 */
function preparedCall<I extends DescMethodUnary>(
  client: RosterClient,
  method: I,
  request: MessageInitShape<I["input"]>,
  token: string,
  check: (response: MessageShape<I["output"]>) => void,
): () => Promise<void> {
  const bytes = encodeMessage(method.input, create(method.input, request));
  const path = grpcPath(method);
  // One Metadata for every call of the row: grpc-js clones it when each
  // call starts (resolving-call.js), so every call still sends the token;
  // the load generator just does not build and validate the same header
  // again per call, work that is the client's and not the service's.
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  let verified: Buffer | undefined;
  const accept = (response: Buffer): void => {
    if (verified !== undefined && response.equals(verified)) return;
    check(decodeResponse(method.output, response) as MessageShape<I["output"]>);
    verified ??= response;
  };
  return () =>
    new Promise((resolve, reject) => {
      client.raw.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        metadata,
        (error, response?: Buffer) => {
          if (error) reject(error);
          else if (response === undefined) reject(new Error(`${path}: no response`));
          else {
            try {
              accept(response);
              resolve();
            } catch (failure) {
              reject(failure instanceof Error ? failure : new Error(String(failure)));
            }
          }
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
    [
      `RPC (${concurrency} callers)`,
      "req/s",
      "p50 ms",
      "p99 ms",
      "req/s vs no-op",
      "p50 vs no-op",
      "p99 vs no-op",
      "service CPU µs/call",
      "client CPU µs/call",
      "service loop turns/call",
    ],
    ...[noop, ...results].map((r) => [
      r.label,
      r.perSecond.toFixed(0),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      r === noop ? "1.00×" : `${(r.perSecond / noop.perSecond).toFixed(2)}×`,
      r === noop ? "1.00×" : `${(r.p50Ms / noop.p50Ms).toFixed(2)}×`,
      r === noop ? "1.00×" : `${(r.p99Ms / noop.p99Ms).toFixed(2)}×`,
      r.serviceCpuUs === undefined ? "—" : r.serviceCpuUs.toFixed(0),
      r.clientCpuUs.toFixed(0),
      r.serviceLoopTurns === undefined ? "—" : r.serviceLoopTurns.toFixed(2),
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
    createConnectGetGroup({ baseUrl, token, maxSockets: concurrency, prepared: true }),
    createConnectGetGroup({ baseUrl, token, maxSockets: concurrency, h2c: true, prepared: true }),
  ];
  const connect = webClients(httpUrl);
  const connectDatabase = webClients(database.httpUrl);
  defer(() => {
    for (const web of [...connect, ...connectDatabase]) web.close();
  });
  const noopPing = rawCall(client, benchNoopPath);
  const noop = async (): Promise<void> => {
    await noopPing();
  };
  const readLoopStats = rawCall(client, benchLoopStatsPath);
  const loopStats = async (): Promise<BenchLoopStats> => JSON.parse((await readLoopStats()).toString("utf8")) as BenchLoopStats;
  const pairs: WebVersusGrpc[] = [];
  process.stdout.write(`measuring at ${concurrency} concurrent callers, ${seconds} s each in ${rounds} rounds...\n`);
  const [noopResult, ...results] = await measureAll([
    { label: "no-op (bare grpc-js, no pipeline)", op: noop, pid, loopStats },
    { label: noopAgainLabel, op: noop, pid, loopStats },
    ...[
      { source: "read model", grpcClient: client, web: connect, pid, loopStats },
      { source: "database", grpcClient: databaseClient, web: connectDatabase, pid: database.pid, loopStats: undefined },
    ].flatMap(({ source, grpcClient, web, pid, loopStats }) => [
      {
        label: `GetGroup (gRPC, ${source})`,
        op: preparedCall(grpcClient, GroupService.method.getGroup, { id: groupId }, token, (res) => {
          if (res.group?.id !== groupId) throw new Error("GetGroup returned the wrong group");
        }),
        pid,
        loopStats,
      },
      {
        label: `CheckMembership, ${nestingLevels} levels (gRPC, ${source})`,
        op: preparedCall(grpcClient, MembershipService.method.checkMembership, { groupId: top, principal: "user:deep" }, token, (res) => {
          if (!res.isMember || res.path.length !== nestingLevels) throw new Error("CheckMembership said no");
        }),
        pid,
        loopStats,
      },
      ...web.map((client) => {
        const label = `GetGroup (web door, ${client.label}, ${source})`;
        pairs.push({ web: label, grpc: `GetGroup (gRPC, ${source})` });
        return { label, op: () => client.call(groupId), pid, loopStats };
      }),
    ]),
  ]);
  if (noopResult === undefined) throw new Error("no results");
  printResults(noopResult, results, pairs);
}

runBench("bench:rpc", "roster-bench-", main);
