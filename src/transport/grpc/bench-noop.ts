/**
 * Benchmarks only (ROSTER_BENCH_NOOP=1): a bare no-op method,
 * `/roster.bench.v1.Noop/Ping`, on the same grpc-js server as Roster's
 * services, so `npm run bench:rpc` can show what the transport alone costs
 * next to GetGroup and CheckMembership, and `/roster.bench.v1.Noop/LoopStats`,
 * the process's event-loop counters (libuv's loop iterations and the I/O
 * events it processed, as JSON), which the bench reads before and after each
 * row to print the service's loop turns per call. Raw Buffer
 * (de)serializers, no pipeline, no token: it is deliberately outside the
 * public contract (no proto, not in reflection) and off by default.
 */
import { performance } from "node:perf_hooks";
import type { MethodDefinition, Server, ServiceDefinition, handleUnaryCall } from "@grpc/grpc-js";

export const benchNoopPath = "/roster.bench.v1.Noop/Ping";
export const benchLoopStatsPath = "/roster.bench.v1.Noop/LoopStats";

/** What LoopStats answers (cumulative since the process started). */
export interface BenchLoopStats {
  /** Event-loop iterations. */
  readonly loopCount: number;
  /** I/O events the loop processed. */
  readonly events: number;
}

const identity = (bytes: Buffer): Buffer => bytes;
const empty = Buffer.alloc(0);

function rawMethod(path: string): MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** The method definitions, shared by the server and the benchmark's client. */
export const benchNoopDefinition: ServiceDefinition = {
  Ping: rawMethod(benchNoopPath),
  LoopStats: rawMethod(benchLoopStatsPath),
};

/** Adds the no-op methods to `server`. */
export function addBenchNoop(server: Pick<Server, "addService">): void {
  const ping: handleUnaryCall<Buffer, Buffer> = (_call, callback) => {
    callback(null, empty);
  };
  const loopStats: handleUnaryCall<Buffer, Buffer> = (_call, callback) => {
    const { loopCount, events } = performance.nodeTiming.uvMetricsInfo;
    callback(null, Buffer.from(JSON.stringify({ loopCount, events } satisfies BenchLoopStats)));
  };
  server.addService(benchNoopDefinition, { Ping: ping, LoopStats: loopStats });
}
