/**
 * The gRPC door and the pipeline in isolation: a real grpc-js server on a
 * free port running the real pipeline (request log, error mapping, deadline,
 * authentication step, authorization step) around stand-in handlers and a
 * stand-in app, so failure modes that a healthy database never produces can
 * be forced: slow calls past the client's deadline, unexpected errors,
 * database outages, a method that declares no access rule.
 */
import { create, createFileRegistry, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { MongoNetworkError } from "mongodb";
import type { HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessApi, RequestMemo } from "../../src/app/index.ts";
import { evaluateAccess } from "../../src/domain/access-policy.ts";
import { unauthenticated } from "../../src/domain/errors.ts";
import type { Caller } from "../../src/domain/model.ts";
import { file_roster_v1_group_service, GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { callOptionsOf } from "../../src/rpc/context.ts";
import { createRootLogger } from "../../src/rpc/logger.ts";
import { createRpcPipeline } from "../../src/rpc/pipeline.ts";
import { translateDriverError } from "../../src/storage/driver-errors.ts";
import { benchLoopStatsPath, benchNoopPath, type BenchLoopStats } from "../../src/transport/grpc/bench-noop.ts";
import { startGrpcDoor, type GrpcDoor } from "../../src/transport/grpc/grpc-door.ts";
import { strangerFacts } from "../fixtures/stranger-facts.ts";
import { createRosterClient, failureOf, type RosterClient } from "../fixtures/roster-grpc-client.ts";

/** The request memo each authorization step was given, by the request's id. */
const authorizeMemos = new Map<string, RequestMemo | undefined>();
/** The request memo each GetGroup handler got from its context, by the request's id. */
const handlerMemos = new Map<string, RequestMemo | undefined>();

/** Grants everything on g1 to user:ok; other groups do not exist. */
const access: AccessApi = {
  authorize(caller: Caller, rule, target, options): Promise<void> {
    if (target.groupId === "memo-probe") {
      authorizeMemos.set(target.groupId, options?.memo);
      return Promise.resolve();
    }
    if (target.groupId !== "g1") return Promise.reject(new Error(`unexpected target ${target.groupId ?? ""}`));
    const decision = evaluateAccess(rule, { ...strangerFacts, isSystemAdmin: caller.principal === "user:ok" });
    return decision.ok ? Promise.resolve() : Promise.reject(decision.error);
  },
};

const verifier = {
  verify(authorization: string | undefined): Promise<Caller> {
    if (authorization === "Bearer ok") return Promise.resolve({ principal: "user:ok", isSystemAdmin: false });
    if (authorization === "Bearer slow") {
      return new Promise((resolve) =>
        setTimeout(() => {
          resolve({ principal: "user:ok", isSystemAdmin: false });
        }, 400),
      );
    }
    return Promise.reject(unauthenticated("bad token"));
  },
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Error("aborted"));
    });
  });
}

/** Stand-in GroupService: each method exercises one failure mode. */
const handlerCalls: string[] = [];
const groupImpl: Record<string, unknown> = {
  getGroup: (req: { id: string }, ctx: HandlerContext) => {
    handlerCalls.push("getGroup");
    if (req.id === "memo-probe") handlerMemos.set(req.id, callOptionsOf(ctx).memo);
    return { group: { id: "g1", slug: "g1" } };
  },
  getGroupAcl: () => {
    throw new Error("connection string mongodb://admin:hunter2@db leaked");
  },
  deleteGroup: () => {
    // What storage throws when the database is unreachable.
    throw translateDriverError(new MongoNetworkError("connect ECONNREFUSED 10.0.0.1:27017"));
  },
  undeleteGroup: async (_req: unknown, ctx: { signal: AbortSignal }) => {
    await sleep(5_000, ctx.signal);
    return {};
  },
};
for (const method of GroupService.methods) {
  groupImpl[method.localName] ??= () => {
    throw new Error(`${method.name} is not part of this test`);
  };
}

/** A service whose method declares no (roster.v1.access) option. */
function unruledService(): DescService {
  const file = create(FileDescriptorProtoSchema, {
    name: "test/v1/unruled.proto",
    package: "test.v1",
    syntax: "proto3",
    dependency: ["roster/v1/group_service.proto"],
    service: [
      { name: "Unruled", method: [{ name: "Peek", inputType: ".roster.v1.GetGroupRequest", outputType: ".roster.v1.GetGroupResponse" }] },
    ],
  });
  const registry = createFileRegistry(file, (name) =>
    name === "roster/v1/group_service.proto" ? file_roster_v1_group_service : undefined,
  );
  const service = registry.getService("test.v1.Unruled");
  if (service === undefined) throw new Error("test service missing");
  return service;
}

let door: GrpcDoor;
let client: RosterClient;
let logText = "";
let peekCalled = false;
const unruled = unruledService();

beforeAll(async () => {
  const logger = createRootLogger({ level: "info", destination: { write: (line: string) => (logText += line) } });
  const services = [
    { service: GroupService, impl: groupImpl },
    {
      service: unruled,
      impl: {
        peek: () => {
          peekCalled = true;
          return {};
        },
      },
    },
  ];
  const pipeline = createRpcPipeline({ logger, verifier, access, services: services.map((s) => s.service) });
  door = await startGrpcDoor({ hosts: ["127.0.0.1"], port: 0, pipeline, services, maxMessageBytes: 64 * 1024, benchNoop: true });
  client = createRosterClient(`127.0.0.1:${door.port}`);
});

afterAll(async () => {
  client.close();
  await door.close(1000);
});

function logLines(): Record<string, unknown>[] {
  return logText
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function rpcLine(requestId: string): Record<string, unknown> | undefined {
  return logLines().find((l) => l["msg"] === "rpc" && l["requestId"] === requestId);
}

describe("gRPC door", () => {
  it("serves a call through the pipeline and returns x-request-id; one log line with the call's facts", async () => {
    const res = await client.call(GroupService.method.getGroup, { id: "g1" }, { token: "ok", metadata: { "x-request-id": "req-123" } });
    expect(res.message.group?.id).toBe("g1");
    expect(res.headers.get("x-request-id")).toEqual(["req-123"]);
    const lines = logLines().filter((l) => l["requestId"] === "req-123");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: "rpc",
      method: "roster.v1.GroupService/GetGroup",
      door: "grpc",
      protocol: "grpc",
      code: "OK",
      caller: "user:ok",
      requestId: "req-123",
    });
    expect(typeof lines[0]?.["ms"]).toBe("number");
    expect(String(lines[0]?.["peer"])).toMatch(/127\.0\.0\.1:\d+/);
  });

  it("gives the authorization step and the handler the call's one request memo (so the handler's loads are free)", async () => {
    await client.call(GroupService.method.getGroup, { id: "memo-probe" }, { token: "ok" });
    const memo = authorizeMemos.get("memo-probe");
    expect(memo).toBeDefined();
    expect(handlerMemos.get("memo-probe")).toBe(memo);
    await client.call(GroupService.method.getGroup, { id: "memo-probe" }, { token: "ok" });
    expect(authorizeMemos.get("memo-probe")).not.toBe(memo);
  });

  it("generates a request id when the client sends none (or an unusable one), also on errors (trailers)", async () => {
    const failure = await failureOf(client.groups.getGroup({ id: "g1" }, { metadata: { "x-request-id": "has spaces in it" } }));
    expect(failure.code).toBe("UNAUTHENTICATED");
    const [id] = failure.metadata.get("x-request-id");
    expect(String(id)).toMatch(/^[0-9a-f-]{36}$/);
    expect(rpcLine(String(id))).toMatchObject({ code: "UNAUTHENTICATED", method: "roster.v1.GroupService/GetGroup" });
    expect(rpcLine(String(id))?.["caller"]).toBeUndefined();
  });

  it("answers INVALID_ARGUMENT (not INTERNAL) for an undecodable request, and logs it", async () => {
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const failure = await failureOf(
      client.callRaw(GroupService.method.getGroup, garbage, { token: "ok", metadata: { "x-request-id": "bad-bytes" } }),
    );
    expect(failure.code).toBe("INVALID_ARGUMENT");
    expect(failure.details).toBe("request: not a valid roster.v1.GetGroupRequest (malformed protobuf)");
    expect(rpcLine("bad-bytes")).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(handlerCalls).not.toContain("bad-bytes");
  });

  it("answers RESOURCE_EXHAUSTED for a request above the maximum message size", async () => {
    const failure = await failureOf(client.groups.getGroup({ id: "x".repeat(70 * 1024) }, { token: "ok" }));
    expect(failure.code).toBe("RESOURCE_EXHAUSTED");
  });

  it('hides unexpected errors as INTERNAL "internal error" and logs the cause server-side', async () => {
    const failure = await failureOf(client.groups.getGroupAcl({ groupId: "g1" }, { token: "ok", metadata: { "x-request-id": "boom" } }));
    expect(failure).toMatchObject({ code: "INTERNAL", details: "internal error" });
    expect(logText).toContain("hunter2");
    expect(rpcLine("boom")).toMatchObject({ code: "INTERNAL" });
  });

  it("maps a MongoDB network error to UNAVAILABLE", async () => {
    const failure = await failureOf(client.groups.deleteGroup({ id: "g1" }, { token: "ok" }));
    expect(failure).toMatchObject({ code: "UNAVAILABLE", details: "database unavailable, try again later" });
  });

  it("ends a call past the client's deadline with DEADLINE_EXCEEDED, in the handler and before it", async () => {
    const started = Date.now();
    const inHandler = await failureOf(
      client.groups.undeleteGroup({ id: "g1" }, { token: "ok", deadlineMs: 150, metadata: { "x-request-id": "slow-handler" } }),
    );
    expect(inHandler.code).toBe("DEADLINE_EXCEEDED");
    expect(Date.now() - started).toBeLessThan(2_000);
    const inAuth = await failureOf(
      client.groups.getGroup({ id: "g1" }, { token: "slow", deadlineMs: 100, metadata: { "x-request-id": "slow-auth" } }),
    );
    expect(inAuth.code).toBe("DEADLINE_EXCEEDED");
    await new Promise((r) => setTimeout(r, 500));
    expect(rpcLine("slow-handler")).toMatchObject({ code: "DEADLINE_EXCEEDED" });
    expect(rpcLine("slow-auth")).toMatchObject({ code: "DEADLINE_EXCEEDED" });
  });

  it("refuses a method without a declared access rule (fail closed), without running it", async () => {
    const method = unruled.methods[0];
    if (method?.methodKind !== "unary") throw new Error("no method");
    const failure = await failureOf(client.call(method as DescMethodUnary, { id: "g1" }, { token: "ok" }));
    expect(failure).toMatchObject({ code: "PERMISSION_DENIED", details: "permission denied: the method declares no access rule" });
    expect(peekCalled).toBe(false);
  });

  it("serves the hidden benchmark no-op only when enabled, without a token", async () => {
    const response = await new Promise<Buffer>((resolve, reject) => {
      client.raw.makeUnaryRequest(
        benchNoopPath,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (error, value) => {
          if (error) reject(error);
          else resolve(value ?? Buffer.alloc(1));
        },
      );
    });
    expect(response.length).toBe(0);
  });

  it("serves the benchmark's event-loop counters next to the no-op, counting up", async () => {
    const stats = (): Promise<BenchLoopStats> =>
      new Promise((resolve, reject) => {
        client.raw.makeUnaryRequest(
          benchLoopStatsPath,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (error, value?: Buffer) => {
            if (error) reject(error);
            else resolve(JSON.parse((value ?? Buffer.alloc(0)).toString("utf8")) as BenchLoopStats);
          },
        );
      });
    const first = await stats();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await stats();
    expect(Object.keys(first).sort()).toEqual(["events", "loopCount"]);
    expect(second.loopCount).toBeGreaterThan(first.loopCount);
    expect(second.events).toBeGreaterThanOrEqual(first.events);
  });

  it("never logs tokens or authorization headers", () => {
    expect(logText).not.toMatch(/Bearer/i);
    expect(logText).not.toContain('"authorization"');
  });
});

describe("graceful stop of the gRPC door", () => {
  /**
   * Resolves `inHandler` once the call is in the handler, so the door closes
   * with the call in flight: a fixed 100 ms wait closed it, under load, before
   * the client had even connected (ECONNRESET instead of the answer).
   */
  function callReachingHandler(): { readonly inHandler: Promise<void>; reached(): void } {
    let resolveReached: () => void = () => undefined;
    const inHandler = new Promise<void>((resolve) => {
      resolveReached = resolve;
    });
    return {
      inHandler,
      reached() {
        resolveReached();
      },
    };
  }

  async function startDoor(impl: Record<string, unknown>): Promise<{ door: GrpcDoor; client: RosterClient }> {
    const logger = createRootLogger({ level: "silent" });
    const services = [{ service: GroupService, impl: { ...groupImpl, ...impl } }];
    const pipeline = createRpcPipeline({ logger, verifier, access, services: services.map((s) => s.service) });
    const started = await startGrpcDoor({ hosts: ["127.0.0.1"], port: 0, pipeline, services, maxMessageBytes: 64 * 1024 });
    return { door: started, client: createRosterClient(`127.0.0.1:${started.port}`) };
  }

  it("lets an in-flight call finish within the grace period", async () => {
    const handling = callReachingHandler();
    const { door: d, client: c } = await startDoor({
      getGroup: async (_req: unknown, ctx: { signal: AbortSignal }) => {
        handling.reached();
        await sleep(300, ctx.signal);
        return { group: { id: "g1" } };
      },
    });
    try {
      const inFlight = c.groups.getGroup({ id: "g1" }, { token: "ok" });
      await handling.inHandler;
      const closing = d.close(3_000);
      expect((await inFlight).group?.id).toBe("g1");
      await closing;
    } finally {
      c.close();
    }
  });

  it("cancels calls still running when the grace period ends with UNAVAILABLE", async () => {
    const handling = callReachingHandler();
    const { door: d, client: c } = await startDoor({
      getGroup: async (_req: unknown, ctx: { signal: AbortSignal }) => {
        handling.reached();
        await sleep(10_000, ctx.signal);
        return { group: { id: "g1" } };
      },
    });
    try {
      const inFlight = failureOf(c.groups.getGroup({ id: "g1" }, { token: "ok" }));
      await handling.inHandler;
      const started = Date.now();
      await d.close(200);
      expect(await inFlight).toMatchObject({ code: "UNAVAILABLE", details: "server is shutting down" });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      c.close();
    }
  });
});
