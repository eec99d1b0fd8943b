/**
 * What the gRPC door sends on the wire around a call's messages, read with a
 * bare HTTP/2 client: the response headers (with `x-request-id`) and the
 * trailers of a unary call, of a failing unary call (trailers-only), and of
 * streams, exactly, so that a cheaper way of building them cannot change a
 * header's name, value, order or block.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { GetGroupRequestSchema, GetGroupResponseSchema, GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { BatchMembershipsRequestSchema, MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { grpcPath } from "../../src/transport/grpc/service-definition.ts";
import { addOp } from "../fixtures/batch-stream-client.ts";
import { makeGroup } from "../fixtures/groups-through-app.ts";
import { rawGrpcCall } from "../fixtures/raw-grpc-call.ts";
import { useServiceSuite } from "../fixtures/roster-with-user-clients.ts";

const suite = useServiceSuite("wire_headers");

/** The response headers every answered call starts with, before its own. */
const grpcJsHeaders = {
  ":status": 200,
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
};

async function metadataFor(subject: string, requestId: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await suite.roster.token(subject)}`, "x-request-id": requestId };
}

describe("gRPC door: response headers and trailers on the wire", () => {
  it("sends x-request-id in the headers of a unary call and only status and message in its trailers", async () => {
    const id = await makeGroup(suite.roster.server.app);
    const request = toBinary(GetGroupRequestSchema, create(GetGroupRequestSchema, { id }));
    const response = await rawGrpcCall(
      suite.roster.address,
      grpcPath(GroupService.method.getGroup),
      await metadataFor("root", "wire-unary-1"),
      [request],
    );
    expect(Object.entries(response.headers)).toEqual(Object.entries({ ...grpcJsHeaders, "x-request-id": "wire-unary-1" }));
    expect(response.trailers).toEqual({ "grpc-status": "0", "grpc-message": "OK" });
    expect(response.messages).toHaveLength(1);
    expect(fromBinary(GetGroupResponseSchema, response.messages[0] ?? Buffer.alloc(0)).group?.id).toBe(id);
  });

  it("sends a failing unary call as trailers-only: status, message and x-request-id in one header block", async () => {
    const request = toBinary(GetGroupRequestSchema, create(GetGroupRequestSchema, { id: "no-such-group" }));
    const response = await rawGrpcCall(
      suite.roster.address,
      grpcPath(GroupService.method.getGroup),
      await metadataFor("alice", "wire-fail-1"),
      [request],
    );
    expect(Object.entries(response.headers)).toEqual(
      Object.entries({
        ":status": 200,
        "grpc-status": "5",
        "grpc-message": encodeURI('group "no-such-group" not found'),
        "content-type": "application/grpc+proto",
        "x-request-id": "wire-fail-1",
      }),
    );
    expect(response.trailers).toEqual({});
    expect(response.messages).toEqual([]);
  });

  it("sends x-request-id in the headers of a stream, before its first message, and status and message in its trailers", async () => {
    const id = await makeGroup(suite.roster.server.app);
    const operation = toBinary(
      BatchMembershipsRequestSchema,
      create(BatchMembershipsRequestSchema, { message: { case: "operation", value: addOp(id, "user:wire-member") } }),
    );
    const path = grpcPath(MembershipService.method.batchMemberships);
    const response = await rawGrpcCall(suite.roster.address, path, await metadataFor("root", "wire-stream-1"), [operation]);
    expect(Object.entries(response.headers)).toEqual(Object.entries({ ...grpcJsHeaders, "x-request-id": "wire-stream-1" }));
    expect(response.messages.length).toBeGreaterThan(0);
    expect(response.trailers).toEqual({ "grpc-status": "0", "grpc-message": "OK" });

    const empty = await rawGrpcCall(suite.roster.address, path, await metadataFor("root", "wire-stream-2"), []);
    expect(Object.entries(empty.headers)).toEqual(Object.entries({ ...grpcJsHeaders, "x-request-id": "wire-stream-2" }));
    expect(empty.trailers).toEqual({ "grpc-status": "0", "grpc-message": "OK" });
  });

  it("sends a stream refused before it starts as trailers-only, with x-request-id", async () => {
    const path = grpcPath(MembershipService.method.batchMemberships);
    const response = await rawGrpcCall(
      suite.roster.address,
      path,
      { authorization: "Bearer not-a-token", "x-request-id": "wire-stream-3" },
      [],
    );
    expect(Object.entries(response.headers)).toEqual(
      Object.entries({
        ":status": 200,
        "grpc-status": "16",
        "grpc-message": "malformed%20token",
        "content-type": "application/grpc+proto",
        "x-request-id": "wire-stream-3",
      }),
    );
    expect(response.trailers).toEqual({});
  });
});
