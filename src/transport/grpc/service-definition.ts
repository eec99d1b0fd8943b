/**
 * grpc-js service definitions built from protobuf-es service descriptors:
 * path `/${service.typeName}/${method.name}`, streaming flags from the method
 * kind, protobuf-es binary (de)serialization, for the gRPC door. The typed
 * test clients take their method paths from `grpcPath` here too, so both
 * sides address exactly the generated contract.
 */
import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { decodeRequest, decodeResponse, encodeMessage, type DecodedRequest } from "./message-codec.ts";

/** The gRPC path of a method. */
export function grpcPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Server side: requests decode to `DecodedRequest` (never throwing), responses encode from messages. */
export function createServerServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<DecodedRequest, Message>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: grpcPath(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      originalName: method.localName,
      requestSerialize: () => {
        throw new Error(`${grpcPath(method)}: the server never serializes requests`);
      },
      requestDeserialize: (bytes) => decodeRequest(method.input, bytes),
      responseSerialize: (message) => encodeMessage(method.output, message),
      responseDeserialize: (bytes) => decodeResponse(method.output, bytes),
    };
  }
  return definition;
}
