/**
 * A small grpc-js client for the batch RPCs in tests and the benchmark:
 * BatchMemberships as a duplex stream whose responses are read only when the
 * test asks (so a test can play a slow reader), and request builders.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Metadata, status, type Client, type ClientDuplexStream, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { Role } from "../../../gen/roster/v1/access_pb.ts";
import type { MembershipOperationSchema, OperationResult, SyncSummary } from "../../../gen/roster/v1/membership_pb.ts";
import {
  BatchMembershipsRequestSchema,
  MembershipService,
  type BatchMembershipsRequest,
  type BatchMembershipsResponse,
} from "../../../gen/roster/v1/membership_service_pb.ts";
import { decodeResponse, encodeMessage } from "../../../src/transport/grpc/message-codec.ts";
import { grpcPath } from "../../../src/transport/grpc/service-definition.ts";

export type OperationInit = MessageInitShape<typeof MembershipOperationSchema>;

export function addOp(groupId: string, member: string, role: Role = Role.UNSPECIFIED, tag = ""): OperationInit {
  return { tag, operation: { case: "add", value: { groupId, member, role } } };
}

export function removeOp(groupId: string, member: string, tag = ""): OperationInit {
  return { tag, operation: { case: "remove", value: { groupId, member } } };
}

export function changeRoleOp(groupId: string, member: string, role: Role, tag = ""): OperationInit {
  return { tag, operation: { case: "changeRole", value: { groupId, member, role } } };
}

/** What a stream ended with: every response received, and the final status. */
export interface StreamOutcome {
  readonly results: OperationResult[];
  readonly summary: SyncSummary | undefined;
  /** "OK", or the gRPC code name. */
  readonly code: string;
  readonly details: string;
}

export interface BatchStream {
  readonly call: ClientDuplexStream<BatchMembershipsRequest, BatchMembershipsResponse>;
  /** Writes one operation; returns grpc-js's backpressure signal (false: its buffer is full). */
  send(operation: OperationInit): boolean;
  sync(groupId: string, dryRun: boolean): boolean;
  /** Half-closes the request side. */
  end(): void;
  /** Reads the next response; undefined at the end; rejects with the ServiceError of a failed stream. */
  next(): Promise<BatchMembershipsResponse | undefined>;
  /** Reads everything that is left and the final status. */
  finish(): Promise<StreamOutcome>;
}

/** Opens a stream; `headers` are sent as more request metadata (e.g. `traceparent`). */
export function openBatchStream(client: Client, token: string | undefined, headers: Readonly<Record<string, string>> = {}): BatchStream {
  const method = MembershipService.method.batchMemberships;
  const metadata = new Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  const call = client.makeBidiStreamRequest(
    grpcPath(method),
    (message: BatchMembershipsRequest) => encodeMessage(method.input, message),
    (bytes: Buffer) => decodeResponse(method.output, bytes) as BatchMembershipsResponse,
    metadata,
    {},
  );
  // The final status, also when the stream fails while nobody is reading (no uncaught 'error').
  const finalStatus = new Promise<StatusObject>((resolve) => {
    call.on("status", resolve);
  });
  call.on("error", () => undefined);
  const iterator = (call as AsyncIterable<BatchMembershipsResponse>)[Symbol.asyncIterator]();
  const next = async (): Promise<BatchMembershipsResponse | undefined> => {
    const result = await iterator.next();
    return result.done === true ? undefined : result.value;
  };
  return {
    call,
    send: (operation) => call.write(create(BatchMembershipsRequestSchema, { message: { case: "operation", value: operation } })),
    sync: (groupId, dryRun) => call.write(create(BatchMembershipsRequestSchema, { message: { case: "sync", value: { groupId, dryRun } } })),
    end: () => {
      call.end();
    },
    next,
    async finish() {
      const results: OperationResult[] = [];
      let summary: SyncSummary | undefined;
      try {
        for (let response = await next(); response !== undefined; response = await next()) {
          if (response.message.case === "result") results.push(response.message.value);
          else if (response.message.case === "summary") summary = response.message.value;
        }
      } catch (error) {
        if (typeof (error as Partial<ServiceError>).code !== "number") throw error;
      }
      const final = await finalStatus;
      return { results, summary, code: status[final.code], details: final.code === status.OK ? "" : final.details };
    },
  };
}

/** Sends `operations` (optionally after a sync declaration), half-closes, and reads everything. */
export async function runBatch(
  client: Client,
  token: string | undefined,
  operations: readonly OperationInit[],
  sync?: { groupId: string; dryRun: boolean },
): Promise<StreamOutcome> {
  const stream = openBatchStream(client, token);
  if (sync !== undefined) stream.sync(sync.groupId, sync.dryRun);
  for (const operation of operations) stream.send(operation);
  stream.end();
  return stream.finish();
}

/** A result as a compact comparable value: index, tag, code, message (and changed/role on success). */
export function summarize(result: OperationResult): { index: number; tag: string; code: number; message: string; changed?: boolean; role?: Role } {
  const code = result.status?.code ?? -1;
  const base = { index: result.index, tag: result.tag, code, message: result.status?.message ?? "" };
  return code === 0 ? { ...base, changed: result.changed, role: result.membership?.role ?? Role.UNSPECIFIED } : base;
}
