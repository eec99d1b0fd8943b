/**
 * Health against a real database that goes away and comes back: Roster's
 * embedded MongoDB server is stopped and started again on the same port (so
 * this always runs against the embedded server, even when MONGODB_URI is set);
 * a MongoDB driver ping drives the monitor, and an external Watch stream sees
 * SERVING → NOT_SERVING → SERVING.
 */
import * as grpc from "@grpc/grpc-js";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createHealthMonitor, type HealthMonitor } from "../../src/ops/health.ts";
import { startEmbeddedMongo, type EmbeddedMongo } from "@roster/embedded-mongo";
import { createHealthClient, type HealthClient, type HealthStatus } from "../fixtures/health-client.ts";

let mongo: EmbeddedMongo;
let client: MongoClient;
let monitor: HealthMonitor;
let server: grpc.Server;
let health: HealthClient;

beforeAll(async () => {
  mongo = await startEmbeddedMongo();
  client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500, heartbeatFrequencyMS: 500 });
  monitor = createHealthMonitor({
    ping: async () => {
      await client.db("admin").command({ ping: 1 });
    },
    intervalMs: 100,
    timeoutMs: 1000,
  });
  server = new grpc.Server();
  monitor.register(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  health = createHealthClient(`127.0.0.1:${port}`);
});

afterAll(async () => {
  health.close();
  monitor.stop();
  server.forceShutdown();
  await client.close(true);
  await mongo.stop();
});

/** Reads Watch updates until `wanted` arrives (statuses in between are allowed). */
async function waitFor(watch: { next(timeoutMs?: number): Promise<HealthStatus> }, wanted: HealthStatus): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await watch.next(Math.max(1, deadline - Date.now()));
    if (status === wanted) return;
  }
}

it("turns NOT_SERVING while MongoDB is unreachable and SERVING when it returns", async () => {
  const port = mongo.port;
  const watch = health.watch("roster.v1.GroupService");
  await waitFor(watch, "SERVING");
  expect(await health.check("")).toBe("SERVING");

  await mongo.stop();
  await waitFor(watch, "NOT_SERVING");
  expect(await health.check("")).toBe("NOT_SERVING");
  expect(monitor.isReady()).toBe(false);

  mongo = await startEmbeddedMongo({ port });
  await waitFor(watch, "SERVING");
  expect(await health.check("roster.v1.MembershipService")).toBe("SERVING");
  expect(monitor.isReady()).toBe(true);
  watch.cancel();
});
