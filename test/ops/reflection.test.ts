/**
 * Server reflection as grpcurl uses it: `list` (list_services), `describe`
 * (file_containing_symbol, then file_by_filename for every import the client
 * does not have yet), over both protocol versions, against a real grpc-js
 * server on a free port.
 */
import { create } from "@bufbuild/protobuf";
import { createFileRegistry, type DescService, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { addReflection } from "../../src/ops/reflection.ts";
import { openReflection, type ReflectionResponse, type ReflectionSession, type ReflectionVersion } from "./reflection-client.ts";

const rosterServices: readonly DescService[] = [GroupService, MembershipService];
const expectedServices = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "roster.v1.GroupService",
  "roster.v1.MembershipService",
];

let server: grpc.Server;
let address: string;

beforeAll(async () => {
  server = new grpc.Server();
  new HealthImplementation({ "": "SERVING" }).addToServer(server);
  addReflection(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server.forceShutdown();
});

function files(response: ReflectionResponse): FileDescriptorProto[] {
  if (response.kind !== "files") throw new Error(`expected file descriptors, got ${JSON.stringify(response)}`);
  return response.files;
}

/**
 * What grpcurl does to describe a symbol: ask for the file containing it, then
 * fetch every import not yet received by file name, and build a registry —
 * which fails if any referenced type or import is missing.
 */
async function resolveSymbol(session: ReflectionSession, symbol: string): Promise<FileRegistry> {
  const byName = new Map<string, FileDescriptorProto>();
  for (const file of files(await session.ask({ fileContainingSymbol: symbol }))) byName.set(file.name, file);
  for (let round = 0; round < 20; round++) {
    const missing = [...byName.values()].flatMap((f) => f.dependency).filter((name) => !byName.has(name));
    if (missing.length === 0) break;
    for (const name of new Set(missing)) {
      for (const file of files(await session.ask({ fileByFilename: name }))) byName.set(file.name, file);
    }
  }
  return createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(byName) }));
}

/** createFileRegistry wants every file after the files it imports. */
function importsFirst(byName: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    const file = byName.get(name);
    if (file === undefined || seen.has(name)) return;
    seen.add(name);
    for (const dependency of file.dependency) visit(dependency);
    ordered.push(file);
  };
  for (const name of byName.keys()) visit(name);
  return ordered;
}

describe.each<ReflectionVersion>(["v1", "v1alpha"])("grpc.reflection.%s", (version) => {
  let session: ReflectionSession;
  beforeAll(() => {
    session = openReflection(address, version);
  });
  afterAll(() => {
    session.close();
  });

  it("lists both Roster services, health and reflection (grpcurl list)", async () => {
    const response = await session.ask({ listServices: "*" });
    expect(response.kind).toBe("services");
    if (response.kind !== "services") return;
    expect([...response.services].sort()).toEqual(expectedServices);
  });

  it.each(rosterServices.map((s) => [s.typeName, s] as const))("describes every method of %s with its request and response types", async (name, service) => {
    const registry = await resolveSymbol(session, name);
    const described = registry.getService(name);
    expect(described, `${name} not in the returned descriptors`).toBeDefined();
    if (described === undefined) return;
    expect(described.methods.map((m) => m.name)).toEqual(service.methods.map((m) => m.name));
    for (const method of service.methods) {
      const got = described.method[method.localName];
      expect(got?.input.typeName, method.name).toBe(method.input.typeName);
      expect(got?.output.typeName, method.name).toBe(method.output.typeName);
      expect(got?.methodKind, method.name).toBe(method.methodKind);
      // Side-effect-free RPCs stay marked so (Connect clients may use GET for them).
      expect(got?.idempotency, method.name).toBe(method.idempotency);
      // Request fields survive, including message types from other files (grpcurl -d '{json}').
      expect(got?.input.fields.map((f) => [f.name, f.fieldKind, f.message?.typeName ?? f.enum?.typeName]), method.name).toEqual(
        method.input.fields.map((f) => [f.name, f.fieldKind, f.message?.typeName ?? f.enum?.typeName]),
      );
    }
  });

  it("describes a single method and a message (grpcurl describe roster.v1.GroupService.GetGroup / roster.v1.Group)", async () => {
    const byMethod = await resolveSymbol(session, "roster.v1.GroupService.GetGroup");
    expect(byMethod.getService("roster.v1.GroupService")?.method["getGroup"]?.output.typeName).toBe("roster.v1.GetGroupResponse");
    const byMessage = await resolveSymbol(session, "roster.v1.Group");
    expect(byMessage.getMessage("roster.v1.Group")?.field["createTime"]?.message?.typeName).toBe("google.protobuf.Timestamp");
  });

  it("keeps proto3 optional fields optional (ListGroupsRequest.namespace)", async () => {
    const registry = await resolveSymbol(session, "roster.v1.GroupService");
    const field = registry.getMessage("roster.v1.ListGroupsRequest")?.field["namespace"];
    expect(field?.proto.proto3Optional).toBe(true);
  });

  it("describes the health and reflection services themselves", async () => {
    const health = await resolveSymbol(session, "grpc.health.v1.Health");
    expect(health.getService("grpc.health.v1.Health")?.methods.map((m) => m.name)).toEqual(expect.arrayContaining(["Check", "Watch"]));
    // proto-loader's descriptors are normalized: qualified names, protoc-style map entries.
    expect(health.getService("grpc.health.v1.Health")?.method["check"]?.output.field["status"]?.enum?.typeName).toBe(
      "grpc.health.v1.HealthCheckResponse.ServingStatus",
    );
    expect(health.getMessage("grpc.health.v1.HealthListResponse")?.field["statuses"]?.fieldKind).toBe("map");
    const reflection = await resolveSymbol(session, `grpc.reflection.${version}.ServerReflection`);
    expect(reflection.getService(`grpc.reflection.${version}.ServerReflection`)?.methods.map((m) => m.name)).toEqual(["ServerReflectionInfo"]);
  });

  it("answers NOT_FOUND for an unknown symbol and file", async () => {
    expect(await session.ask({ fileContainingSymbol: "roster.v1.NoSuchService" })).toEqual({
      kind: "error",
      code: grpc.status.NOT_FOUND,
      message: "Symbol not found: roster.v1.NoSuchService",
    });
    expect(await session.ask({ fileByFilename: "roster/v1/nope.proto" })).toMatchObject({ kind: "error", code: grpc.status.NOT_FOUND });
  });
});
