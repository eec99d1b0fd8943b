/**
 * A minimal gRPC server-reflection client, written against the wire format of
 * `grpc/reflection/v1/reflection.proto` (v1alpha has the same field numbers)
 * rather than with the server package's own codec, so the tests check what a
 * foreign client such as grpcurl receives.
 *
 * Request:  1 host, 3 file_by_filename, 4 file_containing_symbol,
 *           5 file_containing_extension { 1 containing_type, 2 extension_number },
 *           6 all_extension_numbers_of_type, 7 list_services.
 * Response: 4 file_descriptor_response { 1 repeated bytes file_descriptor_proto },
 *           5 all_extension_numbers_response { 1 base_type_name, 2 repeated int32 extension_number },
 *           6 list_services_response { 1 repeated ServiceResponse { 1 name } },
 *           7 error_response { 1 error_code, 2 error_message }.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";

export type ReflectionVersion = "v1" | "v1alpha";

export type ReflectionRequest =
  | { readonly listServices: string }
  | { readonly fileContainingSymbol: string }
  | { readonly fileByFilename: string }
  | { readonly fileContainingExtension: { readonly containingType: string; readonly extensionNumber: number } }
  | { readonly allExtensionNumbersOfType: string };

export type ReflectionResponse =
  | { readonly kind: "services"; readonly services: string[] }
  | { readonly kind: "files"; readonly files: FileDescriptorProto[] }
  | { readonly kind: "extensionNumbers"; readonly baseTypeName: string; readonly numbers: number[] }
  | { readonly kind: "error"; readonly code: number; readonly message: string };

export function encodeRequest(request: ReflectionRequest): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).string("");
  if ("listServices" in request) writer.tag(7, WireType.LengthDelimited).string(request.listServices);
  else if ("fileContainingSymbol" in request) writer.tag(4, WireType.LengthDelimited).string(request.fileContainingSymbol);
  else if ("fileByFilename" in request) writer.tag(3, WireType.LengthDelimited).string(request.fileByFilename);
  else if ("allExtensionNumbersOfType" in request) writer.tag(6, WireType.LengthDelimited).string(request.allExtensionNumbersOfType);
  else {
    const extension = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .string(request.fileContainingExtension.containingType)
      .tag(2, WireType.Varint)
      .int32(request.fileContainingExtension.extensionNumber)
      .finish();
    writer.tag(5, WireType.LengthDelimited).bytes(extension);
  }
  return writer.finish();
}

export function decodeResponse(bytes: Uint8Array): ReflectionResponse {
  const reader = new BinaryReader(bytes);
  let response: ReflectionResponse | undefined;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 4) response = { kind: "files", files: decodeRepeatedBytes(reader.bytes()).map((b) => fromBinary(FileDescriptorProtoSchema, b)) };
    else if (field === 5) response = decodeExtensionNumbers(reader.bytes());
    else if (field === 6) response = { kind: "services", services: decodeServices(reader.bytes()) };
    else if (field === 7) response = decodeError(reader.bytes());
    else reader.skip(wireType);
  }
  if (response === undefined) throw new Error("reflection response carries no answer");
  return response;
}

function decodeRepeatedBytes(bytes: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const out: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) out.push(reader.bytes());
    else reader.skip(wireType);
  }
  return out;
}

function decodeServices(bytes: Uint8Array): string[] {
  return decodeRepeatedBytes(bytes).map((service) => {
    const reader = new BinaryReader(service);
    let name = "";
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1) name = reader.string();
      else reader.skip(wireType);
    }
    return name;
  });
}

function decodeExtensionNumbers(bytes: Uint8Array): ReflectionResponse {
  const reader = new BinaryReader(bytes);
  let baseTypeName = "";
  const numbers: number[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) baseTypeName = reader.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) {
      const end = reader.uint32() + reader.pos;
      while (reader.pos < end) numbers.push(reader.int32());
    } else if (field === 2) numbers.push(reader.int32());
    else reader.skip(wireType);
  }
  return { kind: "extensionNumbers", baseTypeName, numbers };
}

function decodeError(bytes: Uint8Array): ReflectionResponse {
  const reader = new BinaryReader(bytes);
  let code = 0;
  let message = "";
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) code = reader.int32();
    else if (field === 2) message = reader.string();
    else reader.skip(wireType);
  }
  return { kind: "error", code, message };
}

/** One ServerReflectionInfo stream; `ask` sends a request and awaits its answer. */
export interface ReflectionSession {
  ask(request: ReflectionRequest): Promise<ReflectionResponse>;
  close(): void;
}

export function openReflection(address: string, version: ReflectionVersion): ReflectionSession {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`,
    (bytes: Uint8Array) => Buffer.from(bytes),
    (buffer: Buffer) => decodeResponse(buffer),
  );
  const waiting: { resolve: (r: ReflectionResponse) => void; reject: (e: Error) => void }[] = [];
  call.on("data", (response: ReflectionResponse) => waiting.shift()?.resolve(response));
  call.on("error", (error: Error) => {
    for (const w of waiting.splice(0)) w.reject(error);
  });
  return {
    ask: (request) =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        call.write(encodeRequest(request));
      }),
    close: () => {
      call.end();
      client.close();
    },
  };
}
