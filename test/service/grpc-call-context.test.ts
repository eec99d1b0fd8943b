/**
 * The gRPC door's per-call context (src/transport/grpc/call-context.ts)
 * without a server: its AbortSignal is made only when read, and then carries
 * the call's end like connect's would (client cancel, deadline, shutdown,
 * the call finishing); the pipeline's CallAbort hears the same ends without
 * a signal.
 */
import { EventEmitter } from "node:events";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import { Client, credentials, Metadata, Server, ServerCredentials, type handleUnaryCall, type MethodDefinition } from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { storeCallOf } from "../../src/app/call-options.ts";
import { callAbortKey, callInfoKey, deadlineKey, type CallInfo } from "../../src/rpc/context.ts";
import { benchNoopDefinition, benchNoopPath } from "../../src/transport/grpc/bench-noop.ts";
import {
  abortCallsInFlight,
  callInfoOf,
  createGrpcHandlerContext,
  finishCall,
  type CallsInFlight,
  type GrpcHandlerContext,
} from "../../src/transport/grpc/call-context.ts";

/** The parts of a grpc-js call the context reads. */
function fakeCall(deadline: number = Infinity): ServerSurfaceCall & { readonly metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set("authorization", "Bearer t");
  return Object.assign(new EventEmitter(), {
    metadata,
    getDeadline: () => deadline,
    getPeer: () => "ipv4:127.0.0.1:5000",
    getAuthContext: () => ({}),
  }) as unknown as ServerSurfaceCall & { readonly metadata: Metadata };
}

function door(): CallsInFlight & { shutdown: AbortController } {
  const shutdown = new AbortController();
  return { shutdown, shutdownSignal: shutdown.signal, calls: new Set<GrpcHandlerContext>() };
}

const start = (inFlight: CallsInFlight, call = fakeCall()): GrpcHandlerContext =>
  createGrpcHandlerContext(call, GroupService.method.getGroup, { inFlight, readClientCertificate: false });

const reasonOf = (signal: AbortSignal): ConnectError => signal.reason as ConnectError;

afterEach(() => {
  vi.useRealTimers();
});

describe("gRPC call context", () => {
  it("carries the call's facts, headers and CallAbort", () => {
    const ctx = start(door());
    expect(ctx.requestHeader.get("authorization")).toBe("Bearer t");
    expect(ctx.values.get(callInfoKey)).toEqual({ door: "grpc", protocol: "grpc", peer: "ipv4:127.0.0.1:5000" });
    expect(ctx.values.get(callAbortKey)).toBe(ctx);
    expect(ctx.values.get(deadlineKey)).toBeUndefined();
    expect(ctx.timeoutMs()).toBeUndefined();
    expect(ctx.url).toBe("/roster.v1.GroupService/GetGroup");
  });

  it("aborts a signal read during the call when the call finishes", () => {
    const inFlight = door();
    const ctx = start(inFlight);
    const signal = ctx.signal;
    expect(signal.aborted).toBe(false);
    expect(ctx.signal).toBe(signal);
    finishCall(ctx);
    expect(signal.aborted).toBe(true);
    expect(reasonOf(signal).code).toBe(Code.Canceled);
    expect(reasonOf(signal).rawMessage).toBe("the call has finished");
    expect(inFlight.calls.size).toBe(0);
  });

  it("makes a signal first read after the call ended already aborted, with the reason it ended", () => {
    const call = fakeCall();
    const ctx = start(door(), call);
    call.emit("cancelled");
    finishCall(ctx);
    expect(ctx.signal.aborted).toBe(true);
    expect(reasonOf(ctx.signal).code).toBe(Code.Canceled);
    expect(reasonOf(ctx.signal).rawMessage).toBe("the call was cancelled by the client");
  });

  it("tells CallAbort listeners of the client's cancel once, and not a listener that stopped", () => {
    const call = fakeCall();
    const ctx = start(door(), call);
    const heard: unknown[] = [];
    ctx.whenAborted((reason) => heard.push(reason));
    const stop = ctx.whenAborted(() => heard.push("stopped listener"));
    stop();
    call.emit("cancelled");
    finishCall(ctx);
    expect(heard).toHaveLength(1);
    expect((heard[0] as ConnectError).code).toBe(Code.Canceled);
    expect(ctx.reason).toBe(heard[0]);
  });

  it("keeps the call's context values as connect's do: a key's default until set, the value once set, the default again once deleted", () => {
    const ctx = start(door());
    const key = createContextKey<string>("unset", { description: "test key" });
    expect(ctx.values.get(key)).toBe("unset");
    expect(ctx.values.set(key, "set").get(key)).toBe("set");
    expect(ctx.values.delete(key).get(key)).toBe("unset");
    expect(ctx.values.get(callInfoKey)).toEqual({ door: "grpc", protocol: "grpc", peer: "ipv4:127.0.0.1:5000" });
  });

  it("races work against the call's end: the work's outcome while it runs, the end's error at once when it ends first (two races alike)", async () => {
    const toError = (reason: unknown): Error => new Error(`ended: ${(reason as ConnectError).rawMessage}`);
    const finished = start(door());
    await expect(finished.race(Promise.resolve("answer"), toError)).resolves.toBe("answer");
    await expect(finished.race(Promise.reject(new Error("work failed")), toError)).rejects.toThrow("work failed");
    finishCall(finished);
    await expect(finished.race(Promise.resolve("late"), toError)).rejects.toThrow("ended: the call has finished");

    const call = fakeCall();
    const cancelled = start(door(), call);
    const never = new Promise<string>(() => undefined);
    const first = cancelled.race(never, toError);
    const second = cancelled.race(never, toError);
    call.emit("cancelled");
    await expect(first).rejects.toThrow("ended: the call was cancelled by the client");
    await expect(second).rejects.toThrow("ended: the call was cancelled by the client");
  });

  it("ends the call at the client's deadline, and not after it finished", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const late = start(door(), fakeCall(1_000_000 + 100));
    expect(late.values.get(deadlineKey)).toBe(1_000_100);
    expect(late.timeoutMs()).toBe(100);
    const signal = late.signal;
    vi.advanceTimersByTime(100);
    expect(signal.aborted).toBe(true);
    expect(reasonOf(signal).code).toBe(Code.DeadlineExceeded);

    const done = start(door(), fakeCall(1_000_000 + 300));
    finishCall(done);
    vi.advanceTimersByTime(300);
    expect((done.reason as ConnectError).rawMessage).toBe("the call has finished");
  });

  it("ends every call still in flight at shutdown, and starts a call after shutdown already ended", () => {
    const inFlight = door();
    const running = start(inFlight);
    const finished = start(inFlight);
    finishCall(finished);
    const shuttingDown = new ConnectError("server is shutting down", Code.Unavailable);
    inFlight.shutdown.abort(shuttingDown);
    abortCallsInFlight(inFlight, shuttingDown);
    expect(running.reason).toBe(shuttingDown);
    expect(running.signal.reason).toBe(shuttingDown);
    expect((finished.reason as ConnectError).rawMessage).toBe("the call has finished");
    expect(start(inFlight).reason).toBe(shuttingDown);
    expect(inFlight.calls.size).toBe(0);
  });

  it("is passed on by the app unread until a store step reads it (storeCallOf)", () => {
    let reads = 0;
    const signal = new AbortController().signal;
    const call = storeCallOf({
      get signal() {
        reads += 1;
        return signal;
      },
    });
    expect(reads).toBe(0);
    expect(call.signal).toBe(signal);
    expect(reads).toBe(1);
  });
});

describe("gRPC call info on a real server", () => {
  // The benchmark's raw-bytes method, with a handler of the test's own.
  const definition = { Ping: benchNoopDefinition["Ping"] as MethodDefinition<Buffer, Buffer> };
  const identity = (bytes: Buffer): Buffer => bytes;

  it("shares one CallInfo among the calls of a connection, with grpc-js's peer, and gives another connection its own", async () => {
    const seen: { info: CallInfo; peer: string }[] = [];
    const ping: handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      seen.push({ info: callInfoOf(call), peer: call.getPeer() });
      callback(null, Buffer.alloc(0));
    };
    const server = new Server();
    server.addService(definition, { Ping: ping });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    // A local subchannel pool each: two connections, not one shared.
    const clients = [0, 1].map(
      () => new Client(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
    );
    const call = (client: Client): Promise<void> =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(benchNoopPath, identity, identity, Buffer.alloc(0), (error) => {
          if (error) reject(error);
          else resolve();
        });
      });
    try {
      for (const client of clients) {
        await call(client);
        await call(client);
      }
    } finally {
      for (const client of clients) client.close();
      server.forceShutdown();
    }
    const [a1, a2, b1, b2] = seen;
    expect(a1?.info).toEqual({ door: "grpc", protocol: "grpc", peer: a1?.peer });
    expect(a1?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a2?.info).toBe(a1?.info);
    expect(b1?.info).toEqual({ door: "grpc", protocol: "grpc", peer: b1?.peer });
    expect(b1?.peer).not.toBe(a1?.peer);
    expect(b2?.info).toBe(b1?.info);
  });
});
