/**
 * A client survives a restart of the server on the same port: hello carries a
 * topologyVersion, so the driver streams its monitoring hello (as against
 * mongod) and finds the restarted server within a second or two, also after a
 * second restart in the same client. When the server answered without one,
 * the driver polled, and a restart landing while a change stream waited on a
 * pooled connection left the driver's monitor waiting forever for a hello it
 * wrote on the monitoring connection the server had just closed: the client
 * never reached the server again (hello-commands.ts says why).
 *
 * The server process is stopped and restarted, which cannot be done to a
 * deployment given by MONGODB_URI, so these tests are skipped there.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MongoClient, ObjectId, type ServerHeartbeatSucceededEvent } from "mongodb";
import { spawnEmbeddedMongo, type SpawnedEmbeddedMongo } from "../../spawn-embedded-mongo.ts";

const externalDeployment = Boolean(process.env["MONGODB_URI"]);
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `call` until it succeeds; the error of the last try after `timeoutMs`. */
async function within<T>(timeoutMs: number, call: () => Promise<T>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > until) throw error;
      await sleep(100);
    }
  }
}

describe.skipIf(externalDeployment)(
  "a client and a server restart on the same port (embedded only: the test restarts the server process)",
  () => {
    it(
      "hello streams its topologyVersion, and the client reaches the server within seconds after each of two restarts while a change stream waits",
      { timeout: 60_000 },
      async () => {
        const dataDir = await mkdtemp(join(tmpdir(), "roster-restart-"));
        cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
        let server: SpawnedEmbeddedMongo = await spawnEmbeddedMongo({ dataDir });
        cleanups.push(() => server.stop(5_000));
        const port = Number(new URL(server.uri.replace("mongodb://", "http://")).port);
        // Default heartbeat settings, as Roster's client has them.
        const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 30_000 });
        cleanups.push(() => client.close(true));
        const heartbeats: ServerHeartbeatSucceededEvent[] = [];
        client.on("serverHeartbeatSucceeded", (event) => heartbeats.push(event));
        await client.connect();
        const collection = client.db("restart").collection<{ _id: number }>("c");
        await collection.insertOne({ _id: 0 });

        const hello = await client.db("admin").command({ hello: 1 });
        const topologyVersion = hello["topologyVersion"] as { processId?: unknown; counter?: unknown } | undefined;
        expect(topologyVersion?.processId).toBeInstanceOf(ObjectId);
        expect(Number(topologyVersion?.counter)).toBe(0);
        // A change stream keeps a getMore waiting on a pooled connection: its failure is what sends the driver's
        // monitor to check the server at once when the server goes away.
        const stream = collection.watch();
        stream.on("change", () => undefined);
        stream.on("error", () => undefined);
        cleanups.push(() => stream.close());

        for (const round of [1, 2]) {
          // Past the driver's minimum heartbeat interval (500 ms), so the failing getMore triggers an immediate check.
          await sleep(1_000);
          await server.stop();
          server = await spawnEmbeddedMongo({ dataDir, port });
          const restartedAt = Date.now();
          await within(10_000, () => collection.insertOne({ _id: round }, { timeoutMS: 1_000 }));
          expect(Date.now() - restartedAt, `round ${round}`).toBeLessThan(10_000);
        }
        expect(await collection.countDocuments()).toBe(3);
        // The driver streamed its monitoring hello (awaited), as it does against mongod.
        expect(heartbeats.some((event) => event.awaited)).toBe(true);
      },
    );
  },
);
