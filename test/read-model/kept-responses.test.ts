/**
 * GetGroup's and CheckMembership's kept responses (src/convert/read-responses.ts)
 * and their kept encodings (the gRPC door's frozen-message bytes), on replica
 * B, which learns A's writes only from its change stream: once B has applied
 * a change (a read with A's consistency token waits for that), neither that
 * read nor any later one without a token answers with an older version's
 * bytes, for a change of a field (UpdateGroup) and for a change that only
 * moves member_count (AddMember); the caller's access is part of what is kept.
 */
import { create, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { Visibility } from "../../gen/roster/v1/group_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { decodeResponse, encodeMessage } from "../../src/transport/grpc/message-codec.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";

let mongo: TestMongo;
let a: TestRoster;
let b: TestRoster;

beforeAll(async () => {
  mongo = await startTestMongo();
  const dbName = uniqueDbName("kept-responses");
  a = await startTestRoster({ mongoUri: mongo.uri, dbName });
  b = await startTestRoster({ mongoUri: mongo.uri, dbName });
});

afterAll(async () => {
  await a.stop();
  await b.stop();
  await mongo.stop();
});

/** A call through `roster`'s gRPC door as `subject`: the raw response bytes and the decoded message. */
async function rawCall<I extends DescMethodUnary>(
  roster: TestRoster,
  subject: string,
  method: I,
  request: MessageInitShape<I["input"]>,
): Promise<{ bytes: Buffer; message: MessageShape<I["output"]> }> {
  const bytes = await roster.client.callRaw(method, encodeMessage(method.input, create(method.input, request)), {
    token: await roster.token(subject),
  });
  return { bytes, message: decodeResponse(method.output, bytes) as MessageShape<I["output"]> };
}

const getGroup = GroupService.method.getGroup;

describe("kept read responses on a replica fed by its change stream", () => {
  it("never answer a changed group with an older version's bytes", async () => {
    const writer = a.client.as(await a.token("alice"));
    const created = await writer.groups.createGroup({
      group: { slug: "kept", displayName: "Kept v1", policies: { visibility: Visibility.AUTHENTICATED } },
    });
    const id = created.group?.id ?? "";

    const first = await rawCall(b, "alice", getGroup, {
      id,
      consistency: { requirement: { case: "atLeastAsFresh", value: created.consistencyToken } },
    });
    expect(first.message.group?.displayName).toBe("Kept v1");
    const again = await rawCall(b, "alice", getGroup, { id });
    expect(again.bytes.equals(first.bytes)).toBe(true);

    // Another caller's access is part of the response: bob sees the group (AUTHENTICATED) but holds no role.
    const bobs = await rawCall(b, "bob", getGroup, { id });
    expect(bobs.message.callerAccess?.role).toBe(Role.UNSPECIFIED);
    expect(first.message.callerAccess?.role).toBe(Role.ADMIN);
    expect(bobs.message.group).toEqual(first.message.group);

    const updated = await writer.groups.updateGroup({
      group: { id, displayName: "Kept v2" },
      updateMask: { paths: ["display_name"] },
    });
    const fresh = await rawCall(b, "alice", getGroup, {
      id,
      consistency: { requirement: { case: "atLeastAsFresh", value: updated.consistencyToken } },
    });
    expect(fresh.message.group?.displayName).toBe("Kept v2");
    expect(fresh.message.group?.etag).toBe(updated.group?.etag);
    const later = await rawCall(b, "alice", getGroup, { id });
    expect(later.bytes.equals(fresh.bytes)).toBe(true);
    expect((await rawCall(b, "bob", getGroup, { id })).message.group?.displayName).toBe("Kept v2");

    // Only member_count moves.
    const added = await writer.memberships.addMember({ groupId: id, member: "user:carol", role: Role.MEMBER });
    const counted = await rawCall(b, "alice", getGroup, {
      id,
      consistency: { requirement: { case: "atLeastAsFresh", value: added.consistencyToken } },
    });
    expect(counted.message.group?.memberCount).toBe(fresh.message.group === undefined ? -1 : fresh.message.group.memberCount + 1);
    const afterCount = await rawCall(b, "alice", getGroup, { id });
    expect(afterCount.bytes.equals(counted.bytes)).toBe(true);
    expect(afterCount.bytes.equals(fresh.bytes)).toBe(false);
  });

  it("answer CheckMembership by the answer itself: a revoked membership is never answered with the kept yes", async () => {
    const writer = a.client.as(await a.token("alice"));
    const created = await writer.groups.createGroup({ group: { slug: "kept-check", displayName: "Kept check" } });
    const groupId = created.group?.id ?? "";
    const added = await writer.memberships.addMember({ groupId, member: "user:dave", role: Role.MEMBER });
    const check = MembershipService.method.checkMembership;
    const yes = await rawCall(b, "alice", check, {
      groupId,
      principal: "user:dave",
      consistency: { requirement: { case: "atLeastAsFresh", value: added.consistencyToken } },
    });
    expect(yes.message.isMember).toBe(true);
    expect((await rawCall(b, "alice", check, { groupId, principal: "user:dave" })).bytes.equals(yes.bytes)).toBe(true);

    const removed = await writer.memberships.removeMember({ groupId, member: "user:dave" });
    const no = await rawCall(b, "alice", check, {
      groupId,
      principal: "user:dave",
      consistency: { requirement: { case: "atLeastAsFresh", value: removed.consistencyToken } },
    });
    expect(no.message.isMember).toBe(false);
    expect((await rawCall(b, "alice", check, { groupId, principal: "user:dave" })).message.isMember).toBe(false);
  });
});
