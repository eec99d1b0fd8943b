/**
 * The RPC series are kept as plain numbers and handed to prom-client at
 * scrape time (src/ops/metrics.ts). What `/metrics` prints must be what
 * prom-client's own Counter, Histogram and Gauges printed when they were fed
 * every call: a reference registry made of them, fed the same calls with the
 * same durations, gives the expected text, byte for byte. The metrics
 * interceptor is checked too: one count per call, streams counted when they
 * end, with the code the client gets.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { GetGroupRequestSchema, GetGroupResponseSchema, GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { createMetrics, statusCodeNames } from "../../src/ops/metrics.ts";
import { metricsInterceptorFor } from "../../src/ops/metrics-interceptor.ts";
import { callInfoKey } from "../../src/rpc/context.ts";

const rpcMetricNames = ["roster_rpc_handled_total", "roster_rpc_duration_seconds", "roster_rpcs_in_flight", "roster_streams_in_flight"];

/** The four RPC metrics as prom-client's classes record them, fed call by call (what metrics.ts did before). */
function createReference() {
  const registry = new Registry();
  const handled = new Counter({
    name: rpcMetricNames[0] as string,
    help: "RPCs completed, by door, method and status code.",
    labelNames: ["door", "method", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: rpcMetricNames[1] as string,
    help: "Time from the start of an RPC to its status, by door and method.",
    labelNames: ["door", "method"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const unary = new Gauge({
    name: rpcMetricNames[2] as string,
    help: "Unary RPCs being served, by door.",
    labelNames: ["door"],
    registers: [registry],
  });
  const streams = new Gauge({
    name: rpcMetricNames[3] as string,
    help: "Streaming RPCs open, by door.",
    labelNames: ["door"],
    registers: [registry],
  });
  return {
    registry,
    start(door: string, streaming: boolean) {
      (streaming ? streams : unary).inc({ door });
    },
    finish(door: string, method: string, streaming: boolean, seconds: number, code: number) {
      (streaming ? streams : unary).dec({ door });
      duration.observe({ door, method }, seconds);
      handled.inc({ door, method, code: statusCodeNames[code] ?? String(code) });
    },
  };
}

async function rpcSections(registry: Registry): Promise<string[]> {
  return Promise.all(rpcMetricNames.map((name) => registry.getSingleMetricAsString(name)));
}

describe("RPC metrics exposition", () => {
  it("prints exactly what prom-client's own metrics print for the same calls, interleaved, on bucket bounds, with unknown codes", async () => {
    let now = 1000;
    const metrics = createMetrics({ processMetrics: false, clock: () => now });
    const reference = createReference();
    const get = "roster.v1.GroupService/GetGroup";
    const check = "roster.v1.MembershipService/CheckMembership";
    const batch = "roster.v1.MembershipService/BatchMemberships";
    interface Open {
      readonly door: string;
      readonly method: string;
      readonly streaming: boolean;
      readonly startedAt: number;
      readonly finish: (code: number) => void;
    }
    const open: Open[] = [];
    const start = (door: string, method: string, streaming: boolean): Open => {
      reference.start(door, streaming);
      const call = { door, method, streaming, startedAt: now, finish: metrics.rpcStarted({ door, method, streaming }) };
      open.push(call);
      return call;
    };
    const end = (call: Open, code: number): void => {
      reference.finish(call.door, call.method, call.streaming, Math.round((now - call.startedAt) * 1e6) / 1e9, code);
      call.finish(code);
    };

    // Durations on and around every bound (0.5 ms is in the 0.0005 bucket, 0.5000001 ms is not), past the last one, and tiny.
    const durationsMs = [0.5, 0.5000001, 1, 2.5, 2.499999, 7, 100, 250.000001, 999.9, 1000, 9999, 10000, 10000.001, 60000, 0.000001, 0];
    const doors = ["grpc", "web"];
    const methods = [check, get];
    const codes = [0, 5, 7, 0, 16, 99, 13, 0];
    let i = 0;
    for (const ms of durationsMs) {
      const door = doors[i % 2] as string;
      const a = start(door, methods[(i >> 1) % 2] as string, false);
      const b = start(doors[(i + 1) % 2] as string, batch, true);
      now += ms;
      end(a, codes[i % codes.length] as number);
      now += ms / 3;
      if (i % 3 !== 0) end(b, codes[(i + 3) % codes.length] as number);
      i++;
    }
    // Some calls still in flight on both kinds, so the gauges show non-zero values.
    start("grpc", get, false);
    start("web", batch, true);

    const got = await rpcSections(metrics.registry);
    const want = await rpcSections(reference.registry);
    expect(got).toEqual(want);
    expect(got[0]).toContain('roster_rpc_handled_total{door="web",method="roster.v1.MembershipService/CheckMembership",code="99"} 2');
    expect(got[1]).toContain(
      'roster_rpc_duration_seconds_bucket{le="0.0005",door="grpc",method="roster.v1.MembershipService/CheckMembership"} ',
    );
    expect(got[2]).toBe(
      '# HELP roster_rpcs_in_flight Unary RPCs being served, by door.\n# TYPE roster_rpcs_in_flight gauge\nroster_rpcs_in_flight{door="grpc"} 1\nroster_rpcs_in_flight{door="web"} 0',
    );

    // The JSON form (getSingleMetric(...).get()) agrees too: values, labels and their order.
    for (const name of rpcMetricNames) {
      const mine = await metrics.registry.getSingleMetric(name)?.get();
      const theirs = await reference.registry.getSingleMetric(name)?.get();
      expect(JSON.parse(JSON.stringify(mine))).toEqual(JSON.parse(JSON.stringify(theirs)));
    }
  });

  it("prints no series before the first call and keeps scraping idempotent", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const reference = createReference();
    expect(await rpcSections(metrics.registry)).toEqual(await rpcSections(reference.registry));
    metrics.rpcStarted({ door: "grpc", method: "m", streaming: false })(0);
    const first = await rpcSections(metrics.registry);
    expect(await rpcSections(metrics.registry)).toEqual(first);
    expect(first[0]).toContain('roster_rpc_handled_total{door="grpc",method="m",code="OK"} 1');
  });
});

describe("metrics interceptor", () => {
  const getGroup = GroupService.method.getGroup;
  const batch = MembershipService.method.batchMemberships;

  function request(method: typeof getGroup | typeof batch, door: "grpc" | "web") {
    return {
      stream: method.methodKind !== "unary",
      method,
      service: method.parent,
      contextValues: createContextValues().set(callInfoKey, { door, protocol: door, peer: "p" }),
      message: create(GetGroupRequestSchema),
    } as never;
  }

  async function handled(metrics: ReturnType<typeof createMetrics>): Promise<string> {
    return metrics.registry.getSingleMetricAsString("roster_rpc_handled_total");
  }

  it("counts a unary call once, with its code, whether it answers or throws", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const interceptor: Interceptor = metricsInterceptorFor(metrics);
    const ok = interceptor(() => Promise.resolve({ stream: false, message: create(GetGroupResponseSchema) } as unknown as UnaryResponse));
    const denied = interceptor(() => Promise.reject(new ConnectError("no", Code.PermissionDenied)));
    await ok(request(getGroup, "grpc"));
    await expect(denied(request(getGroup, "web"))).rejects.toThrow("no");
    expect(await handled(metrics)).toContain('roster_rpc_handled_total{door="grpc",method="roster.v1.GroupService/GetGroup",code="OK"} 1');
    expect(await handled(metrics)).toContain(
      'roster_rpc_handled_total{door="web",method="roster.v1.GroupService/GetGroup",code="PERMISSION_DENIED"} 1',
    );
    expect(metricsInterceptorFor(metrics)).toBe(interceptor);
  });

  it("counts a stream when it ends, with the error it ends with, and keeps it in flight until then", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const interceptor = metricsInterceptorFor(metrics);
    async function* messages(fail: boolean) {
      yield create(GetGroupResponseSchema);
      await Promise.resolve();
      yield create(GetGroupResponseSchema);
      if (fail) throw new ConnectError("gone", Code.Unavailable);
    }
    const inFlight = async (): Promise<string> => metrics.registry.getSingleMetricAsString("roster_streams_in_flight");
    const open = async (fail: boolean): Promise<StreamResponse> => {
      const call = interceptor(() => Promise.resolve({ stream: true, message: messages(fail) } as unknown as StreamResponse));
      return (await call(request(batch, "grpc"))) as StreamResponse;
    };
    const first = await open(false);
    expect(await inFlight()).toContain('roster_streams_in_flight{door="grpc"} 1');
    expect(await handled(metrics)).not.toContain("BatchMemberships");
    for await (const _ of first.message) expect(await inFlight()).toContain('roster_streams_in_flight{door="grpc"} 1');
    expect(await inFlight()).toContain('roster_streams_in_flight{door="grpc"} 0');

    const run = async (fail: boolean): Promise<number> => {
      const res = await open(fail);
      let n = 0;
      try {
        for await (const _ of res.message) n++;
      } catch (error) {
        expect(ConnectError.from(error).code).toBe(Code.Unavailable);
      }
      return n;
    };
    // Many at once: each counted exactly once.
    expect(await Promise.all([run(false), run(true), run(false), run(true), run(true)])).toEqual([2, 2, 2, 2, 2]);
    expect(await handled(metrics)).toContain(
      'roster_rpc_handled_total{door="grpc",method="roster.v1.MembershipService/BatchMemberships",code="OK"} 3',
    );
    expect(await handled(metrics)).toContain(
      'roster_rpc_handled_total{door="grpc",method="roster.v1.MembershipService/BatchMemberships",code="UNAVAILABLE"} 3',
    );
    expect(await inFlight()).toContain('roster_streams_in_flight{door="grpc"} 0');
    expect(await metrics.registry.getSingleMetricAsString("roster_rpc_duration_seconds")).toContain(
      'roster_rpc_duration_seconds_count{door="grpc",method="roster.v1.MembershipService/BatchMemberships"} 6',
    );
  });
});
