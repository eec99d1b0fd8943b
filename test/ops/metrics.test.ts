/**
 * The metrics registry: RPC counters, latency and in-flight gauges as the
 * pipeline feeds them, MongoDB pool figures from a real driver against a real
 * server, and the Prometheus text exposition.
 */
import { MongoClient } from "mongodb";
import { describe, expect, it } from "vitest";
import { createMetrics, type RosterMetrics } from "../../src/ops/metrics.ts";
import { observePool } from "../../src/storage/pool-events.ts";
import { startTestMongo } from "../fixtures/test-mongo.ts";

async function valueOf(metrics: RosterMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return found?.value;
}

describe("RPC metrics", () => {
  it("counts RPCs by door, method and code, and times them", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const getGroup = { door: "grpc", method: "roster.v1.GroupService/GetGroup", streaming: false };
    const finishFirst = metrics.rpcStarted(getGroup);
    const finishSecond = metrics.rpcStarted(getGroup);
    expect(await valueOf(metrics, "roster_rpcs_in_flight", { door: "grpc" })).toBe(2);
    finishFirst(0);
    finishSecond(5);
    finishSecond(5); // a second report of the same call is ignored
    expect(await valueOf(metrics, "roster_rpcs_in_flight", { door: "grpc" })).toBe(0);
    expect(await valueOf(metrics, "roster_rpc_handled_total", { door: "grpc", method: getGroup.method, code: "OK" })).toBe(1);
    expect(await valueOf(metrics, "roster_rpc_handled_total", { door: "grpc", method: getGroup.method, code: "NOT_FOUND" })).toBe(1);

    const text = (await metrics.render()).body;
    expect(text).toContain('roster_rpc_handled_total{door="grpc",method="roster.v1.GroupService/GetGroup",code="NOT_FOUND"} 1');
    expect(text).toContain('roster_rpc_duration_seconds_count{door="grpc",method="roster.v1.GroupService/GetGroup"} 2');
  });

  it("tracks streams separately from unary RPCs", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const finish = metrics.rpcStarted({ door: "web", method: "roster.v1.MembershipService/BatchMemberships", streaming: true });
    expect(await valueOf(metrics, "roster_streams_in_flight", { door: "web" })).toBe(1);
    expect(await valueOf(metrics, "roster_rpcs_in_flight", { door: "web" })).toBeUndefined();
    finish(1);
    expect(await valueOf(metrics, "roster_streams_in_flight", { door: "web" })).toBe(0);
    expect(await valueOf(metrics, "roster_rpc_handled_total", { door: "web", code: "CANCELLED" })).toBe(1);
  });

  it("renders Prometheus text with the process metrics", async () => {
    const metrics = createMetrics();
    const { contentType, body } = await metrics.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain("# TYPE process_cpu_user_seconds_total counter");
    expect(body).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
    expect(body).toContain("# HELP roster_rpc_handled_total");
  });

  it("keeps registries apart (no global state)", async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.rpcStarted({ door: "grpc", method: "m", streaming: false })(0);
    expect(await valueOf(a, "roster_rpc_handled_total", { method: "m" })).toBe(1);
    expect(await valueOf(b, "roster_rpc_handled_total", { method: "m" })).toBeUndefined();
  });
});

describe("MongoDB pool metrics", () => {
  it("follows the driver's connection pool", async () => {
    const mongo = await startTestMongo();
    const metrics = createMetrics({ processMetrics: false });
    const client = new MongoClient(mongo.uri, { maxPoolSize: 7 });
    const unsubscribe = observePool({ client, db: client.db("metrics_test") }, metrics.recordPoolEvent);
    try {
      await client.connect();
      const collection = client.db("metrics_test").collection("things");
      // Enough concurrent operations to need several connections.
      await Promise.all(Array.from({ length: 12 }, (_, i) => collection.insertOne({ i })));
      const address = new URL(mongo.uri.replace(/^mongodb:/, "http:")).host;

      expect(await valueOf(metrics, "roster_mongodb_pool_max_size", { address })).toBe(7);
      const open = (await valueOf(metrics, "roster_mongodb_pool_connections", { address })) ?? 0;
      expect(open).toBeGreaterThanOrEqual(1);
      expect(open).toBeLessThanOrEqual(7);
      expect(await valueOf(metrics, "roster_mongodb_pool_connections_in_use", { address })).toBe(0);
      expect(await valueOf(metrics, "roster_mongodb_pool_wait_queue", { address })).toBe(0);

      await client.close();
      expect(await valueOf(metrics, "roster_mongodb_pool_connections", { address })).toBe(0);
    } finally {
      unsubscribe();
      await client.close();
      await mongo.stop();
    }
  });
});
