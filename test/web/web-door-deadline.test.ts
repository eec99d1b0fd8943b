/**
 * DEADLINE_EXCEEDED through the web door on a call that waits on the
 * database: the whole service runs over a real MongoDB behind a latency
 * proxy, which is made slow (every reply 1.5 s late) for the calls under
 * test. A ListGroups with a short deadline must end at its deadline with
 * DEADLINE_EXCEEDED — not when the database finally answers — through the
 * Connect protocol (connect-node client `timeoutMs`, and a raw request with
 * the `connect-timeout-ms` header so the status is the server's, not the
 * client's own timer), gRPC-web, and, for comparison, the gRPC door.
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { startLatencyProxy, type LatencyProxy } from "../fixtures/latency-proxy.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { failureOf } from "../fixtures/roster-grpc-client.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";

const dbDelayMs = 1500;
const deadlineMs = 300;

let mongo: TestMongo;
let proxy: LatencyProxy;
let roster: TestRoster;
let token: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  proxy = await startLatencyProxy(mongo.uri);
  roster = await startTestRoster({ mongoUri: proxy.uri, dbName: uniqueDbName("web_deadline") });
  token = await roster.token("alice");
  await roster.client.groups.createGroup({ group: { slug: "slow", displayName: "Slow" } }, { token });
});

afterEach(() => {
  proxy.setDelay(0);
});

afterAll(async () => {
  await roster.stop();
  await proxy.close();
  await mongo.stop();
});

/** Runs `call` against the slowed-down database; returns how long it took. */
async function timedWhileSlow(call: () => Promise<unknown>, delayMs = dbDelayMs): Promise<number> {
  proxy.setDelay(delayMs);
  const started = performance.now();
  await call();
  return performance.now() - started;
}

async function codeOf(call: Promise<unknown>): Promise<Code | "OK"> {
  try {
    await call;
    return "OK";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("web door: a call waiting on the database past its deadline", () => {
  it("is answered normally while the database is fast (the setup works)", async () => {
    const client = createClient(GroupService, createConnectTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" }));
    const res = await client.listGroups({}, { headers: { authorization: `Bearer ${token}` }, timeoutMs: 5000 });
    expect(res.groups.map((g) => g.slug)).toEqual(["slow"]);
  });

  it("really waits on the database: with a deadline that allows it, the slowed call succeeds after the delay", async () => {
    const client = createClient(GroupService, createConnectTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" }));
    const delayMs = 200;
    const ms = await timedWhileSlow(
      () => client.listGroups({}, { headers: { authorization: `Bearer ${token}` }, timeoutMs: 10_000 }),
      delayMs,
    );
    expect(ms).toBeGreaterThanOrEqual(delayMs);
  });

  it.each([
    ["Connect JSON", () => createConnectTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" })],
    ["Connect binary", () => createConnectTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1", useBinaryFormat: true })],
    ["gRPC-web", () => createGrpcWebTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" })],
  ] as const)("%s with timeoutMs ends with DEADLINE_EXCEEDED at the deadline", async (_name, transport: () => Transport) => {
    const client = createClient(GroupService, transport());
    let code: Code | "OK" = "OK";
    const ms = await timedWhileSlow(async () => {
      code = await codeOf(client.listGroups({}, { headers: { authorization: `Bearer ${token}` }, timeoutMs: deadlineMs }));
    });
    expect(code).toBe(Code.DeadlineExceeded);
    expect(ms).toBeLessThan(dbDelayMs);
  });

  it("the server itself answers deadline_exceeded to a raw Connect request with connect-timeout-ms, and logs it once", async () => {
    let response: Response | undefined;
    const ms = await timedWhileSlow(async () => {
      response = await fetch(`${roster.httpUrl}/roster.v1.GroupService/ListGroups`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "connect-protocol-version": "1",
          "connect-timeout-ms": String(deadlineMs),
          authorization: `Bearer ${token}`,
          "x-request-id": "slow-web-call",
        },
        body: "{}",
      });
    });
    expect(ms).toBeLessThan(dbDelayMs);
    // Connect maps deadline_exceeded to HTTP 504.
    expect(response?.status).toBe(504);
    expect(await response?.json()).toMatchObject({ code: "deadline_exceeded" });
    const lines = roster.logs().filter((line) => line["msg"] === "rpc" && line["requestId"] === "slow-web-call");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: "DEADLINE_EXCEEDED", door: "web", protocol: "connect", method: "roster.v1.GroupService/ListGroups" });
  });

  it("the gRPC door gives the same code for the same call", async () => {
    let failure: { code: string } | undefined;
    const ms = await timedWhileSlow(async () => {
      failure = await failureOf(roster.client.groups.listGroups({}, { token, deadlineMs }));
    });
    expect(failure?.code).toBe("DEADLINE_EXCEEDED");
    expect(ms).toBeLessThan(dbDelayMs);
  });
});
