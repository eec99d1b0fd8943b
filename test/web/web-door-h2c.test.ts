/**
 * The web door's plaintext port speaks HTTP/2 with prior knowledge (h2c) next
 * to HTTP/1.1: Connect and gRPC-web clients with `httpVersion: "2"` against an
 * http:// URL, curl --http2-prior-knowledge, and the door's own answers (ops
 * endpoints, CORS, request ids, limits, bad bodies) identical on both
 * versions. web-door.test.ts runs its shutdown tests (an open h2c session
 * drained like an HTTP/1.1 connection) over both versions.
 * A small in-memory GroupService stands in for Roster's handlers, as in
 * web-door.test.ts.
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { request as httpRequest } from "node:http";
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { connect as netConnect } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GroupSchema } from "../../gen/roster/v1/group_pb.ts";
import { GroupService, type GetGroupRequest } from "../../gen/roster/v1/group_service_pb.ts";
import { createMetrics } from "../../src/ops/metrics.ts";
import { callInfoKey, deadlineKey } from "../../src/rpc/context.ts";
import { startWebDoor, type WebDoor } from "../../src/transport/connect/web-door.ts";

const allowedOrigin = "http://127.0.0.1:1";
const maxMessageBytes = 4096;

/** Echoes what the door put in the call's context. */
const echoCallFacts: Interceptor = (next) => async (req) => {
  const res = await next(req);
  const deadline = req.contextValues.get(deadlineKey);
  res.header.set("x-test-protocol", req.contextValues.get(callInfoKey)?.protocol ?? "");
  res.header.set("x-test-peer", req.contextValues.get(callInfoKey)?.peer ?? "");
  res.header.set("x-test-deadline-in", deadline === undefined ? "none" : String(deadline - Date.now()));
  return res;
};

interface Fake {
  calls: number;
}

function startDoor(fake: Fake): Promise<WebDoor> {
  const group = create(GroupSchema, { id: "g1", slug: "one" });
  return startWebDoor({
    services: [
      {
        service: GroupService,
        impl: {
          getGroup: (req: GetGroupRequest) => {
            fake.calls++;
            if (req.id !== group.id) throw new ConnectError(`group "${req.id}" not found`, Code.NotFound);
            return { group };
          },
        },
      },
    ],
    pipeline: { interceptors: [echoCallFacts] },
    config: { hosts: ["127.0.0.1"], httpPort: 0, corsOrigins: [allowedOrigin], maxMessageBytes, httpTls: undefined },
    health: { isReady: () => true },
    metrics: createMetrics({ processMetrics: false }),
    logger: pino({ level: "silent" }),
  });
}

/** What a raw exchange produced, the same shape for both HTTP versions. */
interface Exchange {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/** The headers worth comparing across versions (not date, connection, keep-alive, content-length). */
const comparedHeaders = [
  "content-type",
  "x-request-id",
  "vary",
  "access-control-allow-origin",
  "access-control-allow-methods",
  "access-control-allow-headers",
  "access-control-expose-headers",
  "access-control-max-age",
  "grpc-status",
  "grpc-message",
];

function pick(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of comparedHeaders) {
    const value = headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

function overHttp1(url: string, raw: RawRequest): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${raw.path}`, { method: raw.method, headers: raw.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: pick(res.headers), body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.on("error", reject);
    req.end(raw.body);
  });
}

function overH2c(session: ClientHttp2Session, raw: RawRequest): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    // content-length as node:http sends it for the HTTP/1.1 twin (connect words a size error differently without it).
    const length = raw.body === undefined ? {} : { "content-length": String(Buffer.byteLength(raw.body)) };
    const stream = session.request({ ":method": raw.method, ":path": raw.path, ...length, ...raw.headers });
    let status = 0;
    let headers: Record<string, string> = {};
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = pick(h);
    });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      resolve({ status, headers, body: Buffer.concat(chunks).toString("utf8") });
    });
    stream.on("error", reject);
    stream.end(raw.body);
  });
}

function h2cSession(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url);
    session.once("connect", () => {
      resolve(session);
    });
    session.once("error", reject);
  });
}

const connectJson = { "content-type": "application/json", "connect-protocol-version": "1" };

function hasCurl(): boolean {
  try {
    return execFileSync("curl", ["--version"], { encoding: "utf8" }).includes("HTTP2");
  } catch {
    return false;
  }
}
const curlAvailable = hasCurl();

describe("web door over h2c (HTTP/2 with prior knowledge, no TLS)", () => {
  const fake: Fake = { calls: 0 };
  let door: WebDoor;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    door = await startDoor(fake);
    session = await h2cSession(door.url);
  });
  afterAll(async () => {
    session.close();
    await door.close(0);
  });

  it.each([
    ["connect", createConnectTransport],
    ["grpc-web", createGrpcWebTransport],
  ] as const)(
    "%s with httpVersion 2 on the http:// URL: protocol, peer and deadline as over HTTP/1.1",
    async (protocol, createTransport) => {
      const sessions = new Http2SessionManager(door.url);
      try {
        const client = createClient(GroupService, createTransport({ baseUrl: door.url, httpVersion: "2", sessionManager: sessions }));
        let headers: Headers | undefined;
        const response = await client.getGroup({ id: "g1" }, { timeoutMs: 5000, onHeader: (h) => (headers = h) });
        expect(response.group?.slug).toBe("one");
        expect(headers?.get("x-test-protocol")).toBe(protocol);
        expect(headers?.get("x-test-peer")).toMatch(/^127\.0\.0\.1:\d+$/);
        const deadlineIn = Number(headers?.get("x-test-deadline-in"));
        expect(deadlineIn).toBeGreaterThan(4000);
        expect(deadlineIn).toBeLessThanOrEqual(5000);
        // Several calls at once share the one session.
        const many = await Promise.all(Array.from({ length: 8 }, () => client.getGroup({ id: "g1" })));
        expect(many.map((r) => r.group?.id)).toEqual(Array(8).fill("g1"));
        await expect(client.getGroup({ id: "nope" })).rejects.toMatchObject({ code: Code.NotFound, rawMessage: 'group "nope" not found' });
      } finally {
        sessions.abort();
      }
    },
  );

  const body = (size: number): Buffer => {
    // A Connect binary GetGroupRequest whose id is `size` bytes (field 1, length-delimited, 2-byte varint length).
    const id = Buffer.alloc(size, "x");
    return Buffer.concat([Buffer.from([0x0a, (size & 0x7f) | 0x80, size >> 7]), id]);
  };
  const requestId = "h2c-request-id-1";
  const cases: readonly (readonly [string, RawRequest])[] = [
    ["GET /healthz", { method: "GET", path: "/healthz" }],
    ["GET /readyz", { method: "GET", path: "/readyz" }],
    ["POST /healthz (405)", { method: "POST", path: "/healthz" }],
    ["an unknown path (404)", { method: "GET", path: "/nowhere" }],
    ["a sane x-request-id is echoed", { method: "GET", path: "/healthz", headers: { "x-request-id": requestId } }],
    [
      "a CORS preflight from an allowed origin",
      {
        method: "OPTIONS",
        path: "/roster.v1.GroupService/GetGroup",
        headers: { origin: allowedOrigin, "access-control-request-method": "POST", "x-request-id": requestId },
      },
    ],
    [
      "a call from a foreign origin (403)",
      {
        method: "POST",
        path: "/roster.v1.GroupService/GetGroup",
        headers: { ...connectJson, origin: "http://127.0.0.1:2", "x-request-id": requestId },
        body: '{"id":"g1"}',
      },
    ],
    [
      "a Connect JSON call from an allowed origin",
      {
        method: "POST",
        path: "/roster.v1.GroupService/GetGroup",
        headers: { ...connectJson, origin: allowedOrigin, "x-request-id": requestId },
        body: '{"id":"g1"}',
      },
    ],
    [
      "a body that is not JSON (Roster's INVALID_ARGUMENT)",
      { method: "POST", path: "/roster.v1.GroupService/GetGroup", headers: { ...connectJson, "x-request-id": requestId }, body: "{" },
    ],
    [
      "bytes that are not protobuf (Roster's INVALID_ARGUMENT)",
      {
        method: "POST",
        path: "/roster.v1.GroupService/GetGroup",
        headers: { "content-type": "application/proto", "connect-protocol-version": "1", "x-request-id": requestId },
        body: Buffer.from([0xff, 0xff, 0xff]),
      },
    ],
    [
      "a message above the size limit (RESOURCE_EXHAUSTED)",
      {
        method: "POST",
        path: "/roster.v1.GroupService/GetGroup",
        headers: { "content-type": "application/proto", "connect-protocol-version": "1", "x-request-id": requestId },
        body: body(maxMessageBytes + 10),
      },
    ],
    [
      "a malformed timeout header (INVALID_ARGUMENT)",
      {
        method: "POST",
        path: "/roster.v1.GroupService/GetGroup",
        headers: { ...connectJson, "connect-timeout-ms": "soon", "x-request-id": requestId },
        body: '{"id":"g1"}',
      },
    ],
  ];

  it.each(cases)("%s: the same answer over HTTP/2 as over HTTP/1.1", async (_name, raw) => {
    const h1 = await overHttp1(door.url, raw);
    const h2 = await overH2c(session, raw);
    // Generated ids differ per request; a sent one must be echoed by both.
    const { ["x-request-id"]: id1, ...rest1 } = h1.headers;
    const { ["x-request-id"]: id2, ...rest2 } = h2.headers;
    expect(id1).toBeDefined();
    expect(id2).toBeDefined();
    if (raw.headers?.["x-request-id"] !== undefined) expect([id1, id2]).toEqual([requestId, requestId]);
    expect({ ...h2, headers: rest2 }).toEqual({ ...h1, headers: rest1 });
  });

  it("the Connect answers above are Roster's, not connect-node's (sanity check of the table)", async () => {
    const notJson = await overH2c(session, cases[8]?.[1] ?? { method: "GET", path: "/" });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toEqual({
      code: "invalid_argument",
      message: "request: not a valid roster.v1.GetGroupRequest (malformed JSON, or a field of the wrong type)",
    });
    const tooBig = await overH2c(session, cases[10]?.[1] ?? { method: "GET", path: "/" });
    expect(JSON.parse(tooBig.body)).toEqual({
      code: "resource_exhausted",
      message: `message size ${maxMessageBytes + 13} is larger than configured readMaxBytes ${maxMessageBytes}`,
    });
  });

  it("reads a preface that arrives a few bytes at a time", async () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    const { port } = new URL(door.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(Number(port), "127.0.0.1", () => {
        const send = async (): Promise<void> => {
          for (let i = 0; i < preface.length; i += 5) {
            socket.write(preface.subarray(i, i + 5));
            await new Promise((r) => setTimeout(r, 5));
          }
          // An empty SETTINGS frame: the server answers with its own SETTINGS (type 4).
          socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
        };
        void send();
      });
      socket.once("data", (chunk: Buffer) => {
        resolve(`type ${chunk[3] ?? -1}`);
        socket.destroy();
      });
      socket.on("error", reject);
    });
    expect(answer).toBe("type 4");
  });

  // Asynchronously: the door answers from this process.
  it.skipIf(!curlAvailable)(`curl --http2-prior-knowledge${curlAvailable ? "" : " (skipped: no curl with HTTP/2)"}`, async () => {
    const curl = promisify(execFile);
    const out = await curl("curl", ["-s", "--http2-prior-knowledge", "-w", "\n%{http_version} %{http_code}", `${door.url}/healthz`]);
    expect(out.stdout).toBe("ok\n\n2 200");
    const call = await curl("curl", [
      "-s",
      "--http2-prior-knowledge",
      "-H",
      "content-type: application/json",
      "-d",
      '{"id":"g1"}',
      `${door.url}/roster.v1.GroupService/GetGroup`,
    ]);
    expect(JSON.parse(call.stdout)).toEqual({ group: { id: "g1", slug: "one" } });
  });
});

describe("web door shutdown, h2c", () => {
  let door: WebDoor | undefined;
  afterEach(async () => {
    await door?.close(0);
  });

  it("drops a connection that has not said which HTTP version it speaks", async () => {
    door = await startDoor({ calls: 0 });
    const { port } = new URL(door.url);
    const socket = netConnect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.on("error", () => undefined); // the door resets it
    socket.write("PRI * HT");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    const started = Date.now();
    await door.close(5000);
    await closed;
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
