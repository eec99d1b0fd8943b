/**
 * BatchMemberships over a bare node:http2 client speaking gRPC framing, for
 * the slow-reader test. A grpc-js client is no good there: while its
 * application does not read, it keeps draining the connection into its own
 * buffers (unbounded), so the server never sees a slow reader. Here, not
 * reading means not reading: the HTTP/2 stream stays paused, its flow-control
 * window fills, and the server has to wait.
 */
import type { IncomingHttpHeaders } from "node:http";
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BatchMembershipsRequestSchema,
  BatchMembershipsResponseSchema,
  type BatchMembershipsResponse,
} from "../../../gen/roster/v1/membership_service_pb.ts";
import type { OperationInit } from "./batch-client.ts";

export interface RawBatchStream {
  /** Queues one operation (HTTP/2 flow control decides when it actually leaves). */
  send(operation: OperationInit): void;
  end(): void;
  /** Starts reading: resolves with every response and the grpc-status once the stream ends. */
  readAll(): Promise<{ responses: BatchMembershipsResponse[]; grpcStatus: string; grpcMessage: string }>;
  close(): void;
}

export function openRawBatchStream(address: string, token: string): RawBatchStream {
  const session: ClientHttp2Session = connect(`http://${address}`);
  session.on("error", () => undefined);
  const stream: ClientHttp2Stream = session.request({
    [constants.HTTP2_HEADER_METHOD]: "POST",
    [constants.HTTP2_HEADER_PATH]: "/roster.v1.MembershipService/BatchMemberships",
    "content-type": "application/grpc+proto",
    te: "trailers",
    authorization: `Bearer ${token}`,
  });
  stream.on("error", () => undefined);
  // Paused from the start: nothing is read until readAll().
  stream.pause();
  let trailers: IncomingHttpHeaders = {};
  stream.on("trailers", (headers: IncomingHttpHeaders) => {
    trailers = headers;
  });
  return {
    send(operation) {
      const bytes = toBinary(BatchMembershipsRequestSchema, create(BatchMembershipsRequestSchema, { message: { case: "operation", value: operation } }));
      const frame = Buffer.alloc(5 + bytes.length);
      frame.writeUInt8(0, 0);
      frame.writeUInt32BE(bytes.length, 1);
      frame.set(bytes, 5);
      stream.write(frame);
    },
    end() {
      stream.end();
    },
    readAll() {
      return new Promise((resolve, reject) => {
        const responses: BatchMembershipsResponse[] = [];
        let buffered = Buffer.alloc(0);
        stream.on("data", (chunk: Buffer) => {
          buffered = Buffer.concat([buffered, chunk]);
          while (buffered.length >= 5) {
            const length = buffered.readUInt32BE(1);
            if (buffered.length < 5 + length) break;
            responses.push(fromBinary(BatchMembershipsResponseSchema, buffered.subarray(5, 5 + length)));
            buffered = buffered.subarray(5 + length);
          }
        });
        stream.on("end", () => {
          const header = (name: string): string => {
            const value = trailers[name];
            return Array.isArray(value) ? value.join(",") : (value ?? "");
          };
          resolve({ responses, grpcStatus: header("grpc-status") || "missing", grpcMessage: decodeURIComponent(header("grpc-message")) });
        });
        stream.on("error", reject);
        stream.resume();
      });
    },
    close() {
      stream.close();
      session.close();
    },
  };
}
