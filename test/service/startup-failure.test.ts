/**
 * A start that fails half-way must not leave a door listening: the process
 * would otherwise hold its ports while reporting that it failed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, machineFacts } from "../../src/config.ts";
import { startRoster } from "../../src/server.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";

let mongo: TestMongo;
beforeAll(async () => {
  mongo = await startTestMongo();
});
afterAll(async () => {
  await mongo.stop();
});

function listen(port: number, host = "127.0.0.1"): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, host, () => {
      resolve(server);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

async function freePort(): Promise<number> {
  const server = await listen(0);
  const address = server.address();
  await close(server);
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("startRoster failing half-way", () => {
  it("rejects when the web port is taken and releases the gRPC port it had bound", async () => {
    const taken = await listen(0);
    const takenAddress = taken.address();
    if (takenAddress === null || typeof takenAddress === "string") throw new Error("no port");
    const grpcPort = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), "roster-startup-"));
    try {
      const config = loadConfig({
        MONGODB_URI: withDatabase(mongo.uri, uniqueDbName("startup")),
        ROSTER_DATA_DIR: dataDir,
        ROSTER_HOST: "127.0.0.1",
        ROSTER_GRPC_PORT: String(grpcPort),
        ROSTER_HTTP_PORT: String(takenAddress.port),
        ROSTER_JWT_SECRET: "a-test-secret-that-is-long-enough-for-hs256!",
        ROSTER_LOG_LEVEL: "silent",
      });
      await expect(startRoster(config)).rejects.toThrow(/EADDRINUSE|address already in use/i);
      // The gRPC door was stopped again: its port can be bound.
      await close(await listen(grpcPort));
    } finally {
      await close(taken);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!machineFacts().ipv6).each(["gRPC", "web"] as const)(
    "rejects when the %s door's second address (::1) is taken and releases both doors' 127.0.0.1 ports",
    async (door) => {
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      const taken = await listen(door === "gRPC" ? grpcPort : httpPort, "::1");
      const dataDir = await mkdtemp(join(tmpdir(), "roster-startup-"));
      try {
        // Development mode without ROSTER_HOST: both doors bind 127.0.0.1, then ::1.
        const config = loadConfig(
          {
            MONGODB_URI: withDatabase(mongo.uri, uniqueDbName("startup")),
            ROSTER_DATA_DIR: dataDir,
            ROSTER_GRPC_PORT: String(grpcPort),
            ROSTER_HTTP_PORT: String(httpPort),
            ROSTER_LOG_LEVEL: "silent",
          },
          [],
          { ipv6: true },
        );
        expect(config.hosts).toEqual(["127.0.0.1", "::1"]);
        const port = door === "gRPC" ? grpcPort : httpPort;
        await expect(startRoster(config)).rejects.toThrow(`${door} door cannot listen on ::1:${port}`);
        await close(await listen(grpcPort));
        await close(await listen(httpPort));
      } finally {
        await close(taken);
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  );
});
