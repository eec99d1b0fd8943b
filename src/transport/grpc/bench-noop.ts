/**
 * Benchmarks only (ROSTER_BENCH_NOOP=1): a bare no-op method,
 * `/roster.bench.v1.Noop/Ping`, on the same grpc-js server as Roster's
 * services, so `npm run bench:rpc` can show what the transport alone costs
 * next to GetGroup and CheckMembership. Raw Buffer (de)serializers, no
 * pipeline, no token: it is deliberately outside the public contract (no
 * proto, not in reflection) and off by default.
 */
import type { MethodDefinition, Server, ServiceDefinition, handleUnaryCall } from "@grpc/grpc-js";

export const benchNoopPath = "/roster.bench.v1.Noop/Ping";

const identity = (bytes: Buffer): Buffer => bytes;
const empty = Buffer.alloc(0);

/** The method definition, shared by the server and the benchmark's client. */
export const benchNoopDefinition: ServiceDefinition = {
  Ping: {
    path: benchNoopPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  } satisfies MethodDefinition<Buffer, Buffer>,
};

/** Adds the no-op method to `server`. */
export function addBenchNoop(server: Pick<Server, "addService">): void {
  const ping: handleUnaryCall<Buffer, Buffer> = (_call, callback) => {
    callback(null, empty);
  };
  server.addService(benchNoopDefinition, { Ping: ping });
}
