/**
 * Every HTTP response of the web door carries `x-request-id`, whoever answers
 * it — the pipeline (successes and errors, Connect and gRPC-web), connect-node
 * before the pipeline (a bad body), connect-node without any call (404, 405,
 * 415), the CORS policy (preflight, refusal) and the operator endpoints — and
 * the request's one log line has the same id. A sane id sent by the client is
 * echoed; anything else is replaced. Against the whole service (startRoster)
 * with real HTTP requests.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetGroupRequestSchema } from "../../gen/roster/v1/group_service_pb.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";

const allowedOrigin = "https://app.example.com";
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let mongo: TestMongo;
let roster: TestRoster;
let token: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({
    mongoUri: mongo.uri,
    dbName: uniqueDbName("web_request_ids"),
    // Probes and preflights are logged at debug level.
    env: { ROSTER_CORS_ORIGINS: allowedOrigin, ROSTER_LOG_LEVEL: "debug" },
  });
  token = await roster.token("alice");
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

/** The log lines carrying `requestId`, once the one expected has been written (lines are written on close). */
async function linesOf(requestId: string): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 2000;
  const find = (): Record<string, unknown>[] => roster.logs().filter((line) => line["requestId"] === requestId);
  while (find().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  // Give a second (duplicate) line a chance to show up before the caller asserts there is exactly one.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return find();
}

/** Sends the request and returns the response with its request id, asserting the id is present. */
async function send(path: string, init: RequestInit = {}): Promise<{ res: Response; id: string }> {
  const res = await fetch(`${roster.httpUrl}${path}`, init);
  await res.arrayBuffer();
  const id = res.headers.get("x-request-id");
  expect(id, `x-request-id of ${init.method ?? "GET"} ${path} (${res.status})`).not.toBeNull();
  return { res, id: id ?? "" };
}

const connectJson = { "content-type": "application/json", "connect-protocol-version": "1" };

describe("x-request-id on every web door response, the same as the request's log line", () => {
  it.each([
    ["an RPC that succeeds", "/roster.v1.GroupService/ListGroups", "{}", 200, "OK"],
    ["an RPC that fails", "/roster.v1.GroupService/GetGroup", '{"id": "missing"}', 404, "NOT_FOUND"],
    [
      "a body connect-node cannot parse (before the pipeline)",
      "/roster.v1.GroupService/CreateGroup",
      '{"group": ',
      400,
      "INVALID_ARGUMENT",
    ],
    ["an unknown method (404)", "/roster.v1.GroupService/NoSuchMethod", "{}", 404, "UNIMPLEMENTED"],
  ])("%s: a generated id, logged on the call's rpc line", async (_what, path, body, status, code) => {
    const { res, id } = await send(path, { method: "POST", headers: { ...connectJson, authorization: `Bearer ${token}` }, body });
    expect(res.status).toBe(status);
    expect(id).toMatch(uuidPattern);
    const lines = await linesOf(id);
    expect(lines.map((line) => [line["msg"], line["code"], line["door"]])).toEqual([["rpc", code, "web"]]);
  });

  it("a gRPC-web call: the id in the HTTP headers", async () => {
    const message = toBinary(GetGroupRequestSchema, create(GetGroupRequestSchema, { id: "missing" }));
    const frame = new Uint8Array(5 + message.length);
    new DataView(frame.buffer).setUint32(1, message.length);
    frame.set(message, 5);
    const { res, id } = await send("/roster.v1.GroupService/GetGroup", {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        authorization: `Bearer ${token}`,
        "x-request-id": "grpc-web-1",
      },
      body: frame,
    });
    expect(res.status).toBe(200);
    expect(id).toBe("grpc-web-1");
    expect((await linesOf(id)).map((line) => [line["code"], line["protocol"]])).toEqual([["NOT_FOUND", "grpc-web"]]);
  });

  it.each([
    [
      "the wrong HTTP method for a method (405)",
      "/roster.v1.GroupService/CreateGroup",
      { method: "GET" },
      405,
      "GET /roster.v1.GroupService/CreateGroup",
    ],
    [
      "an unsupported content type (415)",
      "/roster.v1.GroupService/ListGroups",
      { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" },
      415,
      "POST /roster.v1.GroupService/ListGroups",
    ],
    ["a path that is no RPC (404)", "/favicon.ico", { method: "GET" }, 404, "GET /favicon.ico"],
    [
      "an origin not allowed (403)",
      "/roster.v1.GroupService/ListGroups",
      { method: "POST", headers: { ...connectJson, origin: "https://evil.example" }, body: "{}" },
      403,
      "POST /roster.v1.GroupService/ListGroups",
    ],
  ] as const)("%s: a generated id, logged on an http line", async (_what, path, init, status, http) => {
    const { res, id } = await send(path, init);
    expect(res.status).toBe(status);
    expect(id).toMatch(uuidPattern);
    const lines = await linesOf(id);
    expect(lines.map((line) => [line["msg"], line["level"], line["http"], line["status"]])).toEqual([["http", 30, http, status]]);
  });

  it.each([
    ["/healthz", { method: "GET" }, 200],
    ["/readyz", { method: "GET" }, 200],
    ["/metrics", { method: "GET" }, 200],
    ["/metrics", { method: "HEAD" }, 200],
    ["/healthz", { method: "POST" }, 405],
    [
      "/roster.v1.GroupService/ListGroups",
      {
        method: "OPTIONS",
        headers: { origin: allowedOrigin, "access-control-request-method": "POST", "access-control-request-headers": "x-request-id" },
      },
      204,
    ],
  ] as const)("%s (%j): an id, logged at debug level (probes and preflights come every few seconds)", async (path, init, status) => {
    const { res, id } = await send(path, init);
    expect(res.status).toBe(status);
    expect(id).toMatch(uuidPattern);
    const lines = await linesOf(id);
    expect(lines.map((line) => [line["msg"], line["level"], line["status"]])).toEqual([["http", 20, status]]);
    // A browser may read it after a cross-origin call.
    if (init.method === "OPTIONS") expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-request-id");
  });

  it.each([
    [
      "an RPC",
      "client-rpc:1",
      "/roster.v1.GroupService/ListGroups",
      { method: "POST", headers: { ...connectJson, authorization: "Bearer x" }, body: "{}" },
    ],
    ["a 404", "client-404:1", "/roster.v1.GroupService/NoSuchMethod", { method: "POST", headers: connectJson, body: "{}" }],
    [
      "a 415",
      "client-415:1",
      "/roster.v1.GroupService/ListGroups",
      { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" },
    ],
    ["/readyz", "client-readyz:1", "/readyz", { method: "GET" }],
  ] as const)(
    "%s: echoes a sane client id (%s), replaces one that is not",
    async (_what, sane, path, init: { method: string; headers?: Record<string, string>; body?: string }) => {
      const echoed = await send(path, { ...init, headers: { ...init.headers, "x-request-id": sane } });
      expect(echoed.id).toBe(sane);
      expect((await linesOf(sane)).length).toBe(1);
      const replaced = await send(path, { ...init, headers: { ...init.headers, "x-request-id": "has spaces in it" } });
      expect(replaced.id).toMatch(uuidPattern);
      expect((await linesOf(replaced.id)).length).toBe(1);
      expect(roster.rawLogs()).not.toContain("has spaces in it");
    },
  );
});
