/**
 * The pipeline's pure parts without a server: the one error mapping (of
 * RosterErrors, into which storage translates the driver's errors), the
 * access rules compiled from the method options, and the request parsing of
 * the handlers' converters.
 */
import { create, createFileRegistry, setExtension, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, MethodOptionsSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { MongoClientClosedError, MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoTopologyClosedError } from "mongodb";
import { describe, expect, it } from "vitest";
import { access, AccessRuleSchema, Requirement, Role } from "../../gen/roster/v1/access_pb.ts";
import { file_roster_v1_group_service, GroupService, UpdateGroupRequestSchema } from "../../gen/roster/v1/group_service_pb.ts";
import { AddMemberRequestSchema, MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { errorKinds, RosterError } from "../../src/domain/errors.ts";
import { groupUpdateFromProto } from "../../src/convert/group.ts";
import { compileAccessRules, methodKey } from "../../src/rpc/access-rules.ts";
import { codeOfKind, toConnectError } from "../../src/rpc/error-mapping.ts";
import { translateDriverError } from "../../src/storage/driver-errors.ts";

describe("error mapping", () => {
  const expected: Readonly<Record<string, Code>> = {
    invalid_argument: Code.InvalidArgument,
    not_found: Code.NotFound,
    already_exists: Code.AlreadyExists,
    permission_denied: Code.PermissionDenied,
    unauthenticated: Code.Unauthenticated,
    failed_precondition: Code.FailedPrecondition,
    aborted: Code.Aborted,
    resource_exhausted: Code.ResourceExhausted,
    deadline_exceeded: Code.DeadlineExceeded,
    unavailable: Code.Unavailable,
  };

  it.each(errorKinds.map((kind) => ({ kind })))("maps RosterError $kind to its code with its message", ({ kind }) => {
    const status = toConnectError(new RosterError(kind, `something about ${kind}`));
    expect(status.code).toBe(expected[kind]);
    expect(codeOfKind[kind]).toBe(expected[kind]);
    expect(status.rawMessage).toBe(`something about ${kind}`);
  });

  it("maps MongoDB outages to UNAVAILABLE and time limits to DEADLINE_EXCEEDED (translated by storage)", () => {
    const mapped = (error: unknown): Code => toConnectError(translateDriverError(error)).code;
    expect(mapped(new MongoNetworkError("socket closed"))).toBe(Code.Unavailable);
    const maxTime = new MongoServerError({ code: 50, errmsg: "operation exceeded time limit" });
    expect(mapped(maxTime)).toBe(Code.DeadlineExceeded);
    const conflict = new MongoServerError({ code: 112, errmsg: "WriteConflict" });
    expect(mapped(conflict)).toBe(Code.Aborted);
    expect(mapped(new MongoClientClosedError())).toBe(Code.Unavailable);
    expect(mapped(new MongoTopologyClosedError())).toBe(Code.Unavailable);
    expect(mapped(new MongoOperationTimeoutError("timed out"))).toBe(Code.DeadlineExceeded);
  });

  it("knows no driver error itself: one that escaped storage is INTERNAL, and a translated one logs its cause", () => {
    expect(toConnectError(new MongoNetworkError("socket closed")).code).toBe(Code.Internal);
    const warned: unknown[] = [];
    const logger = { warn: (obj: unknown) => warned.push(obj), error: () => undefined } as never;
    const status = toConnectError(translateDriverError(new MongoNetworkError("connect ECONNREFUSED 10.0.0.1:27017")), logger);
    expect([status.code, status.rawMessage]).toEqual([Code.Unavailable, "database unavailable, try again later"]);
    expect((warned[0] as { err: Error }).err.message).toBe("connect ECONNREFUSED 10.0.0.1:27017");
  });

  it('hides anything else as INTERNAL "internal error" and logs the cause', () => {
    const logged: unknown[] = [];
    const logger = { error: (obj: unknown) => logged.push(obj), warn: () => undefined } as never;
    const status = toConnectError(new TypeError("cannot read x of undefined at /srv/secret.ts"), logger);
    expect(status.code).toBe(Code.Internal);
    expect(status.rawMessage).toBe("internal error");
    expect(logged).toHaveLength(1);
    expect((logged[0] as { err: Error }).err.message).toContain("secret.ts");
  });

  it("passes statuses through and uses an aborted signal's status", () => {
    const unimplemented = new ConnectError("later", Code.Unimplemented);
    expect(toConnectError(unimplemented)).toBe(unimplemented);
    const controller = new AbortController();
    controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    expect(toConnectError(new Error("aborted"), undefined, controller.signal).code).toBe(Code.DeadlineExceeded);
  });

  it("prefers the aborted signal's status over the error the abort caused (shutdown is UNAVAILABLE, not the app's deadline error)", () => {
    const shutdown = new AbortController();
    shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
    const status = toConnectError(new RosterError("deadline_exceeded", "the request was cancelled"), undefined, shutdown.signal);
    expect([status.code, status.rawMessage]).toEqual([Code.Unavailable, "server is shutting down"]);
    // Without an abort the RosterError is mapped as usual.
    expect(toConnectError(new RosterError("deadline_exceeded", "the request was cancelled")).code).toBe(Code.DeadlineExceeded);
  });
});

describe("access rules from the method options", () => {
  const rules = compileAccessRules([GroupService, MembershipService]);

  it("compiles a declared rule for every method of both services", () => {
    const methods = [...GroupService.methods, ...MembershipService.methods];
    expect(rules.size).toBe(methods.length);
    for (const method of methods) expect(rules.get(methodKey(method))?.spec.requires).not.toBe("UNSPECIFIED");
    expect(rules.get("roster.v1.GroupService/UpdateGroup")?.spec).toMatchObject({
      requires: "WRITE",
      groupField: "group.id",
      manageFields: ["group.policies", "group.parent_id"],
    });
    expect(rules.get("roster.v1.MembershipService/BatchMemberships")?.groupless).toBe(true);
  });

  it("extracts the target values the rule points at", () => {
    const addMember = rules.get("roster.v1.MembershipService/AddMember");
    const target = addMember?.target(create(AddMemberRequestSchema, { groupId: "g", member: "user:x", role: Role.ADMIN }));
    expect(target).toEqual({ groupId: "g", member: "user:x", role: "ADMIN" });
    const update = rules.get("roster.v1.GroupService/UpdateGroup");
    const updateTarget = update?.target(
      create(UpdateGroupRequestSchema, { group: { id: "g", displayName: "x" }, updateMask: { paths: ["display_name"] } }),
    );
    expect(updateTarget?.groupId).toBe("g");
    expect(updateTarget?.update?.mask).toEqual(["display_name"]);
  });

  /** test.v1.Broken/Peek, a GetGroupAcl-shaped method declaring `rule`. */
  function brokenService(rule: MessageInitShape<typeof AccessRuleSchema>): DescService {
    const options = create(MethodOptionsSchema);
    setExtension(options, access, create(AccessRuleSchema, rule));
    const file = create(FileDescriptorProtoSchema, {
      name: "test/v1/broken.proto",
      package: "test.v1",
      syntax: "proto3",
      dependency: ["roster/v1/group_service.proto"],
      service: [
        {
          name: "Broken",
          method: [{ name: "Peek", inputType: ".roster.v1.GetGroupAclRequest", outputType: ".roster.v1.GetGroupAclResponse", options }],
        },
      ],
    });
    const registry = createFileRegistry(file, (name) =>
      name === "roster/v1/group_service.proto" ? file_roster_v1_group_service : undefined,
    );
    const service = registry.getService("test.v1.Broken");
    if (service === undefined) throw new Error("no service");
    return service;
  }

  it("refuses at start-up a rule whose field path does not exist", () => {
    const service = brokenService({ requires: Requirement.SEE_GROUP, groupField: "group_idd" });
    expect(() => compileAccessRules([service])).toThrow(
      'test.v1.Broken/Peek: field path "group_idd" of roster.v1.GetGroupAclRequest: roster.v1.GetGroupAclRequest has no field "group_idd"',
    );
  });

  it("refuses at start-up manage_fields on a request that carries no group update", () => {
    const service = brokenService({ requires: Requirement.WRITE, groupField: "group_id", manageFields: ["group_id"] });
    expect(() => compileAccessRules([service])).toThrow(
      "test.v1.Broken/Peek: manage_fields and parent_field need a request that carries a group update, not roster.v1.GetGroupAclRequest",
    );
  });
});

describe("request parsing", () => {
  it("accepts the documented update_mask paths and refuses others naming the path", () => {
    const ok = groupUpdateFromProto(
      create(UpdateGroupRequestSchema, { group: { id: "g" }, updateMask: { paths: ["policies.visibility", "parent_id", "parent_id"] } }),
    );
    expect(ok.mask).toEqual(["policies.visibility", "parent_id"]);
    expect(groupUpdateFromProto(create(UpdateGroupRequestSchema, { group: { id: "g" } })).mask).toBeUndefined();
    expect(() => groupUpdateFromProto(create(UpdateGroupRequestSchema, { group: { id: "g" }, updateMask: { paths: ["etag"] } }))).toThrow(
      "update_mask: unknown field 'etag'",
    );
  });
});
