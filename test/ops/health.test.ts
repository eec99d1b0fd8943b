/**
 * grpc.health.v1 through a real grpc-js server and a wire-level client: the
 * statuses follow the database probe, Watch streams see every flip, and
 * shutdown turns everything NOT_SERVING for good.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHealthMonitor, type HealthMonitor } from "../../src/ops/health.ts";
import { createHealthClient, type HealthClient } from "../fixtures/health-client.ts";

const services = ["", "roster.v1.GroupService", "roster.v1.MembershipService", "roster.v1.ChangeService"];

async function startServer(monitor: HealthMonitor): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server();
  monitor.register(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  return { server, address: `127.0.0.1:${port}` };
}

describe("health monitor driven by a ping function", () => {
  let databaseUp: boolean;
  let hang: boolean;
  let monitor: HealthMonitor;
  let server: grpc.Server;
  let client: HealthClient;
  const logged: string[] = [];

  beforeEach(async () => {
    databaseUp = false;
    hang = false;
    logged.length = 0;
    monitor = createHealthMonitor({
      ping: () => {
        if (hang) return new Promise<void>(() => undefined);
        return databaseUp ? Promise.resolve() : Promise.reject(new Error("connect ECONNREFUSED"));
      },
      // Long interval: the test drives probes with probeNow() instead of sleeping.
      intervalMs: 60_000,
      timeoutMs: 100,
      log: { info: (_o, m) => logged.push(`info ${m}`), warn: (_o, m) => logged.push(`warn ${m}`) },
    });
    const started = await startServer(monitor);
    server = started.server;
    client = createHealthClient(started.address);
  });

  afterEach(() => {
    client.close();
    monitor.stop();
    server.forceShutdown();
  });

  it("is NOT_SERVING overall and per service while the database is down, SERVING once it answers", async () => {
    expect(await monitor.probeNow()).toBe(false);
    for (const name of services) expect(await client.check(name), name).toBe("NOT_SERVING");
    expect(monitor.isReady()).toBe(false);

    databaseUp = true;
    expect(await monitor.probeNow()).toBe(true);
    for (const name of services) expect(await client.check(name), name).toBe("SERVING");
    expect(monitor.isReady()).toBe(true);

    databaseUp = false;
    await monitor.probeNow();
    for (const name of services) expect(await client.check(name), name).toBe("NOT_SERVING");
    databaseUp = true;
    await monitor.probeNow();
    // One line per change: the first probe's outcome, then "reachable" (never "again" the first time).
    expect(logged).toEqual([
      "warn database unreachable: health NOT_SERVING",
      "info database reachable: health SERVING",
      "warn database unreachable: health NOT_SERVING",
      "info database reachable again: health SERVING",
    ]);
  });

  it("answers NOT_FOUND for a service it does not report", async () => {
    await expect(client.check("roster.v1.NoSuchService")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("Watch streams see each flip, and only flips", async () => {
    await monitor.probeNow();
    const overall = client.watch("");
    const groups = client.watch("roster.v1.GroupService");
    expect(await overall.next()).toBe("NOT_SERVING");
    expect(await groups.next()).toBe("NOT_SERVING");

    databaseUp = true;
    await monitor.probeNow();
    await monitor.probeNow(); // a second success must not send a duplicate update
    expect(await overall.next()).toBe("SERVING");
    expect(await groups.next()).toBe("SERVING");

    databaseUp = false;
    await monitor.probeNow();
    expect(await overall.next()).toBe("NOT_SERVING");
    expect(await groups.next()).toBe("NOT_SERVING");
    overall.cancel();
    groups.cancel();
  });

  it("counts a probe that outlasts the timeout as a failure", async () => {
    databaseUp = true;
    await monitor.probeNow();
    expect(await client.check("")).toBe("SERVING");
    hang = true;
    expect(await monitor.probeNow()).toBe(false);
    expect(await client.check("")).toBe("NOT_SERVING");
  });

  it("stays NOT_SERVING after setShuttingDown even though the database answers", async () => {
    databaseUp = true;
    await monitor.probeNow();
    const watch = client.watch("roster.v1.MembershipService");
    expect(await watch.next()).toBe("SERVING");
    monitor.setShuttingDown();
    expect(await watch.next()).toBe("NOT_SERVING");
    expect(await monitor.probeNow()).toBe(false);
    for (const name of services) expect(await client.check(name), name).toBe("NOT_SERVING");
    expect(monitor.isReady()).toBe(false);
    watch.cancel();
  });

  it("ends open Watch streams at shutdown after NOT_SERVING, so they do not hold the server's drain", async () => {
    databaseUp = true;
    await monitor.probeNow();
    const serving = client.watch("");
    expect(await serving.next()).toBe("SERVING");
    monitor.setShuttingDown();
    expect(await serving.next()).toBe("NOT_SERVING");
    expect(await serving.ended).toBe(grpc.status.OK);
    // A Watch opened during shutdown hears NOT_SERVING and ends at once.
    const late = client.watch("roster.v1.GroupService");
    expect(await late.next()).toBe("NOT_SERVING");
    expect(await late.ended).toBe(grpc.status.OK);
    // With no call left open, a graceful shutdown completes (an open Watch kept it waiting).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("tryShutdown still waiting after 3 s"));
      }, 3000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  });
});

describe("health monitor polling on its own", () => {
  it("flips without being asked, on its interval", async () => {
    let up = true;
    const monitor = createHealthMonitor({
      ping: () => (up ? Promise.resolve() : Promise.reject(new Error("down"))),
      intervalMs: 20,
      timeoutMs: 100,
    });
    const { server, address } = await startServer(monitor);
    const client = createHealthClient(address);
    try {
      const watch = client.watch("");
      // The first update is whatever the status is when Watch starts; wait for SERVING.
      let status = await watch.next();
      if (status !== "SERVING") status = await watch.next();
      expect(status).toBe("SERVING");
      up = false;
      expect(await watch.next(2000)).toBe("NOT_SERVING");
      up = true;
      expect(await watch.next(2000)).toBe("SERVING");
      watch.cancel();
    } finally {
      client.close();
      monitor.stop();
      server.forceShutdown();
    }
  });
});
