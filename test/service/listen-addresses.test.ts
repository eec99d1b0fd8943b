/**
 * Where `npm start` listens without ROSTER_HOST: in development mode (a
 * generated key anyone can mint tokens for) both doors bind loopback only,
 * 127.0.0.1 and ::1, and the start-up log says how to expose them; with a
 * configured key they bind every interface, IPv4 and IPv6 (`::`, dual-stack).
 * The bound sockets are read from the kernel's table (/proc/net/tcp, tcp6),
 * and every address is called, so no packet leaves the machine's loopback.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultListenHosts, machineFacts } from "../../src/config.ts";
import { createHealthClient } from "../fixtures/health-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startRosterProcess, type RosterProcess } from "../fixtures/roster-npm-start-process.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";

const machine = machineFacts();

/** The local addresses with a listening TCP socket on `port`, e.g. ["127.0.0.1", "::1"]. */
function listeningAddresses(port: number): string[] {
  const addresses: string[] = [];
  for (const [file, decode] of [
    ["/proc/net/tcp", decodeIpv4],
    ["/proc/net/tcp6", decodeIpv6],
  ] as const) {
    let table: string;
    try {
      table = readFileSync(file, "utf8");
    } catch {
      continue; // no IPv6 table on a machine without IPv6
    }
    for (const line of table.split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [hexAddress, hexPort] = (local ?? "").split(":");
      if (state === "0A" && hexAddress !== undefined && Number.parseInt(hexPort ?? "", 16) === port) addresses.push(decode(hexAddress));
    }
  }
  return addresses.sort();
}

/** The kernel writes an address as 32-bit words in host (little-endian) byte order. */
function wordBytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex.slice(word + i, word + i + 2), 16));
  }
  return bytes;
}

function decodeIpv4(hex: string): string {
  return wordBytes(hex).join(".");
}

function decodeIpv6(hex: string): string {
  const bytes = wordBytes(hex);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  // Enough of RFC 5952 for the addresses asserted here (::, ::1).
  return `:${groups.join(":")}`.replace(/(:0)+(:|$)/, "::").replace(/^:([^:])/, "$1");
}

/** Calls both doors at `host` (a loopback literal): GET /healthz and grpc.health.v1 Check. */
async function reachable(proc: RosterProcess, host: string): Promise<[number, string]> {
  const literal = host.includes(":") ? `[${host}]` : host;
  const httpPort = new URL(proc.httpUrl).port;
  const res = await fetch(`http://${literal}:${httpPort}/healthz`);
  const health = createHealthClient(`${literal}:${proc.grpcPort}`);
  try {
    return [res.status, await health.check("")];
  } finally {
    health.close();
  }
}

let mongo: TestMongo;

beforeAll(async () => {
  mongo = await startTestMongo();
});

afterAll(async () => {
  await mongo.stop();
});

describe.each([
  ["development mode (a generated key)", { ROSTER_JWT_SECRET: "" }, true],
  ["a configured key (ROSTER_JWT_SECRET)", {}, false],
] as const)("npm start without ROSTER_HOST, %s", (_mode, keyEnv, development) => {
  let proc: RosterProcess;
  const expected = defaultListenHosts(development, machine);

  beforeAll(async () => {
    proc = await startRosterProcess({ MONGODB_URI: withDatabase(mongo.uri, uniqueDbName("listen")), ROSTER_HOST: "", ...keyEnv });
  });

  afterAll(async () => {
    await proc.dispose();
  });

  it(`binds both doors to ${expected.join(" and ")} only`, () => {
    expect(expected).toEqual(development ? (machine.ipv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]) : [machine.ipv6 ? "::" : "0.0.0.0"]);
    expect(listeningAddresses(proc.grpcPort)).toEqual([...expected].sort());
    expect(listeningAddresses(Number(new URL(proc.httpUrl).port))).toEqual([...expected].sort());
    const listening = proc.logs().find((line) => line["msg"] === "roster gRPC door listening");
    expect(listening?.["hosts"]).toEqual(expected);
  });

  it.each(machine.ipv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"])("answers on %s (both doors)", async (host) => {
    expect(await reachable(proc, host)).toEqual([200, "SERVING"]);
  });

  it(development ? "says in its start-up log how to expose the doors" : "says nothing about loopback", () => {
    const line = proc
      .logs()
      .find((l) => typeof l["msg"] === "string" && l["msg"].startsWith("development mode: both doors listen on loopback only"));
    if (!development) {
      expect(line).toBeUndefined();
      return;
    }
    expect(line?.["msg"]).toBe(
      `development mode: both doors listen on loopback only (${expected.join(", ")}). To expose them, set ROSTER_HOST ` +
        "(ROSTER_HOST=:: for every interface, IPv4 and IPv6; ROSTER_HOST=0.0.0.0 for IPv4 only), or configure a JWT key " +
        "(ROSTER_JWT_SECRET, ROSTER_JWKS_URL or ROSTER_JWT_PUBLIC_KEY), with which every interface is the default",
    );
  });
});
