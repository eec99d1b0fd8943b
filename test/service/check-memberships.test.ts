/**
 * CheckMemberships through both doors (gRPC, and Connect JSON on the web
 * door): each group answered exactly as CheckMembership answers it, groups
 * the caller may not ask about reported with the missing ones, validation
 * with exact messages, and the caller profiles of caller-profiles.ts.
 *
 * The world: G (child of P, the profiles' target), H (member_visibility
 * MANAGERS: user:member MEMBER, user:manager MANAGER), N (has group G as a
 * MEMBER, so user:member is in N through G), D (user:member was a member;
 * deleted).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { createProtocolClient, type Outcome, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";
import { callerProfiles, makeProfileAcl, makeProfileTarget, profilePrincipals, type CallerProfile } from "../fixtures/caller-profiles.ts";
import { makeGroup, root } from "../fixtures/groups-through-app.ts";

const doors: readonly ProtocolName[] = ["gRPC", "Connect JSON"];
const missingId = "no-such-group";

let mongo: TestMongo;
let roster: TestRoster;
const clients = new Map<ProtocolName, ProtocolClient>();
const tokens = new Map<string, string>();
let g = "";
let h = "";
let n = "";
let d = "";

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("check_many"), admins: ["user:root"] });
  const app = roster.server.app;
  const parentId = await makeGroup(app, { members: { "user:parent-admin": "ADMIN" } });
  g = await makeProfileTarget(app, parentId, await makeProfileAcl(app));
  h = await makeGroup(app, { memberVisibility: "MANAGERS", members: { "user:member": "MEMBER", "user:manager": "MANAGER" } });
  n = await makeGroup(app, { members: { [`group:${g}`]: "MEMBER" } });
  d = await makeGroup(app, { members: { "user:member": "MEMBER" } });
  await app.groups.delete(root, d, "");
  for (const door of doors) clients.set(door, createProtocolClient(door, { grpcAddress: roster.address, webUrl: roster.httpUrl }));
  for (const profile of callerProfiles) tokens.set(profile, await roster.token(profilePrincipals[profile]));
}, 120_000);

afterAll(async () => {
  for (const client of clients.values()) client.close();
  await roster.stop();
  await mongo.stop();
});

function call(door: ProtocolName, method: string, request: object, caller: CallerProfile): Promise<Outcome> {
  const client = clients.get(door);
  if (client === undefined) throw new Error(`no ${door} client`);
  return client.call(MembershipService, method, request, tokens.get(caller));
}

/** The JSON of one group's answer: CheckMembership's response for it. */
async function checkOne(door: ProtocolName, groupId: string, principal: string, directOnly: boolean, caller: CallerProfile) {
  const outcome = await call(door, "CheckMembership", { groupId, principal, directOnly }, caller);
  if (outcome.code !== "OK") throw new Error(`CheckMembership of ${groupId}: ${JSON.stringify(outcome)}`);
  return outcome.response;
}

describe.each(doors)("CheckMemberships over %s", (door) => {
  it("answers each group exactly as CheckMembership does, from one request", async () => {
    for (const directOnly of [false, true]) {
      const outcome = await call(
        door,
        "CheckMemberships",
        { principal: "user:member", groupIds: [g, h, n, d, missingId, g], directOnly },
        "system admin",
      );
      const expected = [];
      for (const id of [g, h, n, d])
        expected.push({ groupId: id, result: await checkOne(door, id, "user:member", directOnly, "system admin") });
      expect(outcome).toEqual({ code: "OK", response: { checks: expected, missingIds: [missingId] } });
    }
    // What those answers are: direct, through G (with the path), none in a deleted group or directly in N.
    const outcome = await call(door, "CheckMemberships", { principal: "user:member", groupIds: [g, n, d] }, "system admin");
    expect(outcome).toEqual({
      code: "OK",
      response: {
        checks: [
          { groupId: g, result: { isMember: true, role: "ROLE_MEMBER", path: [g], status: "MEMBERSHIP_STATUS_ACTIVE" } },
          { groupId: n, result: { isMember: true, role: "ROLE_MEMBER", path: [g, n], status: "MEMBERSHIP_STATUS_ACTIVE" } },
          { groupId: d, result: {} },
        ],
      },
    });
    const direct = await call(door, "CheckMemberships", { principal: "user:member", groupIds: [n], directOnly: true }, "system admin");
    expect(direct).toEqual({ code: "OK", response: { checks: [{ groupId: n, result: {} }] } });
  });

  it("answers a group principal through its nesting", async () => {
    const outcome = await call(door, "CheckMemberships", { principal: `group:${g}`, groupIds: [n, h] }, "system admin");
    expect(outcome).toEqual({
      code: "OK",
      response: {
        checks: [
          { groupId: n, result: { isMember: true, role: "ROLE_MEMBER", path: [n], status: "MEMBERSHIP_STATUS_ACTIVE" } },
          { groupId: h, result: {} },
        ],
      },
    });
  });

  it("reports groups the caller may not ask about as missing, as CheckMembership refuses them", async () => {
    // On G (members may list members) every profile but the stranger may ask about user:member.
    for (const profile of callerProfiles) {
      const outcome = await call(door, "CheckMemberships", { principal: "user:member", groupIds: [g] }, profile);
      const single = await call(door, "CheckMembership", { groupId: g, principal: "user:member" }, profile);
      if (profile === "stranger") {
        expect(single).toEqual({ code: 5, message: `group "${g}" not found` });
        expect(outcome, profile).toEqual({ code: "OK", response: { missingIds: [g] } });
      } else {
        expect(single.code).toBe("OK");
        expect(outcome, profile).toEqual({
          code: "OK",
          response: { checks: [{ groupId: g, result: single.code === "OK" ? single.response : {} }] },
        });
      }
    }
    // On H only managers may list members: a MEMBER may ask about itself, not about others.
    expect(await call(door, "CheckMemberships", { principal: "user:member", groupIds: [h] }, "member")).toEqual({
      code: "OK",
      response: {
        checks: [{ groupId: h, result: { isMember: true, role: "ROLE_MEMBER", path: [h], status: "MEMBERSHIP_STATUS_ACTIVE" } }],
      },
    });
    expect(await call(door, "CheckMembership", { groupId: h, principal: "user:manager" }, "member")).toEqual({
      code: 7,
      message: `permission denied: WRITE on group ${h} is required to list its members`,
    });
    expect(await call(door, "CheckMemberships", { principal: "user:manager", groupIds: [h, g] }, "member")).toEqual({
      code: "OK",
      response: {
        checks: [{ groupId: g, result: { isMember: true, role: "ROLE_MANAGER", path: [g], status: "MEMBERSHIP_STATUS_ACTIVE" } }],
        missingIds: [h],
      },
    });
    expect(await call(door, "CheckMemberships", { principal: "user:member", groupIds: [h] }, "manager")).toEqual({
      code: "OK",
      response: {
        checks: [{ groupId: h, result: { isMember: true, role: "ROLE_MEMBER", path: [h], status: "MEMBERSHIP_STATUS_ACTIVE" } }],
      },
    });
    // A stranger asking about itself still sees nothing of a group it cannot see; a deleted group only with MANAGE.
    expect(await call(door, "CheckMemberships", { principal: "user:stranger", groupIds: [h, d] }, "stranger")).toEqual({
      code: "OK",
      response: { missingIds: [h, d] },
    });
    expect(await call(door, "CheckMemberships", { principal: "user:member", groupIds: [d] }, "member")).toEqual({
      code: "OK",
      response: { missingIds: [d] },
    });
  });

  it("refuses malformed requests naming the field", async () => {
    const cases: [object, string][] = [
      [{ principal: "user:member", groupIds: [] }, "group_ids: must have 1-100 entries (got 0)"],
      [
        { principal: "user:member", groupIds: Array.from({ length: 101 }, (_, i) => `g${i}`) },
        "group_ids: must have 1-100 entries (got 101)",
      ],
      [{ principal: "user:member", groupIds: [g, "bad id"] }, "group_ids[1]: id must not contain whitespace or control characters"],
      [{ principal: "", groupIds: [g] }, "principal: is required"],
      [{ principal: "member", groupIds: [g] }, 'principal: must be "user:<id>", "group:<group id>" or "service:<id>"'],
    ];
    for (const [request, message] of cases) {
      expect(await call(door, "CheckMemberships", request, "member")).toEqual({ code: 3, message });
    }
  });

  it("needs a valid token", async () => {
    const client = clients.get(door);
    const outcome = await client?.call(MembershipService, "CheckMemberships", { principal: "user:member", groupIds: [g] });
    expect(outcome).toEqual({ code: 16, message: "missing authorization header" });
  });
});
