/**
 * A minimal `grpc.health.v1.Health` client written against the wire format
 * (HealthCheckRequest { 1 service }, HealthCheckResponse { 1 status }), as an
 * external prober such as grpc_health_probe or grpcurl would see the server.
 */
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";

/** HealthCheckResponse.ServingStatus by number. */
const statusNames = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;
export type HealthStatus = (typeof statusNames)[number];

function encodeRequest(service: string): Buffer {
  return Buffer.from(new BinaryWriter().tag(1, WireType.LengthDelimited).string(service).finish());
}

function decodeResponse(bytes: Buffer): HealthStatus {
  const reader = new BinaryReader(bytes);
  let status = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) status = reader.int32();
    else reader.skip(wireType);
  }
  const name = statusNames[status];
  if (name === undefined) throw new Error(`unknown serving status ${status}`);
  return name;
}

export interface HealthClient {
  check(service: string): Promise<HealthStatus>;
  /** Opens a Watch stream; `next()` resolves with the next status the server sends. */
  watch(service: string): {
    next(timeoutMs?: number): Promise<HealthStatus>;
    cancel(): void;
    /** Resolves with the gRPC status code the stream ended with. */
    ended: Promise<number>;
  };
  close(): void;
}

export function createHealthClient(address: string): HealthClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    check: (service) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest("/grpc.health.v1.Health/Check", encodeRequest, decodeResponse, service, (error, status) => {
          if (error) reject(error);
          else if (status === undefined) reject(new Error("empty Check response"));
          else resolve(status);
        });
      }),
    watch: (service) => {
      const call = client.makeServerStreamRequest("/grpc.health.v1.Health/Watch", encodeRequest, decodeResponse, service);
      const received: HealthStatus[] = [];
      const waiting: ((status: HealthStatus) => void)[] = [];
      call.on("data", (status: HealthStatus) => {
        const waiter = waiting.shift();
        if (waiter) waiter(status);
        else received.push(status);
      });
      call.on("error", () => {
        /* cancelled by the test */
      });
      const ended = new Promise<number>((resolve) => {
        call.on("status", (status: grpc.StatusObject) => {
          resolve(status.code);
        });
      });
      return {
        next: (timeoutMs = 5000) =>
          new Promise((resolve, reject) => {
            const ready = received.shift();
            if (ready !== undefined) {
              resolve(ready);
              return;
            }
            const timer = setTimeout(() => {
              reject(new Error(`no Watch update for "${service}" within ${timeoutMs} ms`));
            }, timeoutMs);
            waiting.push((status) => {
              clearTimeout(timer);
              resolve(status);
            });
          }),
        cancel: () => {
          call.cancel();
        },
        ended,
      };
    },
    close: () => {
      client.close();
    },
  };
}
