/**
 * A TCP proxy in front of a MongoDB server that can make the database slow on
 * demand: while `delayMs` is above 0, every reply from the server reaches
 * Roster that much later (order preserved). Tests use it to make calls wait
 * on a real database past their deadline, without touching Roster's code.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface LatencyProxy {
  /** The MongoDB URI to give Roster: `mongoUri` with the proxy's address. */
  readonly uri: string;
  /** Delay of server → client data from now on (0: none). */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free port of 127.0.0.1 in front of the server of `mongoUri` (`mongodb://host:port/...`). */
export async function startLatencyProxy(mongoUri: string): Promise<LatencyProxy> {
  const match = /^mongodb:\/\/([^/:?]+):(\d+)(.*)$/.exec(mongoUri);
  if (match === null) throw new Error(`latency proxy: need a mongodb://host:port URI, got ${mongoUri}`);
  const [, targetHost = "", targetPort = "", rest = ""] = match;
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: targetHost, port: Number(targetPort) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    // Each chunk is released no earlier than the one before, so lowering the delay never reorders replies.
    let lastRelease = 0;
    upstream.on("data", (chunk: Buffer) => {
      const now = Date.now();
      const releaseAt = Math.max(now + delayMs, lastRelease);
      lastRelease = releaseAt;
      if (releaseAt <= now) client.write(chunk);
      else setTimeout(() => client.write(chunk), releaseAt - now);
    });
    upstream.once("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    uri: `mongodb://127.0.0.1:${port}${rest}`,
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
