/**
 * OpenTelemetry tracing through a real server whose spans go to an
 * in-memory exporter: a call through each door (gRPC, Connect, gRPC-web)
 * that carries a W3C `traceparent`/`tracestate` yields one server span in
 * that trace, child of the caller's span, with the RPC semantic attributes,
 * the status the conventions give (unset for success and for a client's
 * mistake, ERROR for a server-side DEADLINE_EXCEEDED), client spans for its
 * database commands, and the trace id in the call's log line. A
 * BatchMemberships stream is one span with an event per applied chunk.
 *
 * The database sits behind a latency proxy so a call can be made to outlive
 * its deadline while waiting on it (the server, not the client, ends it).
 */
import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { collectionNames } from "../../src/storage/documents.ts";
import { addOp, openBatchStream } from "../fixtures/batch-stream-client.ts";
import type { LatencyProxy } from "../fixtures/latency-proxy.ts";
import { uniqueDbName } from "../fixtures/test-mongo.ts";
import { startRosterBehindProxy, type RosterBehindProxy } from "../fixtures/roster-behind-latency-proxy.ts";
import type { TestRoster } from "../fixtures/roster-in-process.ts";

const chunkSize = 10;
const dbDelayMs = 1500;
const deadlineMs = 300;
const browserOrigin = "https://app.example.com";

let stack: RosterBehindProxy;
let proxy: LatencyProxy;
let roster: TestRoster;
let token: string;
let groupId: string;
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  stack = await startRosterBehindProxy({
    dbName: uniqueDbName("tracing"),
    spanExporter: exporter,
    env: { ROSTER_BATCH_CHUNK_SIZE: String(chunkSize), ROSTER_CORS_ORIGINS: browserOrigin },
  });
  ({ roster, proxy } = stack);
  token = await roster.token("alice");
  const created = await roster.client.groups.createGroup({ group: { slug: "traced", displayName: "Traced" } }, { token });
  groupId = created.group?.id ?? "";
});

beforeEach(() => {
  proxy.setDelay(0);
});

afterAll(async () => {
  await stack.stop();
});

/** A caller's span: a fresh trace id and span id, and the traceparent/tracestate headers naming them. */
function callerSpan(): { traceId: string; spanId: string; headers: Record<string, string> } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, headers: { traceparent: `00-${traceId}-${spanId}-01`, tracestate: "caller=t61rcWkgMzE" } };
}

function spansOf(traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
}

/** The one server span of the trace (waits briefly: a failed call's span may end a moment after the client sees the status). */
async function serverSpanOf(traceId: string): Promise<ReadableSpan> {
  await expect.poll(() => spansOf(traceId).filter((span) => span.kind === SpanKind.SERVER), { timeout: 5_000 }).toHaveLength(1);
  const span = spansOf(traceId).find((s) => s.kind === SpanKind.SERVER);
  if (span === undefined) throw new Error("no server span");
  return span;
}

function childrenOf(parent: ReadableSpan): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);
}

/** How one door is called: GetGroup and ListGroups with extra headers and an optional server-side deadline. */
interface Door {
  readonly name: string;
  readonly system: "grpc" | "connect_rpc";
  getGroup(id: string, headers: Record<string, string>): Promise<number | "OK">;
  listGroups(headers: Record<string, string>, deadlineMs: number): Promise<number | "OK">;
}

/** "OK", or the code a call failed with (a grpc-js ServiceError's code is the same number as connect's Code). */
async function codeOf(call: Promise<unknown>): Promise<number | "OK"> {
  try {
    await call;
    return "OK";
  } catch (error) {
    const grpcCode = (error as { code?: unknown }).code;
    return typeof grpcCode === "number" ? grpcCode : ConnectError.from(error).code;
  }
}

/**
 * A door through connect-node. The deadline travels as the protocol's header
 * (`connect-timeout-ms`, `grpc-timeout`) with no client-side timer, so the
 * status is the server's.
 */
function webDoor(name: string, system: Door["system"], transport: () => Transport, timeoutHeader: (ms: number) => Record<string, string>): Door {
  const client = (): ReturnType<typeof createClient<typeof GroupService>> => createClient(GroupService, transport());
  return {
    name,
    system,
    getGroup: (id, headers) => codeOf(client().getGroup({ id }, { headers: { authorization: `Bearer ${token}`, ...headers } })),
    listGroups: (headers, ms) => codeOf(client().listGroups({}, { headers: { authorization: `Bearer ${token}`, ...headers, ...timeoutHeader(ms) } })),
  };
}

const doors: Door[] = [
  {
    name: "gRPC",
    system: "grpc",
    getGroup: (id, headers) => codeOf(roster.client.groups.getGroup({ id }, { token, metadata: headers })),
    listGroups: (headers, ms) => codeOf(roster.client.groups.listGroups({}, { token, metadata: headers, deadlineMs: ms })),
  },
  webDoor("Connect", "connect_rpc", () => createConnectTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" }), (ms) => ({ "connect-timeout-ms": String(ms) })),
  webDoor("gRPC-web", "grpc", () => createGrpcWebTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" }), (ms) => ({ "grpc-timeout": `${ms}m` })),
];

describe.each(doors)("tracing through the $name door", (door) => {
  it("makes one server span in the caller's trace, child of its span, with the RPC attributes and store spans under it", async () => {
    const caller = callerSpan();
    expect(await door.getGroup(groupId, caller.headers)).toBe("OK");

    const span = await serverSpanOf(caller.traceId);
    expect(span.name).toBe("roster.v1.GroupService/GetGroup");
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.spanContext().traceState?.get("caller")).toBe("t61rcWkgMzE");
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      "rpc.system": door.system,
      "rpc.service": "roster.v1.GroupService",
      "rpc.method": "GetGroup",
      ...(door.system === "grpc" ? { "rpc.grpc.status_code": 0 } : {}),
    });
    expect(span.resource.attributes["service.name"]).toBe("roster");

    const stores = childrenOf(span);
    expect(stores.length).toBeGreaterThan(0);
    for (const store of stores) {
      expect(store.kind).toBe(SpanKind.CLIENT);
      expect(store.attributes["db.system.name"]).toBe("mongodb");
      expect(store.spanContext().traceId).toBe(caller.traceId);
    }
    const find = stores.find((s) => s.attributes["db.operation.name"] === "find" && s.attributes["db.collection.name"] === collectionNames.groups);
    expect(find?.name).toBe(`find ${collectionNames.groups}`);
    expect(find?.attributes["db.namespace"]).toMatch(/^tracing/);

    const line = roster.logs().find((l) => l["msg"] === "rpc" && l["traceId"] === caller.traceId);
    expect(line).toMatchObject({ method: "roster.v1.GroupService/GetGroup", code: "OK" });
  });

  it("records a client's mistake (NOT_FOUND) with its code and leaves the status unset", async () => {
    const caller = callerSpan();
    expect(await door.getGroup("no-such-group", caller.headers)).toBe(Code.NotFound);
    const span = await serverSpanOf(caller.traceId);
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    if (door.system === "grpc") {
      expect(span.attributes["rpc.grpc.status_code"]).toBe(5);
      expect(span.attributes["rpc.connect_rpc.error_code"]).toBeUndefined();
    } else {
      expect(span.attributes["rpc.connect_rpc.error_code"]).toBe("not_found");
      expect(span.attributes["rpc.grpc.status_code"]).toBeUndefined();
    }
  });

  it("marks a server-side DEADLINE_EXCEEDED as ERROR", async () => {
    const caller = callerSpan();
    proxy.setDelay(dbDelayMs);
    expect(await door.listGroups(caller.headers, deadlineMs)).toBe(Code.DeadlineExceeded);
    const span = await serverSpanOf(caller.traceId);
    expect(span.name).toBe("roster.v1.GroupService/ListGroups");
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    if (door.system === "grpc") expect(span.attributes["rpc.grpc.status_code"]).toBe(4);
    else expect(span.attributes["rpc.connect_rpc.error_code"]).toBe("deadline_exceeded");
  });
});

describe("tracing a BatchMemberships stream", () => {
  it("is one span with an event per applied chunk, and the chunks' store calls under it", async () => {
    const caller = callerSpan();
    const stream = openBatchStream(roster.client.raw, token, caller.headers);
    const finished = stream.finish();
    const total = 25;
    for (let i = 0; i < total; i++) stream.send(addOp(groupId, i === 7 ? "not-a-principal" : `user:batch-${i}`));
    stream.end();
    const outcome = await finished;
    expect(outcome.code).toBe("OK");
    expect(outcome.results).toHaveLength(total);

    const span = await serverSpanOf(caller.traceId);
    expect(span.name).toBe("roster.v1.MembershipService/BatchMemberships");
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.attributes["rpc.grpc.status_code"]).toBe(0);
    const chunks = span.events.filter((event) => event.name === "roster.batch.chunk");
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(total / chunkSize));
    let next = 0;
    for (const chunk of chunks) {
      expect(chunk.attributes?.["roster.batch.chunk.first_index"]).toBe(next);
      const operations = Number(chunk.attributes?.["roster.batch.chunk.operations"]);
      expect(operations).toBeGreaterThan(0);
      expect(operations).toBeLessThanOrEqual(chunkSize);
      next += operations;
    }
    expect(next).toBe(total);
    expect(chunks.reduce((sum, chunk) => sum + Number(chunk.attributes?.["roster.batch.chunk.failed"]), 0)).toBe(1);

    const stores = childrenOf(span);
    expect(stores.some((s) => s.attributes["db.collection.name"] === collectionNames.memberships)).toBe(true);
    expect(stores.some((s) => s.attributes["db.operation.name"] === "commitTransaction")).toBe(true);
  });
});

describe("tracing a browser's call", () => {
  it("lets a page on an allowed origin send its trace context (CORS), and continues its trace", async () => {
    const preflight = await fetch(`${roster.httpUrl}/roster.v1.GroupService/GetGroup`, {
      method: "OPTIONS",
      headers: { Origin: browserOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type,traceparent,tracestate" },
    });
    expect(preflight.status).toBe(204);
    const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["traceparent", "tracestate", "baggage"]));

    const caller = callerSpan();
    const res = await fetch(`${roster.httpUrl}/roster.v1.GroupService/GetGroup`, {
      method: "POST",
      headers: { Origin: browserOrigin, "Content-Type": "application/json", authorization: `Bearer ${token}`, ...caller.headers },
      body: JSON.stringify({ id: groupId }),
    });
    expect(res.status).toBe(200);
    const span = await serverSpanOf(caller.traceId);
    expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(span.attributes["rpc.system"]).toBe("connect_rpc");
  });
});

describe("calls without a traceparent", () => {
  it("start a trace of their own, whose id is in the log line", async () => {
    const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId));
    await roster.client.groups.getGroup({ id: groupId }, { token });
    const span = exporter
      .getFinishedSpans()
      .find((s) => s.kind === SpanKind.SERVER && s.name === "roster.v1.GroupService/GetGroup" && !before.has(s.spanContext().traceId));
    expect(span).toBeDefined();
    expect(span?.parentSpanContext).toBeUndefined();
    expect(roster.logs().some((l) => l["msg"] === "rpc" && l["traceId"] === span?.spanContext().traceId)).toBe(true);
  });
});
