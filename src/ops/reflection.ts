/**
 * gRPC server reflection (`grpc.reflection.v1` and `grpc.reflection.v1alpha`)
 * on the gRPC door, so that grpcurl, grpc_cli and reflection-based clients in
 * any language work without proto files.
 *
 * Roster serves the descriptors exactly as compiled: the ones protobuf-es
 * embeds in `gen/` (see descriptor-index.ts), for its own services and for the
 * standard health and reflection protos, which `buf generate` compiles from the
 * files their npm packages ship (see buf.yaml). So clients get the standard
 * file names (`grpc/health/v1/health.proto`), snake_case field names, fully
 * qualified type names, and every method option, including each Roster
 * method's `(roster.v1.access)` rule, which `grpcurl describe` prints.
 * (`@grpc/reflection` re-encodes descriptors with protobufjs, which loses
 * custom options, and its own and grpc-health-check's descriptors are
 * protobufjs-built, which strict descriptor pools refuse; hence this service.)
 *
 * The protocol follows grpc-go's reference server: a file is answered with
 * the file first, then each file it imports, transitively, not yet sent on
 * the same stream; an unknown file, symbol or extension is an ErrorResponse
 * with NOT_FOUND, and the stream goes on.
 */
import { create, type DescFile, type DescService, type Message } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { Server, ServerDuplexStream } from "@grpc/grpc-js";
import { file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.ts";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { file_roster_v1_change_service } from "../../gen/roster/v1/change_service_pb.ts";
import { file_roster_v1_group_service } from "../../gen/roster/v1/group_service_pb.ts";
import { file_roster_v1_membership_service } from "../../gen/roster/v1/membership_service_pb.ts";
import type { DecodedRequest } from "../transport/grpc/message-codec.ts";
import { createServerServiceDefinition } from "../transport/grpc/service-definition.ts";
import { createDescriptorIndex, type DescriptorIndex } from "./descriptor-index.ts";

/**
 * The files reflection describes: Roster's services, health and both
 * reflection versions (and, through the index, every file they import).
 */
const servedFiles: readonly DescFile[] = [
  file_roster_v1_group_service,
  file_roster_v1_membership_service,
  file_roster_v1_change_service,
  file_grpc_health_v1_health,
  v1.file_grpc_reflection_v1_reflection,
  v1alpha.file_grpc_reflection_v1alpha_reflection,
];

/** What a reflection request asks; the same shape in v1 and v1alpha. */
type ReflectionQuery =
  | { readonly case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; readonly value: string }
  | { readonly case: "fileContainingExtension"; readonly value: { readonly containingType: string; readonly extensionNumber: number } }
  | { readonly case: undefined; readonly value?: undefined };

/** The answer to one request; the same shape in v1 and v1alpha. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

type ReflectionRequest = Message & { readonly host: string; readonly messageRequest: ReflectionQuery };

/** One protocol version: its service, and its response message around an answer (`request` undefined: undecodable). */
interface ReflectionVersion<Request extends ReflectionRequest> {
  readonly service: DescService;
  respond(request: Request | undefined, answer: ReflectionAnswer): Message;
}

const versions = [
  {
    service: v1.ServerReflection,
    respond: (request: v1.ServerReflectionRequest | undefined, answer: ReflectionAnswer) =>
      create(v1.ServerReflectionResponseSchema, { validHost: request?.host ?? "", originalRequest: request, messageResponse: answer }),
  } satisfies ReflectionVersion<v1.ServerReflectionRequest>,
  {
    service: v1alpha.ServerReflection,
    respond: (request: v1alpha.ServerReflectionRequest | undefined, answer: ReflectionAnswer) =>
      create(v1alpha.ServerReflectionResponseSchema, { validHost: request?.host ?? "", originalRequest: request, messageResponse: answer }),
  } satisfies ReflectionVersion<v1alpha.ServerReflectionRequest>,
] as const;

/**
 * Registers both reflection versions on a grpc-js server. Reflection needs no
 * token: it is a grpc-js service of its own, outside Roster's RPC pipeline.
 *
 * @returns the fully-qualified names of the services reflection lists.
 */
export function addReflection(server: Pick<Server, "addService">): readonly string[] {
  const index = createDescriptorIndex(servedFiles);
  const services = servedFiles.flatMap((file) => file.services.map((service) => service.typeName));
  for (const version of versions) {
    const respond = version.respond as ReflectionVersion<ReflectionRequest>["respond"];
    server.addService(createServerServiceDefinition(version.service), {
      ServerReflectionInfo: (call: ServerDuplexStream<DecodedRequest, Message>) => {
        // Files already sent on this stream, whose imports need not be sent again.
        const sent = new Set<string>();
        call.on("data", (decoded: DecodedRequest) => {
          if ("error" in decoded) {
            call.write(respond(undefined, errorAnswer(Code.InvalidArgument, decoded.error.rawMessage)));
            return;
          }
          const request = decoded.message as ReflectionRequest;
          call.write(respond(request, answer(index, services, request.messageRequest, sent)));
        });
        call.on("end", () => {
          call.end();
        });
        call.on("error", () => {
          // A cancelled stream: nothing more to answer.
        });
      },
    });
  }
  return services;
}

/** The answer to one request (see the module comment for the protocol). */
function answer(index: DescriptorIndex, services: readonly string[], query: ReflectionQuery, sent: Set<string>): ReflectionAnswer {
  const files = (file: DescFile | undefined, notFound: string): ReflectionAnswer =>
    file === undefined
      ? errorAnswer(Code.NotFound, notFound)
      : { case: "fileDescriptorResponse", value: { fileDescriptorProto: withImports(index, file, sent) } };
  switch (query.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } };
    case "fileByFilename":
      return files(index.fileByName(query.value), `File not found: ${query.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(query.value), `Symbol not found: ${query.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = query.value;
      return files(
        index.fileContainingExtension(containingType, extensionNumber),
        `Extension not found: ${containingType}(${extensionNumber})`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(query.value);
      return numbers === undefined
        ? errorAnswer(Code.NotFound, `Type not found: ${query.value}`)
        : { case: "allExtensionNumbersResponse", value: { baseTypeName: query.value, extensionNumber: [...numbers] } };
    }
    case undefined:
      return errorAnswer(Code.InvalidArgument, "the request sets none of the message_request fields");
  }
}

/** The file, then every file it imports (breadth first) not yet sent on this stream. */
function withImports(index: DescriptorIndex, file: DescFile, sent: Set<string>): Uint8Array[] {
  const out = [index.serialized(file)];
  sent.add(file.proto.name);
  const queue = [...file.dependencies];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (sent.has(next.proto.name)) continue;
    sent.add(next.proto.name);
    out.push(index.serialized(next));
    queue.push(...next.dependencies);
  }
  return out;
}

function errorAnswer(code: Code, message: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}
