/**
 * The web door's own HTTP concerns, with a small in-memory GroupService in
 * place of Roster's handlers (the three-protocol suite runs the real ones):
 * operator endpoints, CORS, the message size limit, gzip, the per-call facts
 * the door hands the pipeline (door, protocol, peer, deadline), and draining
 * on close.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GroupSchema, type Group } from "../../gen/roster/v1/group_pb.ts";
import { GroupService, type CreateGroupRequest, type GetGroupRequest } from "../../gen/roster/v1/group_service_pb.ts";
import { createMetrics } from "../../src/ops/metrics.ts";
import { callInfoKey, deadlineKey } from "../../src/rpc/context.ts";
import { waitUntil } from "../fixtures/wait-until.ts";
import { startWebDoor, type WebDoor, type WebDoorOptions } from "../../src/transport/connect/web-door.ts";

const allowedOrigin = "http://127.0.0.1:1";
const foreignOrigin = "http://127.0.0.1:2";
const maxMessageBytes = 4096;

/** Echoes what the door put in the call's context as response headers. */
const echoCallFacts: Interceptor = (next) => async (req) => {
  const res = await next(req);
  const info = req.contextValues.get(callInfoKey);
  const deadline = req.contextValues.get(deadlineKey);
  res.header.set("x-test-door", info?.door ?? "");
  res.header.set("x-test-protocol", info?.protocol ?? "");
  res.header.set("x-test-peer", info?.peer ?? "");
  res.header.set("x-test-deadline-in", deadline === undefined ? "none" : String(deadline - Date.now()));
  res.header.set("x-test-http-method", req.requestMethod);
  return res;
};

interface Fake {
  groups: Group[];
  calls: number;
  /** Resolved by tests that hold a call open. */
  hold?: Promise<void>;
}

function fakeGroupService(fake: Fake): Record<string, unknown> {
  return {
    createGroup: (req: CreateGroupRequest) => {
      fake.calls++;
      const group = create(GroupSchema, {
        id: `g${fake.groups.length + 1}`,
        slug: req.group?.slug ?? "",
        description: req.group?.description ?? "",
      });
      fake.groups.push(group);
      return { group };
    },
    getGroup: async (req: GetGroupRequest, ctx: HandlerContext) => {
      fake.calls++;
      if (fake.hold !== undefined) {
        await Promise.race([
          fake.hold,
          new Promise((_, reject) => {
            ctx.signal.addEventListener("abort", () => {
              reject(ctx.signal.reason as Error);
            });
          }),
        ]);
      }
      const group = fake.groups.find((g) => g.id === req.id);
      if (group === undefined) throw new ConnectError(`group "${req.id}" not found`, Code.NotFound);
      return { group };
    },
    listGroups: () => {
      fake.calls++;
      return { groups: fake.groups };
    },
  };
}

async function startDoor(fake: Fake, overrides: Partial<WebDoorOptions> = {}): Promise<WebDoor> {
  return startWebDoor({
    services: [{ service: GroupService, impl: fakeGroupService(fake) }],
    pipeline: { interceptors: [echoCallFacts] },
    config: { hosts: ["127.0.0.1"], httpPort: 0, corsOrigins: [allowedOrigin], maxMessageBytes, httpTls: undefined },
    health: { isReady: () => true },
    metrics: createMetrics({ processMetrics: false }),
    logger: pino({ level: "silent" }),
    ...overrides,
  });
}

describe("web door over HTTP/1.1", () => {
  const fake: Fake = { groups: [], calls: 0 };
  let ready = true;
  let door: WebDoor;
  const metrics = createMetrics({ processMetrics: false });

  beforeAll(async () => {
    door = await startDoor(fake, { health: { isReady: () => ready }, metrics });
  });
  afterAll(async () => {
    await door.close(0);
  });

  describe("operator endpoints", () => {
    it("GET /healthz says the process is up", async () => {
      const res = await fetch(`${door.url}/healthz`);
      expect([res.status, await res.text()]).toEqual([200, "ok\n"]);
      // Probes reuse their connection (only early answers to unread bodies close it).
      expect(res.headers.get("connection")).toBe("keep-alive");
    });

    it("GET /readyz follows the database", async () => {
      ready = true;
      let res = await fetch(`${door.url}/readyz`);
      expect([res.status, await res.text()]).toEqual([200, "ready\n"]);
      ready = false;
      res = await fetch(`${door.url}/readyz`);
      expect([res.status, await res.text()]).toEqual([503, "not ready: database unreachable\n"]);
      ready = true;
    });

    it("GET /metrics counts the web door's RPCs in Prometheus text", async () => {
      const client = createClient(GroupService, createConnectTransport({ baseUrl: door.url, httpVersion: "1.1" }));
      await expect(client.getGroup({ id: "missing" })).rejects.toMatchObject({ code: Code.NotFound });
      const res = await fetch(`${door.url}/metrics`);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(await res.text()).toContain(
        'roster_rpc_handled_total{door="web",method="roster.v1.GroupService/GetGroup",code="NOT_FOUND"} 1',
      );
    });

    it("refuses other methods on the ops paths", async () => {
      const res = await fetch(`${door.url}/healthz`, { method: "POST" });
      expect(res.status).toBe(405);
    });
  });

  describe("call facts handed to the pipeline", () => {
    it.each([
      ["connect", createConnectTransport],
      ["grpc-web", createGrpcWebTransport],
    ] as const)("%s: door, protocol, peer and the client's deadline", async (protocol, createTransport) => {
      let headers: Headers | undefined;
      const client = createClient(GroupService, createTransport({ baseUrl: door.url, httpVersion: "1.1" }));
      await client.listGroups({}, { timeoutMs: 5000, onHeader: (h) => (headers = h) });
      expect(headers?.get("x-test-door")).toBe("web");
      expect(headers?.get("x-test-protocol")).toBe(protocol);
      expect(headers?.get("x-test-peer")).toMatch(/^127\.0\.0\.1:\d+$/);
      const deadlineIn = Number(headers?.get("x-test-deadline-in"));
      expect(deadlineIn).toBeGreaterThan(4000);
      expect(deadlineIn).toBeLessThanOrEqual(5000);
      await client.listGroups({}, { onHeader: (h) => (headers = h) });
      expect(headers?.get("x-test-deadline-in")).toBe("none");
    });

    it("serves side-effect-free methods with a cacheable GET", async () => {
      let headers: Headers | undefined;
      const client = createClient(GroupService, createConnectTransport({ baseUrl: door.url, httpVersion: "1.1", useHttpGet: true }));
      await client.listGroups({}, { onHeader: (h) => (headers = h) });
      expect(headers?.get("x-test-http-method")).toBe("GET");
    });
  });

  describe("CORS", () => {
    const preflight = (origin: string): Promise<Response> =>
      fetch(`${door.url}/roster.v1.GroupService/CreateGroup`, {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization,content-type,connect-protocol-version",
        },
      });

    it("answers a preflight from an allowed origin with connect's headers plus Authorization", async () => {
      const res = await preflight(allowedOrigin);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(allowedOrigin);
      expect(res.headers.get("access-control-allow-methods")).toBe("POST, GET");
      const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/,\s*/);
      expect(allowed).toEqual(
        expect.arrayContaining([
          "authorization",
          "content-type",
          "connect-protocol-version",
          "connect-timeout-ms",
          "x-grpc-web",
          "grpc-timeout",
          "x-user-agent",
        ]),
      );
    });

    it("exposes grpc-status, grpc-message and connect headers on actual responses", async () => {
      const res = await fetch(`${door.url}/roster.v1.GroupService/ListGroups`, {
        method: "POST",
        headers: { Origin: allowedOrigin, "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
        body: "{}",
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe(allowedOrigin);
      const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/,\s*/);
      expect(exposed).toEqual(
        expect.arrayContaining(["grpc-status", "grpc-message", "content-encoding", "connect-content-encoding", "x-request-id"]),
      );
    });

    it("refuses other origins, preflight and actual request alike, without calling the handler", async () => {
      const res = await preflight(foreignOrigin);
      expect(res.status).toBe(403);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();

      const before = fake.calls;
      const post = await fetch(`${door.url}/roster.v1.GroupService/CreateGroup`, {
        method: "POST",
        headers: { Origin: foreignOrigin, "Content-Type": "application/json", "Connect-Protocol-Version": "1" },
        body: JSON.stringify({ group: { slug: "csrf" } }),
      });
      expect(post.status).toBe(403);
      expect(post.headers.get("access-control-allow-origin")).toBeNull();
      expect(fake.calls).toBe(before);
    });
  });

  describe("limits and compression", () => {
    it.each([
      ["connect", createConnectTransport],
      ["grpc-web", createGrpcWebTransport],
    ] as const)("%s: a request above the maximum message size gets RESOURCE_EXHAUSTED", async (_name, createTransport) => {
      const before = fake.calls;
      const client = createClient(GroupService, createTransport({ baseUrl: door.url, httpVersion: "1.1", useBinaryFormat: true }));
      const error = await client.createGroup({ group: { slug: "big", description: "x".repeat(maxMessageBytes + 1) } }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.ResourceExhausted);
      expect(fake.calls).toBe(before);
      // Just under the limit is fine.
      await expect(client.createGroup({ group: { slug: "fits", description: "x".repeat(maxMessageBytes - 100) } })).resolves.toBeDefined();
    });

    it("ends the connection after refusing a body it did not read, so the socket is not reused mid-body", async () => {
      // A gRPC-web request announcing a message one byte over the limit, body still being sent.
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${door.url}/roster.v1.GroupService/CreateGroup`, {
          method: "POST",
          headers: { "Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1" },
        });
        req.on("response", resolve);
        req.on("error", reject);
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(maxMessageBytes + 1, 1);
        req.write(prefix);
        req.write(Buffer.alloc(1000));
      });
      response.resume();
      expect(response.headers["grpc-status"] ?? "").toBe("");
      expect(response.headers.connection).toBe("close");
      // And the door keeps serving.
      const client = createClient(GroupService, createGrpcWebTransport({ baseUrl: door.url, httpVersion: "1.1" }));
      await expect(client.getGroup({ id: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
    });

    it("accepts gzip-compressed requests and offers gzip responses", async () => {
      const client = createClient(
        GroupService,
        createConnectTransport({ baseUrl: door.url, httpVersion: "1.1", sendCompression: compressionGzip, compressMinBytes: 0 }),
      );
      const created = await client.createGroup({ group: { slug: "zipped", description: "y".repeat(2000) } });
      expect(created.group?.description).toHaveLength(2000);

      // A response above connect's 1 KiB threshold comes back gzipped to a client that accepts it.
      const res = await fetch(`${door.url}/roster.v1.GroupService/GetGroup`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1", "Accept-Encoding": "gzip" },
        body: JSON.stringify({ id: created.group?.id }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-encoding")).toBe("gzip");
      expect(((await res.json()) as { group: { slug: string } }).group.slug).toBe("zipped");
    });
  });
});

// HTTP/2 with prior knowledge (h2c): the in-flight call is a stream on an open session, drained like a connection.
describe.each([
  ["HTTP/1.1", "1.1"],
  ["h2c", "2"],
] as const)("web door shutdown, calls over %s", (_name, httpVersion) => {
  let door: WebDoor | undefined;
  afterEach(async () => {
    await door?.close(0);
  });

  it("lets an in-flight call finish within the grace period, then refuses new connections", async () => {
    let release = (): void => undefined;
    const fake: Fake = {
      groups: [create(GroupSchema, { id: "g1", slug: "one" })],
      calls: 0,
      hold: new Promise<void>((r) => (release = r)),
    };
    door = await startDoor(fake);
    const client = createClient(GroupService, createConnectTransport({ baseUrl: door.url, httpVersion }));
    const inFlight = client.getGroup({ id: "g1" });
    await waitUntil(() => fake.calls === 1);

    const closing = door.close(5000);
    const readyz = await fetch(`${door.url}/readyz`).then(
      (r) => r.status,
      () => "refused",
    );
    expect(readyz).toBe("refused");
    setTimeout(release, 100);
    expect((await inFlight).group?.slug).toBe("one");
    await closing;
    await expect(fetch(`${door.url}/healthz`)).rejects.toThrow();
  });

  it("cancels calls still running when the grace period ends, with UNAVAILABLE", async () => {
    const fake: Fake = { groups: [create(GroupSchema, { id: "g1", slug: "one" })], calls: 0, hold: new Promise<void>(() => undefined) };
    door = await startDoor(fake);
    const client = createClient(GroupService, createGrpcWebTransport({ baseUrl: door.url, httpVersion }));
    const inFlight = client.getGroup({ id: "g1" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    await waitUntil(() => fake.calls === 1);
    const started = Date.now();
    await door.close(200);
    expect(Date.now() - started).toBeLessThan(3000);
    const error = await inFlight;
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toBe("server is shutting down");
  });
});
