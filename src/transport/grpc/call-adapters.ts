/**
 * grpc-js handlers for the four method kinds, each running the bound
 * pipeline function (src/rpc/pipeline.ts) with a per-call HandlerContext and
 * translating the outcome: response headers as initial metadata, trailers
 * and error metadata as trailing metadata, `ConnectError.code` as the gRPC
 * status (same numbers), `rawMessage` as its details.
 */
import type { DescMethod, DescMethodStreaming, DescMethodUnary, Message } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import {
  Metadata,
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerDuplexStream,
  type ServerWritableStream,
  type status as GrpcStatus,
  type StatusObject,
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import type { RpcPipeline, StreamResult } from "../../rpc/pipeline.ts";
import { createGrpcHandlerContext, finishCall, type DoorCallOptions, type GrpcHandlerContext } from "./call-context.ts";
import type { DecodedRequest } from "./message-codec.ts";
import { headersToMetadata, responseMetadata } from "./metadata.ts";

/** The gRPC status of a failed call: code, message, and its metadata plus the context's trailers. */
export function grpcStatusOf(error: unknown, ctx: GrpcHandlerContext): Partial<StatusObject> {
  const status = ConnectError.from(error);
  return {
    // connect's Code and gRPC's Status share their numeric values by design.
    code: status.code as unknown as GrpcStatus,
    details: status.rawMessage,
    metadata: headersToMetadata(ctx.responseHeader, ctx.responseTrailer, status.metadata),
  };
}

/** A grpc-js handler for `method`, calling `impl` through `pipeline`. */
export function createCallAdapter(pipeline: RpcPipeline, method: DescMethod, impl: unknown, options: DoorCallOptions): UntypedHandleCall {
  if (typeof impl !== "function") throw new Error(`no implementation for ${method.parent.typeName}/${method.name}`);
  switch (method.methodKind) {
    case "unary":
      return unaryAdapter(pipeline, method as DescMethodUnary, impl as Parameters<RpcPipeline["bindUnary"]>[1], options);
    case "server_streaming":
      return serverStreamAdapter(pipeline, method as DescMethodStreaming, impl as Parameters<RpcPipeline["bindStream"]>[1], options);
    case "client_streaming":
      return clientStreamAdapter(pipeline, method as DescMethodStreaming, impl as Parameters<RpcPipeline["bindStream"]>[1], options);
    case "bidi_streaming":
      return bidiStreamAdapter(pipeline, method as DescMethodStreaming, impl as Parameters<RpcPipeline["bindStream"]>[1], options);
  }
}

function unaryAdapter(
  pipeline: RpcPipeline,
  method: DescMethodUnary,
  impl: Parameters<RpcPipeline["bindUnary"]>[1],
  options: DoorCallOptions,
): handleUnaryCall<DecodedRequest, Message> {
  const invoke = pipeline.bindUnary(method, impl);
  return (call, callback) => {
    const ctx = createGrpcHandlerContext(call, method, options);
    const decoded = call.request;
    const run = "error" in decoded ? pipeline.reject(method, ctx, decoded.error).then(throwIt) : invoke(ctx, decoded.message);
    run.then(
      (res) => {
        // Without headers of its own, grpc-js sends the empty headers with the message.
        const header = responseMetadata(res.header);
        if (header !== undefined) call.sendMetadata(header);
        callback(null, res.message, responseMetadata(res.trailer));
        finishCall(ctx);
      },
      (error: unknown) => {
        callback(grpcStatusOf(error, ctx));
        finishCall(ctx);
      },
    );
  };
}

function serverStreamAdapter(
  pipeline: RpcPipeline,
  method: DescMethodStreaming,
  impl: Parameters<RpcPipeline["bindStream"]>[1],
  options: DoorCallOptions,
): handleServerStreamingCall<DecodedRequest, Message> {
  const invoke = pipeline.bindStream(method, impl);
  return (call) => {
    const ctx = createGrpcHandlerContext(call, method, options);
    const decoded = call.request;
    const run = "error" in decoded ? pipeline.reject(method, ctx, decoded.error).then(throwIt) : invoke(ctx, oneMessage(decoded.message));
    void pump(call, ctx, run);
  };
}

function clientStreamAdapter(
  pipeline: RpcPipeline,
  method: DescMethodStreaming,
  impl: Parameters<RpcPipeline["bindStream"]>[1],
  options: DoorCallOptions,
): handleClientStreamingCall<DecodedRequest, Message> {
  const invoke = pipeline.bindStream(method, impl);
  return (call, callback) => {
    const ctx = createGrpcHandlerContext(call, method, options);
    invoke(ctx, readRequests(call.iterator({ destroyOnReturn: false })))
      .then(async (res) => {
        let response: Message | undefined;
        for await (const message of res.message) response = message;
        if (response === undefined) throw new Error(`${method.name}: client-streaming implementation returned no response`);
        const header = responseMetadata(res.header);
        if (header !== undefined) call.sendMetadata(header);
        callback(null, response, responseMetadata(res.trailer));
      })
      .catch((error: unknown) => {
        callback(grpcStatusOf(error, ctx));
      })
      .finally(() => {
        finishCall(ctx);
      });
  };
}

function bidiStreamAdapter(
  pipeline: RpcPipeline,
  method: DescMethodStreaming,
  impl: Parameters<RpcPipeline["bindStream"]>[1],
  options: DoorCallOptions,
): handleBidiStreamingCall<DecodedRequest, Message> {
  const invoke = pipeline.bindStream(method, impl);
  return (call) => {
    const ctx = createGrpcHandlerContext(call, method, options);
    // Not `for await (… of call)`: that iterator destroys the duplex call
    // when the client half-closes, and the status could then never be sent.
    void pump(call, ctx, invoke(ctx, readRequests(call.iterator({ destroyOnReturn: false }))));
  };
}

/** A call's response headers as the initial metadata to send, empty if it has none. */
function sentHeader(header: Headers): Metadata {
  return responseMetadata(header) ?? new Metadata();
}

/** The single request of a server-streaming call, as the stream the pipeline expects. */
async function* oneMessage(message: Message): AsyncGenerator<Message> {
  await Promise.resolve();
  yield message;
}

/** Decoded request messages of a client stream; an undecodable one fails the stream with INVALID_ARGUMENT. */
async function* readRequests(source: AsyncIterable<unknown>): AsyncGenerator<Message> {
  for await (const item of source) {
    const decoded = item as DecodedRequest;
    if ("error" in decoded) throw decoded.error;
    yield decoded.message;
  }
}

/** A grpc-js call the server writes a stream of responses to. */
type ResponseStreamCall = ServerWritableStream<DecodedRequest, Message> | ServerDuplexStream<DecodedRequest, Message>;

/**
 * Writes a response stream with backpressure, then the trailers, or the
 * error status once every message before it has left: grpc-js sends the
 * status only after its pending writes, and an error emitted meanwhile also
 * reaches the request iterator of a bidi call, which destroys the call
 * before the status goes out (the client would wait past every limit).
 */
async function pump(call: ResponseStreamCall, ctx: GrpcHandlerContext, run: Promise<StreamResult>): Promise<void> {
  const writes = trackWrites(call);
  let headersSent = false;
  try {
    const res = await run;
    for await (const message of res.message) {
      if (!headersSent) {
        call.sendMetadata(sentHeader(res.header));
        headersSent = true;
      }
      if (call.cancelled) break;
      if (!writes.write(message)) await writes.flushed(ctx.signal);
    }
    // Sent even when empty: a stream's status after its headers, never trailers-only.
    if (!headersSent) call.sendMetadata(sentHeader(res.header));
    call.end(responseMetadata(res.trailer));
  } catch (error) {
    const status = grpcStatusOf(error, ctx);
    // Bounded: a client that stops reading must not keep the call open forever.
    await Promise.race([writes.flushed(ctx.signal).catch(() => undefined), delay(STATUS_FLUSH_WAIT_MS)]);
    call.emit("error", status);
  } finally {
    finishCall(ctx);
  }
}

/** How long an error status waits for the messages before it to leave. */
const STATUS_FLUSH_WAIT_MS = 5_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Writes to a grpc-js call, counting the messages grpc-js has not yet handed to HTTP/2. */
function trackWrites(call: ResponseStreamCall) {
  let inFlight = 0;
  let settle: (() => void) | undefined;
  const written = (): void => {
    inFlight -= 1;
    if (inFlight === 0) settle?.();
  };
  return {
    /** Writes `message`; false when the caller should wait for `flushed` (backpressure). */
    write(message: Message): boolean {
      inFlight += 1;
      return call.write(message, written);
    },
    /** Resolves once every message written so far has left; rejects when `signal` aborts first (the call is over). */
    flushed(signal: AbortSignal): Promise<void> {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const aborted = (): void => {
          settle = undefined;
          reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        };
        if (signal.aborted) {
          aborted();
          return;
        }
        settle = () => {
          settle = undefined;
          signal.removeEventListener("abort", aborted);
          resolve();
        };
        signal.addEventListener("abort", aborted, { once: true });
      });
    },
  };
}

function throwIt(error: ConnectError): never {
  throw error;
}
