/**
 * One calling convention over the three protocols Roster serves, so the same
 * table of calls can run through each: gRPC (a grpc-js client on the gRPC
 * door, messages encoded with protobuf-es), and on the web door Connect with
 * JSON, Connect with binary protobuf, and gRPC-web (connect-node clients).
 * Every outcome is reduced to plain JSON: the response as proto JSON, or the
 * status code and message.
 */
import { create, fromBinary, toBinary, toJson, type DescMethodUnary, type DescService, type JsonValue } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";

export type Outcome = { readonly code: "OK"; readonly response: JsonValue } | { readonly code: number; readonly message: string };

export interface ProtocolClient {
  readonly name: string;
  /** Calls `service/method` with `request` (a message init object) and an optional bearer token. */
  call(service: DescService, methodName: string, request: object, token?: string, timeoutMs?: number): Promise<Outcome>;
  close(): void;
}

export const protocolNames = ["gRPC", "Connect JSON", "Connect binary", "gRPC-web"] as const;
export type ProtocolName = (typeof protocolNames)[number];

export function createProtocolClient(name: ProtocolName, endpoints: { grpcAddress: string; webUrl: string }): ProtocolClient {
  switch (name) {
    case "gRPC":
      return createGrpcClient(endpoints.grpcAddress);
    case "Connect JSON":
      return createConnectClient(name, createConnectTransport({ baseUrl: endpoints.webUrl, httpVersion: "1.1", useBinaryFormat: false }));
    case "Connect binary":
      return createConnectClient(name, createConnectTransport({ baseUrl: endpoints.webUrl, httpVersion: "1.1", useBinaryFormat: true }));
    case "gRPC-web":
      return createConnectClient(name, createGrpcWebTransport({ baseUrl: endpoints.webUrl, httpVersion: "1.1" }));
  }
}

function unaryMethod(service: DescService, methodName: string): DescMethodUnary {
  const method = service.methods.find((m) => m.name === methodName);
  if (method === undefined || method.methodKind !== "unary") throw new Error(`${service.typeName}/${methodName} is not a unary method`);
  return method as DescMethodUnary;
}

function createGrpcClient(address: string): ProtocolClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    name: "gRPC",
    call: (service, methodName, request, token, timeoutMs) => {
      const method = unaryMethod(service, methodName);
      const metadata = new grpc.Metadata();
      if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
      const options: grpc.CallOptions = timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          `/${service.typeName}/${method.name}`,
          (value: object) => Buffer.from(toBinary(method.input, create(method.input, value as never))),
          (bytes: Buffer) => fromBinary(method.output, bytes),
          request,
          metadata,
          options,
          (error, response) => {
            if (error) resolve({ code: error.code, message: error.details });
            else if (response === undefined) resolve({ code: grpc.status.INTERNAL, message: "no response" });
            else resolve({ code: "OK", response: toJson(method.output, response) });
          },
        );
      });
    },
    close: () => {
      client.close();
    },
  };
}

function createConnectClient(name: string, transport: Transport): ProtocolClient {
  const clients = new Map<DescService, Client<DescService>>();
  return {
    name,
    call: async (service, methodName, request, token, timeoutMs) => {
      const method = unaryMethod(service, methodName);
      let client = clients.get(service);
      if (client === undefined) {
        client = createClient(service, transport);
        clients.set(service, client);
      }
      const fn = (client as unknown as Record<string, (req: object, options: object) => Promise<never>>)[method.localName];
      if (fn === undefined) throw new Error(`no client method ${method.localName}`);
      try {
        const response = await fn(request, {
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
        return { code: "OK", response: toJson(method.output, response) };
      } catch (error) {
        const status = ConnectError.from(error);
        return { code: status.code, message: status.rawMessage };
      }
    },
    close: () => undefined,
  };
}
