/**
 * WatchChanges from a test, through either door: gRPC (grpc-js, a
 * server-streaming call) or the web door (connect-node's Connect client,
 * as a browser would call it). Messages are queued as they arrive and read
 * with `next`, so a test can wait for a change, a checkpoint or the end of
 * the stream, each with a timeout.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { credentials, Client, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { Change } from "../../gen/roster/v1/change_pb.ts";
import {
  ChangeService,
  WatchChangesRequestSchema,
  type WatchChangesRequest,
  type WatchChangesResponse,
} from "../../gen/roster/v1/change_service_pb.ts";
import { decodeResponse, encodeMessage } from "../../src/transport/grpc/message-codec.ts";
import { grpcPath } from "../../src/transport/grpc/service-definition.ts";

export const watchDoors = ["gRPC", "Connect"] as const;
export type WatchDoor = (typeof watchDoors)[number];

export interface WatchEndpoints {
  /** `127.0.0.1:PORT` of the gRPC door. */
  readonly grpcAddress: string;
  /** `http://127.0.0.1:PORT` of the web door. */
  readonly webUrl: string;
}

/** How a stream ended: "OK" or the gRPC code name, and the message. */
export interface WatchEnd {
  readonly code: string;
  readonly details: string;
}

export interface Watch {
  /** The next message; rejects when the stream ended first (with its status) or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<WatchChangesResponse>;
  /** The next change, skipping checkpoints, with the token after it. */
  nextChange(timeoutMs?: number): Promise<{ readonly change: Change; readonly token: string }>;
  /** Every change that arrives until a checkpoint comes after them (or `timeoutMs` passes), and that checkpoint's token. */
  changesUntilCheckpoint(timeoutMs?: number): Promise<{ readonly changes: Change[]; readonly token: string }>;
  /** How the stream ended (resolves once it has). */
  readonly ended: Promise<WatchEnd>;
  /** Cancels the call (a client that goes away). */
  cancel(): void;
}

type Item = { readonly message: WatchChangesResponse } | { readonly end: WatchEnd };

/** Opens WatchChanges through `door` as the holder of `token`. */
export function openWatch(
  door: WatchDoor,
  endpoints: WatchEndpoints,
  token: string,
  request: MessageInitShape<typeof WatchChangesRequestSchema> = {},
): Watch {
  const queue: Item[] = [];
  const waiters: (() => void)[] = [];
  let resolveEnded: (end: WatchEnd) => void = () => undefined;
  const ended = new Promise<WatchEnd>((resolve) => (resolveEnded = resolve));
  const push = (item: Item): void => {
    queue.push(item);
    if ("end" in item) resolveEnded(item.end);
    for (const wake of waiters.splice(0)) wake();
  };
  const cancel = door === "gRPC" ? watchOverGrpc(endpoints.grpcAddress, token, create(WatchChangesRequestSchema, request), push) : watchOverConnect(endpoints.webUrl, token, request, push);

  async function next(timeoutMs = 10_000): Promise<WatchChangesResponse> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const item = queue[0];
      if (item !== undefined) {
        if ("end" in item) throw new Error(`the watch ended: ${item.end.code} ${item.end.details}`);
        queue.shift();
        return item.message;
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no watch message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  return {
    next,
    async nextChange(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const message = await next(Math.max(1, until - Date.now()));
        if (message.event.case === "change") return { change: message.event.value, token: message.token };
      }
    },
    async changesUntilCheckpoint(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      const changes: Change[] = [];
      for (;;) {
        const message = await next(Math.max(1, until - Date.now()));
        if (message.event.case === "change") changes.push(message.event.value);
        else return { changes, token: message.token };
      }
    },
    ended,
    cancel,
  };
}

function watchOverGrpc(address: string, token: string, request: WatchChangesRequest, push: (item: Item) => void): () => void {
  const client = new Client(address, credentials.createInsecure());
  const method = ChangeService.method.watchChanges;
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  const call = client.makeServerStreamRequest(
    grpcPath(method),
    (message: WatchChangesRequest) => encodeMessage(method.input, message),
    (bytes: Buffer) => decodeResponse(method.output, bytes) as WatchChangesResponse,
    request,
    metadata,
  );
  call.on("data", (message: WatchChangesResponse) => {
    push({ message });
  });
  call.on("error", (error: ServiceError) => {
    push({ end: { code: status[error.code], details: error.details } });
    client.close();
  });
  call.on("end", () => {
    push({ end: { code: "OK", details: "" } });
    client.close();
  });
  return () => {
    call.cancel();
  };
}

function watchOverConnect(
  webUrl: string,
  token: string,
  request: MessageInitShape<typeof WatchChangesRequestSchema>,
  push: (item: Item) => void,
): () => void {
  const client = createClient(ChangeService, createConnectTransport({ baseUrl: webUrl, httpVersion: "1.1" }));
  const abort = new AbortController();
  void (async () => {
    try {
      for await (const message of client.watchChanges(request, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })) {
        push({ message });
      }
      push({ end: { code: "OK", details: "" } });
    } catch (error) {
      const failure = ConnectError.from(error);
      push({ end: { code: status[failure.code as number] ?? String(failure.code), details: failure.rawMessage } });
    }
  })();
  return () => {
    abort.abort();
  };
}
