/**
 * Server reflection as grpcurl and grpc_cli use it: `list` (list_services),
 * `describe` (file_containing_symbol, then file_by_filename for every import
 * the client does not have yet), over both protocol versions, against a real
 * grpc-js server on a free port. Every file reflection lists must build in a
 * strict descriptor pool (strict-descriptor-pool.ts), under its standard
 * name, and carry the contract exactly as written: each Roster method's
 * `(roster.v1.access)` option, which `grpcurl describe` prints.
 */
import { create, createFileRegistry, getExtension, hasExtension, toJson, type DescService, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { access, AccessRuleSchema } from "../../gen/roster/v1/access_pb.ts";
import { ChangeService } from "../../gen/roster/v1/change_service_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { addReflection } from "../../src/ops/reflection.ts";
import { openReflection, type ReflectionResponse, type ReflectionSession, type ReflectionVersion } from "../fixtures/reflection-client.ts";
import { poolProblems } from "../fixtures/strict-descriptor-pool.ts";

const rosterServices: readonly DescService[] = [GroupService, MembershipService, ChangeService];
const expectedServices = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "roster.v1.ChangeService",
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
 * What grpcurl does to describe symbols: ask for the file containing each,
 * then fetch every import not yet received by file name. Returns the files by
 * name, the file declaring the first symbol first.
 */
async function filesFor(session: ReflectionSession, ...symbols: string[]): Promise<Map<string, FileDescriptorProto>> {
  const byName = new Map<string, FileDescriptorProto>();
  for (const symbol of symbols) {
    for (const file of files(await session.ask({ fileContainingSymbol: symbol }))) if (!byName.has(file.name)) byName.set(file.name, file);
  }
  for (let round = 0; round < 20; round++) {
    const missing = [...byName.values()].flatMap((f) => f.dependency).filter((name) => !byName.has(name));
    if (missing.length === 0) break;
    for (const name of new Set(missing)) {
      for (const file of files(await session.ask({ fileByFilename: name }))) byName.set(file.name, file);
    }
  }
  return byName;
}

/** The files of a symbol as a protobuf-es registry, checked against a strict pool's rules first. */
async function resolveSymbol(session: ReflectionSession, symbol: string): Promise<FileRegistry> {
  const byName = await filesFor(session, symbol);
  expect(poolProblems([...byName.values()]), symbol).toEqual([]);
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
    expect(health.getService("grpc.health.v1.Health")?.methods.map((m) => m.name)).toEqual(["Check", "Watch", "List"]);
    expect(health.getService("grpc.health.v1.Health")?.method["check"]?.output.field["status"]?.enum?.typeName).toBe(
      "grpc.health.v1.HealthCheckResponse.ServingStatus",
    );
    expect(health.getMessage("grpc.health.v1.HealthListResponse")?.field["statuses"]?.fieldKind).toBe("map");
    const reflection = await resolveSymbol(session, `grpc.reflection.${version}.ServerReflection`);
    expect(reflection.getService(`grpc.reflection.${version}.ServerReflection`)?.methods.map((m) => m.name)).toEqual(["ServerReflectionInfo"]);
  });

  it("builds every file it lists, with every import, in a strict descriptor pool", async () => {
    const listed = await session.ask({ listServices: "*" });
    if (listed.kind !== "services") throw new Error(JSON.stringify(listed));
    const all = await filesFor(session, ...listed.services);
    expect(poolProblems([...all.values()])).toEqual([]);
    expect([...all.keys()].sort()).toEqual([
      "google/protobuf/descriptor.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/field_mask.proto",
      "google/protobuf/timestamp.proto",
      "grpc/health/v1/health.proto",
      "grpc/reflection/v1/reflection.proto",
      "grpc/reflection/v1alpha/reflection.proto",
      "roster/v1/access.proto",
      "roster/v1/change.proto",
      "roster/v1/change_service.proto",
      "roster/v1/group.proto",
      "roster/v1/group_service.proto",
      "roster/v1/membership.proto",
      "roster/v1/membership_service.proto",
    ]);
  });

  it.each([
    ["grpc.health.v1.Health", "grpc/health/v1/health.proto"],
    ["grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"],
    ["grpc.reflection.v1alpha.ServerReflection", "grpc/reflection/v1alpha/reflection.proto"],
    ["roster.v1.GroupService", "roster/v1/group_service.proto"],
  ])("answers %s with its standard file, %s", async (symbol, fileName) => {
    expect(files(await session.ask({ fileContainingSymbol: symbol }))[0]?.name).toBe(fileName);
  });

  it("describes grpc.reflection.v1.ServerReflectionRequest with snake_case field names (grpcurl describe)", async () => {
    const registry = await resolveSymbol(session, "grpc.reflection.v1.ServerReflectionRequest");
    const request = registry.getMessage("grpc.reflection.v1.ServerReflectionRequest");
    expect(request?.fields.map((f) => [f.name, f.jsonName])).toEqual([
      ["host", "host"],
      ["file_by_filename", "fileByFilename"],
      ["file_containing_symbol", "fileContainingSymbol"],
      ["file_containing_extension", "fileContainingExtension"],
      ["all_extension_numbers_of_type", "allExtensionNumbersOfType"],
      ["list_services", "listServices"],
    ]);
  });

  it.each(rosterServices.map((s) => [s.typeName, s] as const))(
    "sends every %s method's (roster.v1.access) option, as declared (grpcurl describe prints it)",
    async (name, service) => {
      const file = files(await session.ask({ fileContainingSymbol: name }))[0];
      const described = file?.service.find((s) => `${file.package}.${s.name}` === name);
      expect(described?.method.map((m) => m.name)).toEqual(service.methods.map((m) => m.name));
      for (const method of described?.method ?? []) {
        const declared = service.methods.find((m) => m.name === method.name)?.proto.options;
        expect(method.options !== undefined && hasExtension(method.options, access), method.name).toBe(true);
        if (method.options === undefined || declared === undefined) continue;
        expect(toJson(AccessRuleSchema, getExtension(method.options, access)), method.name).toEqual(
          toJson(AccessRuleSchema, getExtension(declared, access)),
        );
      }
    },
  );

  it("finds the access extension by extendee and number, and lists MethodOptions' extension numbers", async () => {
    const byExtension = files(await session.ask({ fileContainingExtension: { containingType: "google.protobuf.MethodOptions", extensionNumber: 50001 } }));
    expect(byExtension[0]?.name).toBe("roster/v1/access.proto");
    expect(await session.ask({ allExtensionNumbersOfType: "google.protobuf.MethodOptions" })).toEqual({
      kind: "extensionNumbers",
      baseTypeName: "google.protobuf.MethodOptions",
      numbers: [50001],
    });
    expect(await session.ask({ fileContainingExtension: { containingType: "google.protobuf.MethodOptions", extensionNumber: 7 } })).toEqual({
      kind: "error",
      code: grpc.status.NOT_FOUND,
      message: "Extension not found: google.protobuf.MethodOptions(7)",
    });
  });

  it("sends a file's imports once per stream, the requested file always", async () => {
    const fresh = openReflection(address, version);
    try {
      const first = files(await fresh.ask({ fileByFilename: "roster/v1/group_service.proto" })).map((f) => f.name);
      expect(first[0]).toBe("roster/v1/group_service.proto");
      expect(first).toEqual(expect.arrayContaining(["roster/v1/access.proto", "google/protobuf/descriptor.proto"]));
      const second = files(await fresh.ask({ fileByFilename: "roster/v1/membership_service.proto" })).map((f) => f.name);
      expect(second).toEqual(["roster/v1/membership_service.proto", "roster/v1/membership.proto"]);
      const again = files(await fresh.ask({ fileByFilename: "roster/v1/access.proto" })).map((f) => f.name);
      expect(again).toEqual(["roster/v1/access.proto"]);
    } finally {
      fresh.close();
    }
  });

  it("answers NOT_FOUND for an unknown symbol and file", async () => {
    expect(await session.ask({ fileContainingSymbol: "roster.v1.NoSuchService" })).toEqual({
      kind: "error",
      code: grpc.status.NOT_FOUND,
      message: "Symbol not found: roster.v1.NoSuchService",
    });
    expect(await session.ask({ fileByFilename: "roster/v1/nope.proto" })).toEqual({
      kind: "error",
      code: grpc.status.NOT_FOUND,
      message: "File not found: roster/v1/nope.proto",
    });
  });
});
