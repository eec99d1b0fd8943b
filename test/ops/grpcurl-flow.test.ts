/**
 * What an operator does with grpcurl against the real gRPC door, without
 * proto files: `grpcurl list`, `grpcurl describe roster.v1.GroupService`,
 * `grpcurl -H 'authorization: Bearer …' -d '{json}' … roster.v1.GroupService/GetGroup`
 * (types resolved through reflection, JSON turned into protobuf with them),
 * and `grpc.health.v1.Health/Check` — reflection and health without a token.
 */
import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson, type FileRegistry, type JsonValue } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRosterStack, type RosterStack } from "../fixtures/roster-both-doors.ts";
import { createHealthClient } from "../fixtures/health-client.ts";
import { openReflection, type ReflectionSession } from "../fixtures/reflection-client.ts";

let stack: RosterStack;
let reflection: ReflectionSession;

beforeAll(async () => {
  stack = await startRosterStack();
  reflection = openReflection(stack.grpcAddress, "v1");
});

afterAll(async () => {
  reflection.close();
  await stack.stop();
});

/** grpcurl's descriptor source: everything reachable from a symbol, fetched through reflection. */
async function registryFor(symbol: string): Promise<FileRegistry> {
  const files = new Map<string, FileDescriptorProto>();
  const take = (response: Awaited<ReturnType<ReflectionSession["ask"]>>): void => {
    if (response.kind !== "files") throw new Error(JSON.stringify(response));
    for (const file of response.files) files.set(file.name, file);
  };
  take(await reflection.ask({ fileContainingSymbol: symbol }));
  for (;;) {
    const missing = [...files.values()].flatMap((f) => f.dependency).filter((name) => !files.has(name));
    if (missing.length === 0) break;
    for (const name of new Set(missing)) take(await reflection.ask({ fileByFilename: name }));
  }
  const ordered: FileDescriptorProto[] = [];
  const visit = (name: string): void => {
    const file = files.get(name);
    if (file === undefined || ordered.includes(file)) return;
    for (const dependency of file.dependency) visit(dependency);
    ordered.push(file);
  };
  for (const name of files.keys()) visit(name);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

/** `grpcurl -H authorization:… -d '{json}' address service/method`, with types from reflection only. */
async function invokeWithJson(registry: FileRegistry, fullMethod: string, json: JsonValue, token: string): Promise<JsonValue> {
  const [serviceName = "", methodName = ""] = fullMethod.split("/");
  const method = registry.getService(serviceName)?.methods.find((m) => m.name === methodName);
  if (method === undefined) throw new Error(`${fullMethod} not found through reflection`);
  const request = fromJson(method.input, json, { registry });
  const client = new grpc.Client(stack.grpcAddress, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  try {
    const response = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(
        `/${fullMethod}`,
        (bytes: Uint8Array) => Buffer.from(bytes),
        (bytes: Buffer) => bytes,
        toBinary(method.input, request),
        metadata,
        (error, value) => {
          if (error) reject(error);
          else if (value === undefined) reject(new Error("no response"));
          else resolve(value);
        },
      );
    });
    return toJson(method.output, fromBinary(method.output, response), { registry });
  } finally {
    client.close();
  }
}

it("grpcurl list: the Roster services, health and reflection, without a token", async () => {
  const response = await reflection.ask({ listServices: "*" });
  expect(response).toEqual({
    kind: "services",
    services: expect.arrayContaining([
      "roster.v1.GroupService",
      "roster.v1.MembershipService",
      "roster.v1.ChangeService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]) as unknown,
  });
});

it("grpcurl -d '{json}': CreateGroup and GetGroup with types known only from reflection", async () => {
  const registry = await registryFor("roster.v1.GroupService");
  const token = await stack.token("operator");
  const created = (await invokeWithJson(
    registry,
    "roster.v1.GroupService/CreateGroup",
    { group: { slug: "ops-team", displayName: "Ops team", labels: { oncall: "yes" } } },
    token,
  )) as { group: { id: string; slug: string; labels: Record<string, string>; createdBy: string } };
  expect(created.group).toMatchObject({ slug: "ops-team", labels: { oncall: "yes" }, createdBy: "user:operator" });

  const fetched = (await invokeWithJson(registry, "roster.v1.GroupService/GetGroup", { id: created.group.id }, token)) as {
    group: { id: string };
    callerAccess: { role: string };
  };
  expect(fetched.group.id).toBe(created.group.id);
  expect(fetched.callerAccess.role).toBe("ROLE_ADMIN");
});

it("grpc.health.v1 Check on the real door: overall and per service SERVING, no token", async () => {
  const health = createHealthClient(stack.grpcAddress);
  try {
    for (const service of ["", "roster.v1.GroupService", "roster.v1.MembershipService", "roster.v1.ChangeService"]) {
      expect(await health.check(service), service).toBe("SERVING");
    }
  } finally {
    health.close();
  }
});
