/**
 * The lifecycle RPCs (InviteMember, RespondToInvitation, RequestToJoin,
 * DecideJoinRequest, UpdateMembership, ListMemberships statuses,
 * CheckMembership status) and high-assurance groups through a real server,
 * the same cases over both doors (gRPC, and Connect JSON on the web door):
 * success, validation naming the field, authorization, and the batch's
 * per-item results for the new operations. The authorization matrix test
 * covers every caller profile on the gRPC door.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { createProtocolClient, type Outcome, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";
import { makeGroup } from "../fixtures/groups-through-app.ts";

const doors: readonly ProtocolName[] = ["gRPC", "Connect JSON"];
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const FAILED_PRECONDITION = 9;

let mongo: TestMongo;
let roster: TestRoster;
const clients = new Map<ProtocolName, ProtocolClient>();
const tokens = new Map<string, string>();

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("lifecycle"), admins: ["user:root"] });
  for (const door of doors) clients.set(door, createProtocolClient(door, { grpcAddress: roster.address, webUrl: roster.httpUrl }));
  for (const name of ["alice", "bob", "carol", "dave", "stranger"]) tokens.set(name, await roster.token(name, { authTime: new Date() }));
  tokens.set("bob without auth_time", await roster.token("bob"));
  tokens.set("bob authenticated an hour ago", await roster.token("bob", { authTime: new Date(Date.now() - 3_600_000) }));
}, 120_000);

afterAll(async () => {
  for (const client of clients.values()) client.close();
  await roster.stop();
  await mongo.stop();
});

function caller(
  door: ProtocolName,
  name: string,
): (service: typeof MembershipService | typeof GroupService, method: string, request: object) => Promise<Outcome> {
  const client = clients.get(door);
  const token = tokens.get(name);
  if (client === undefined || token === undefined) throw new Error(`no client for ${door} or token for ${name}`);
  return (service, method, request) => client.call(service, method, request, token);
}

/** The response of a successful call, as proto JSON. */
function ok(outcome: Outcome): Record<string, JsonValue> {
  if (outcome.code !== "OK") expect.fail(`expected OK, got ${outcome.code}: ${outcome.message}`);
  return outcome.response as Record<string, JsonValue>;
}

const inAnHour = () => ({ seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 });

describe.each(doors)("membership lifecycle over %s", (door) => {
  const alice = (m: string, r: object) => caller(door, "alice")(MembershipService, m, r);
  const bob = (m: string, r: object) => caller(door, "bob")(MembershipService, m, r);
  const carol = (m: string, r: object) => caller(door, "carol")(MembershipService, m, r);
  const stranger = (m: string, r: object) => caller(door, "stranger")(MembershipService, m, r);

  it("invites, and the invitee (who may now see the group) accepts", async () => {
    const g = await makeGroup(roster.server.app, { members: { "user:alice": "ADMIN" } });
    const invited = ok(await alice("InviteMember", { groupId: g, member: "user:bob", role: 2, message: "join us" }));
    expect(invited["membership"]).toMatchObject({
      member: "user:bob",
      role: "ROLE_MANAGER",
      status: "MEMBERSHIP_STATUS_INVITED",
      message: "join us",
      createdBy: "user:alice",
    });
    const expires = Date.parse((invited["membership"] as Record<string, string>)["expireTime"] ?? "");
    expect(Math.abs(expires - (Date.now() + 14 * 86_400_000))).toBeLessThan(60_000);
    expect(ok(await bob("CheckMembership", { groupId: g, principal: "user:bob" }))).toEqual({
      status: "MEMBERSHIP_STATUS_INVITED",
      expireTime: expect.any(String) as unknown,
    });
    expect(ok(await caller(door, "bob")(GroupService, "GetGroup", { id: g }))).toMatchObject({ group: { id: g, memberCount: 1 } });
    // bob's invitations (other tests of this file invite bob too).
    const mine = ok(await bob("ListPrincipalGroups", { statuses: [2] }))["entries"] as { group: { id: string } }[];
    expect(mine.find((entry) => entry.group.id === g)).toMatchObject({
      role: "ROLE_MANAGER",
      direct: true,
      status: "MEMBERSHIP_STATUS_INVITED",
    });
    const accepted = ok(await bob("RespondToInvitation", { groupId: g, accept: true }));
    expect(accepted["membership"]).toMatchObject({ member: "user:bob", role: "ROLE_MANAGER", status: "MEMBERSHIP_STATUS_ACTIVE" });
    expect(accepted["membership"]).not.toHaveProperty("expireTime");
    expect(ok(await bob("CheckMembership", { groupId: g, principal: "user:bob" }))).toMatchObject({
      isMember: true,
      status: "MEMBERSHIP_STATUS_ACTIVE",
      path: [g],
    });
    expect(await alice("InviteMember", { groupId: g, member: "user:bob" })).toEqual({
      code: ALREADY_EXISTS,
      message: `user:bob already has a membership of group "${g}" (status ACTIVE)`,
    });
  });

  it("lists pending memberships only when asked for, and never the expired ones", async () => {
    const g = await makeGroup(roster.server.app, { members: { "user:alice": "ADMIN" } });
    ok(await alice("InviteMember", { groupId: g, member: "user:carol" }));
    ok(await alice("AddMember", { groupId: g, member: "user:dave", expireTime: inAnHour() }));
    const active = ok(await alice("ListMemberships", { groupId: g }));
    expect((active["memberships"] as { member: string }[]).map((m) => m.member)).toEqual(["user:alice", "user:dave"]);
    expect(active["totalSize"]).toBe(2);
    const invited = ok(await alice("ListMemberships", { groupId: g, statuses: [2] }));
    expect(invited).toMatchObject({ memberships: [{ member: "user:carol", status: "MEMBERSHIP_STATUS_INVITED" }], totalSize: 1 });
    const both = ok(await alice("ListMemberships", { groupId: g, statuses: [1, 2] }));
    expect((both["memberships"] as { member: string }[]).map((m) => m.member)).toEqual(["user:alice", "user:carol", "user:dave"]);
  });

  it("asks to join, with the signup fields, and a manager approves", async () => {
    const g = await makeGroup(roster.server.app, {
      visibility: "AUTHENTICATED",
      joinPolicy: "REQUEST",
      signupFields: ["institution"],
      members: { "user:alice": "ADMIN", "user:carol": "MANAGER" },
    });
    expect(await bob("RequestToJoin", { groupId: g })).toEqual({
      code: INVALID_ARGUMENT,
      message: `fields.institution: is required by group "${g}"`,
    });
    const requested = ok(await bob("RequestToJoin", { groupId: g, message: "hello", fields: { institution: "CERN" } }));
    expect(requested["membership"]).toMatchObject({
      member: "user:bob",
      status: "MEMBERSHIP_STATUS_REQUESTED",
      message: "hello",
      fields: { institution: "CERN" },
    });
    expect(await carol("DecideJoinRequest", { groupId: g, member: "user:bob", approve: true, role: 3 })).toEqual({
      code: PERMISSION_DENIED,
      message: `permission denied: MANAGE on group ${g} is required to grant role ADMIN`,
    });
    const approved = ok(await carol("DecideJoinRequest", { groupId: g, member: "user:bob", approve: true, reason: "welcome" }));
    expect(approved["membership"]).toMatchObject({
      member: "user:bob",
      role: "ROLE_MEMBER",
      status: "MEMBERSHIP_STATUS_ACTIVE",
      fields: { institution: "CERN" },
    });
    expect(await carol("DecideJoinRequest", { groupId: g, member: "user:bob", approve: false })).toEqual({
      code: NOT_FOUND,
      message: `user:bob has no pending join request to group "${g}"`,
    });
  });

  it("changes role and expire_time with UpdateMembership; the last never-expiring ADMIN stays", async () => {
    const g = await makeGroup(roster.server.app, { members: { "user:alice": "ADMIN", "user:bob": "MEMBER" } });
    const expireTime = inAnHour();
    const updated = ok(
      await alice("UpdateMembership", {
        groupId: g,
        member: "user:bob",
        role: 2,
        expireTime,
        updateMask: { paths: ["role", "expire_time"] },
      }),
    );
    expect(updated["membership"]).toMatchObject({
      role: "ROLE_MANAGER",
      expireTime: new Date(Number(expireTime.seconds) * 1000).toISOString().replace(".000Z", "Z"),
    });
    const cleared = ok(await alice("UpdateMembership", { groupId: g, member: "user:bob", updateMask: { paths: ["expire_time"] } }));
    expect(cleared["membership"]).not.toHaveProperty("expireTime");
    expect(
      await alice("UpdateMembership", { groupId: g, member: "user:alice", expireTime, updateMask: { paths: ["expire_time"] } }),
    ).toEqual({
      code: FAILED_PRECONDITION,
      message: `cannot set an expire_time on user:alice: it is the last direct ADMIN of group "${g}" without one`,
    });
  });

  it("names the field of every invalid request", async () => {
    // OPEN: RequestToJoin by alice passes its access rule and reaches the reason's check.
    const g = await makeGroup(roster.server.app, { joinPolicy: "OPEN", members: { "user:alice": "ADMIN" } });
    const longReason = "r".repeat(1025);
    const reasonTooLong = "reason: must be at most 1024 characters (got 1025)";
    const cases: [string, object, string][] = [
      ["InviteMember", { groupId: g, member: "user:x", message: "m".repeat(4097) }, "message: must be at most 4096 characters (got 4097)"],
      [
        "InviteMember",
        { groupId: g, member: "user:x", expireTime: { seconds: 1n, nanos: 0 } },
        "expire_time: must be in the future (got 1970-01-01T00:00:01.000Z)",
      ],
      ["InviteMember", { groupId: g, member: "user:x", role: 9 }, "role: unknown role 9"],
      ["UpdateMembership", { groupId: g, member: "user:alice" }, "update_mask: is required (role, expire_time)"],
      [
        "UpdateMembership",
        { groupId: g, member: "user:alice", updateMask: { paths: ["message"] } },
        'update_mask: unknown field "message" (allowed: role, expire_time)',
      ],
      [
        "UpdateMembership",
        { groupId: g, member: "user:alice", updateMask: { paths: ["role"] } },
        "role: is required (MEMBER, MANAGER or ADMIN) when update_mask names it",
      ],
      ["DecideJoinRequest", { groupId: g, member: "user:x", reason: longReason }, reasonTooLong],
      ["InviteMember", { groupId: g, member: "user:x", reason: longReason }, reasonTooLong],
      ["UpdateMembership", { groupId: g, member: "user:alice", updateMask: { paths: ["expire_time"] }, reason: longReason }, reasonTooLong],
      ["RespondToInvitation", { groupId: g, accept: true, reason: longReason }, reasonTooLong],
      ["RequestToJoin", { groupId: g, reason: longReason }, reasonTooLong],
      ["ListMemberships", { groupId: g, statuses: [0] }, "statuses[0]: must be ACTIVE, INVITED or REQUESTED (got 0)"],
      ["ListMemberships", { groupId: g, statuses: [2], transitive: true }, "statuses: a transitive listing has ACTIVE members only"],
      ["RespondToInvitation", { groupId: g, member: "nobody" }, 'member: must be "user:<id>", "group:<group id>" or "service:<id>"'],
    ];
    // Binary protobuf carries any seconds; proto JSON cannot even encode a timestamp out of range.
    if (door === "gRPC") {
      cases.push([
        "AddMember",
        { groupId: g, member: "user:x", expireTime: { seconds: 1n << 40n, nanos: 0 } },
        "expire_time: is not a valid time (years 1-9999)",
      ]);
    }
    for (const [method, request, message] of cases)
      expect([method, await alice(method, request)]).toEqual([method, { code: INVALID_ARGUMENT, message }]);
    const badFields = await caller(door, "alice")(GroupService, "CreateGroup", {
      group: { slug: `bad-${door === "gRPC" ? "g" : "c"}-${Date.now()}`, displayName: "Bad", policies: { signupFields: ["Institution"] } },
    });
    expect(badFields).toEqual({ code: INVALID_ARGUMENT, message: "group.policies.signup_fields[0]: must match ^[a-z][a-z0-9_]{0,62}$" });
  });

  it("refuses as the access rules say: only the invitee answers, CLOSED groups take no requests, nothing about unseen groups", async () => {
    const g = await makeGroup(roster.server.app, { members: { "user:alice": "ADMIN", "user:carol": "MEMBER" } });
    ok(await alice("InviteMember", { groupId: g, member: "user:bob" }));
    expect(await carol("RespondToInvitation", { groupId: g, member: "user:bob", accept: true })).toEqual({
      code: PERMISSION_DENIED,
      message: `permission denied: only the invitee (for a group, a caller with MANAGE on it) may answer an invitation to group ${g}`,
    });
    expect(await stranger("RespondToInvitation", { groupId: g, accept: true })).toEqual({
      code: NOT_FOUND,
      message: `group "${g}" not found`,
    });
    expect(await stranger("RequestToJoin", { groupId: g })).toEqual({ code: NOT_FOUND, message: `group "${g}" not found` });
    expect(await carol("RequestToJoin", { groupId: g })).toEqual({
      code: PERMISSION_DENIED,
      message: `permission denied: group ${g} does not accept join requests (join_policy CLOSED)`,
    });
    expect(await carol("InviteMember", { groupId: g, member: "user:dave" })).toEqual({
      code: PERMISSION_DENIED,
      message: `permission denied: WRITE on group ${g} is required`,
    });
  });

  it("high assurance: a token authenticated too long ago (or without auth_time) must re-authenticate; unseen groups stay NOT_FOUND", async () => {
    const g = await makeGroup(roster.server.app, {
      authenticationAssuranceTimeout: 600,
      members: { "user:alice": "ADMIN", "user:bob": "MEMBER" },
    });
    const as = (name: string) => (m: string, r: object) => caller(door, name)(MembershipService, m, r);
    expect(ok(await as("bob")("CheckMembership", { groupId: g, principal: "user:bob" }))).toMatchObject({ isMember: true });
    expect(await as("bob without auth_time")("CheckMembership", { groupId: g, principal: "user:bob" })).toEqual({
      code: PERMISSION_DENIED,
      message: `re-authentication required: group ${g} requires authentication within 600 s; the token has no auth_time`,
    });
    const stale = await as("bob authenticated an hour ago")("ListMemberships", { groupId: g });
    expect(stale).toMatchObject({ code: PERMISSION_DENIED });
    expect((stale as { message: string }).message).toMatch(
      new RegExp(
        `^re-authentication required: group ${g} requires authentication within 600 s; token authenticated at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.000Z$`,
      ),
    );
    expect(await caller(door, "bob without auth_time")(GroupService, "GetGroup", { id: g })).toMatchObject({ code: PERMISSION_DENIED });
    expect(await stranger("CheckMembership", { groupId: g, principal: "user:stranger" })).toEqual({
      code: NOT_FOUND,
      message: `group "${g}" not found`,
    });
    // A batch operation is decided by the same rule.
    const batch = ok(
      await as("bob without auth_time")("BatchUpdateMemberships", {
        operations: [{ operation: { case: "remove", value: { groupId: g, member: "user:bob" } } }],
      }),
    );
    expect(batch["results"]).toEqual([
      {
        status: {
          code: PERMISSION_DENIED,
          message: `re-authentication required: group ${g} requires authentication within 600 s; the token has no auth_time`,
        },
      },
    ]);
  });

  it("carries the new operations in a batch, with one result each", async () => {
    const g = await makeGroup(roster.server.app, {
      visibility: "AUTHENTICATED",
      joinPolicy: "REQUEST",
      members: { "user:alice": "ADMIN", "user:carol": "MEMBER" },
    });
    ok(await caller(door, "dave")(MembershipService, "RequestToJoin", { groupId: g }));
    ok(await alice("InviteMember", { groupId: g, member: "user:stranger" }));
    const result = ok(
      await alice("BatchUpdateMemberships", {
        operations: [
          { tag: "invite", operation: { case: "invite", value: { groupId: g, member: "user:bob", message: "hi" } } },
          { tag: "again", operation: { case: "invite", value: { groupId: g, member: "user:bob" } } },
          { tag: "decide", operation: { case: "decide", value: { groupId: g, member: "user:dave", approve: true } } },
          {
            tag: "expire",
            operation: {
              case: "update",
              value: { groupId: g, member: "user:carol", expireTime: inAnHour(), updateMask: { paths: ["expire_time"] } },
            },
          },
          { tag: "respond", operation: { case: "respond", value: { groupId: g, member: "user:stranger", accept: true } } },
          { tag: "mask", operation: { case: "update", value: { groupId: g, member: "user:carol" } } },
        ],
      }),
    );
    expect(result["results"]).toMatchObject([
      { tag: "invite", status: {}, changed: true, membership: { member: "user:bob", status: "MEMBERSHIP_STATUS_INVITED", message: "hi" } },
      {
        index: 1,
        tag: "again",
        status: { code: ALREADY_EXISTS, message: `user:bob already has a membership of group "${g}" (status INVITED)` },
      },
      { index: 2, tag: "decide", status: {}, changed: true, membership: { member: "user:dave", status: "MEMBERSHIP_STATUS_ACTIVE" } },
      {
        index: 3,
        tag: "expire",
        status: {},
        changed: true,
        membership: { member: "user:carol", expireTime: expect.any(String) as unknown },
      },
      {
        index: 4,
        tag: "respond",
        status: {
          code: PERMISSION_DENIED,
          message: `permission denied: only the invitee (for a group, a caller with MANAGE on it) may answer an invitation to group ${g}`,
        },
      },
      { index: 5, tag: "mask", status: { code: INVALID_ARGUMENT, message: "update_mask: is required (role, expire_time)" } },
    ]);
    // The invitee answers its own invitation in a batch.
    const own = ok(
      await stranger("BatchUpdateMemberships", { operations: [{ operation: { case: "respond", value: { groupId: g, accept: false } } }] }),
    );
    expect(own["results"]).toMatchObject([
      { status: {}, changed: true, membership: { member: "user:stranger", status: "MEMBERSHIP_STATUS_INVITED" } },
    ]);
  });
});
