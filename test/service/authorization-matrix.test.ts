/**
 * The authorization matrix (README, "Authorization"), through a real server and
 * both of its doors (gRPC, and Connect on the web door): every kind of caller ×
 * every unary RPC of GroupService and MembershipService, with the exact status
 * code each gets (and, for refusals, the message).
 *
 * The target group G is a child of P and PRIVATE with member_visibility
 * MEMBERS; the callers are the profiles of caller-profiles.ts.
 *
 * Mutating calls act on per-door, per-caller targets (their own member to
 * remove, their own copy of G to delete) so that cases stay independent.
 */
import type { DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { status as grpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission as ProtoPermission, Role as ProtoRole } from "../../gen/roster/v1/access_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { RosterApp } from "../../src/app/index.ts";
import type { AclEntry, JoinPolicy } from "../../src/domain/model.ts";
import { accessRules } from "../fixtures/access-rules-table.ts";
import type { RosterClient, RpcOptions } from "../fixtures/roster-grpc-client.ts";
import { failureOf } from "../fixtures/roster-grpc-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { newPrivateKeyPem } from "../fixtures/signing-keys.ts";
import { callerProfiles, makeProfileAcl, makeProfileTarget, profilePrincipals } from "../fixtures/caller-profiles.ts";
import { makeGroup, root, uniqueSlug } from "../fixtures/groups-through-app.ts";

const badCredentialCallers = ["anonymous", "malformed token", "expired token", "bad signature"] as const;
const callers = callerProfiles;
type BadCallerName = (typeof badCredentialCallers)[number];
const principals = profilePrincipals;

type Expect = "OK" | "NOT_FOUND" | "PERMISSION_DENIED";
const OK = "OK";
const NF = "NOT_FOUND";
const PD = "PERMISSION_DENIED";

/**
 * Per RPC: the expected code for each caller (in `callers` order) and the
 * permission named on refusal, or the whole refusal when it names none.
 */
const matrix: Readonly<
  Record<string, { readonly codes: readonly Expect[]; readonly needs?: string; readonly refusal?: (target: string) => string }>
> = {
  //                      stranger member manager admin acl  nested parent system
  CreateGroup: /*      */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  GetGroup: /*         */ { codes: [NF, OK, OK, OK, OK, OK, OK, OK] },
  BatchGetGroups: /*   */ { codes: [OK, OK, OK, OK, OK, OK, OK, OK] },
  ListGroups: /*       */ { codes: [OK, OK, OK, OK, OK, OK, OK, OK] },
  UpdateGroup: /*      */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  DeleteGroup: /*      */ { codes: [NF, PD, PD, OK, PD, PD, OK, OK], needs: "MANAGE" },
  UndeleteGroup: /*    */ { codes: [NF, NF, NF, OK, NF, NF, OK, OK] },
  GetGroupAcl: /*      */ { codes: [NF, PD, PD, OK, PD, PD, OK, OK], needs: "MANAGE" },
  SetGroupAcl: /*      */ { codes: [NF, PD, PD, OK, PD, PD, OK, OK], needs: "MANAGE" },
  IssueGroupToken: /*  */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  AddMember: /*        */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  RemoveMember: /*     */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  UpdateMemberRole: /* */ { codes: [NF, PD, PD, OK, PD, PD, OK, OK], needs: "MANAGE" },
  GetMembership: /*    */ { codes: [NF, OK, OK, OK, OK, OK, OK, OK] },
  ListMemberships: /*  */ { codes: [NF, OK, OK, OK, OK, OK, OK, OK] },
  ListPrincipalGroups: { codes: [OK, OK, OK, OK, OK, OK, OK, OK] },
  CheckMembership: /*  */ { codes: [NF, OK, OK, OK, OK, OK, OK, OK] },
  UpdateMembership: /* */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  InviteMember: /*     */ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  DecideJoinRequest: /**/ { codes: [NF, PD, OK, OK, OK, PD, OK, OK], needs: "WRITE" },
  // Only the invitee answers: nobody else, system administrators included.
  RespondToInvitation: {
    codes: [NF, PD, PD, PD, PD, PD, PD, PD],
    refusal: (g) => `permission denied: only the invitee (for a group, a caller with MANAGE on it) may answer an invitation to group ${g}`,
  },
  // G's join_policy is CLOSED: whoever sees it is refused, nobody else learns it exists.
  RequestToJoin: /*    */ {
    codes: [NF, PD, PD, PD, PD, PD, PD, PD],
    refusal: (g) => `permission denied: group ${g} does not accept join requests (join_policy CLOSED)`,
  },
  // FILTERED: G is answered exactly when CheckMembership would be (checked below).
  CheckMemberships: /* */ { codes: [OK, OK, OK, OK, OK, OK, OK, OK] },
  // PER_ITEM: the call itself only needs authentication; its one `add`
  // operation is refused or applied exactly like AddMember (checked below).
  BatchUpdateMemberships: { codes: [OK, OK, OK, OK, OK, OK, OK, OK] },
};

/** gRPC code numbers of the per-item statuses. */
const codeNumbers: Readonly<Record<Expect, number>> = { OK: 0, NOT_FOUND: 5, PERMISSION_DENIED: 7 };

interface World {
  readonly parentId: string;
  readonly groupId: string;
  readonly acl: readonly AclEntry[];
  /**
   * Per door and caller: a copy of G to delete, and a deleted copy to
   * undelete. Callers refused both share one copy of each, which a refusal
   * leaves as it is (checked by a later case's code if it did not).
   */
  readonly deleteTargets: Readonly<Record<string, string>>;
  readonly undeleteTargets: Readonly<Record<string, string>>;
}

/** The two doors every case runs through. */
const doors = ["gRPC", "Connect"] as const;
type Door = (typeof doors)[number];

/** A per-door, per-caller name part for targets only that case touches. */
function tagOf(door: Door, caller: string): string {
  return `${door}-${caller}`.replaceAll(" ", "-").toLowerCase();
}

let mongo: TestMongo;
let roster: TestRoster;
let world: World;
const tokens = new Map<string, string>();
let connectClients: { groups: Client<typeof GroupService>; memberships: Client<typeof MembershipService> };

/** How each RPC is called by `caller` on the world: the method and its request. */
function requestFor(
  rpc: string,
  caller: string,
  door: Door,
): { method: DescMethodUnary; request: MessageInitShape<DescMethodUnary["input"]>; target: string } {
  const g = world.groupId;
  const m = (name: string): DescMethodUnary => {
    const method = [...GroupService.methods, ...MembershipService.methods].find((x) => x.name === name);
    if (method?.methodKind !== "unary") throw new Error(`no unary method ${name}`);
    return method as DescMethodUnary;
  };
  const tag = tagOf(door, caller);
  switch (rpc) {
    case "CreateGroup":
      return { method: m(rpc), request: { group: { parentId: g, slug: uniqueSlug("child"), displayName: "Child" } }, target: g };
    case "GetGroup":
      return { method: m(rpc), request: { id: g }, target: g };
    case "BatchGetGroups":
      return { method: m(rpc), request: { ids: [g] }, target: g };
    case "ListGroups":
      return { method: m(rpc), request: {}, target: g };
    case "UpdateGroup":
      return {
        method: m(rpc),
        request: { group: { id: g, displayName: `G by ${caller}` }, updateMask: { paths: ["display_name"] } },
        target: g,
      };
    case "DeleteGroup":
      return { method: m(rpc), request: { id: world.deleteTargets[tag] ?? "" }, target: world.deleteTargets[tag] ?? "" };
    case "UndeleteGroup":
      return { method: m(rpc), request: { id: world.undeleteTargets[tag] ?? "" }, target: world.undeleteTargets[tag] ?? "" };
    case "GetGroupAcl":
      return { method: m(rpc), request: { groupId: g }, target: g };
    case "SetGroupAcl":
      // The same entries again: an authorized call changes nothing that matters to other cases.
      return {
        method: m(rpc),
        request: {
          groupId: g,
          entries: world.acl.map((e) => ({
            principal: e.principal,
            permission:
              e.permission === "WRITE" ? ProtoPermission.WRITE : e.permission === "READ" ? ProtoPermission.READ : ProtoPermission.MANAGE,
          })),
        },
        target: g,
      };
    case "IssueGroupToken":
      return { method: m(rpc), request: { groupId: g, audience: "reports" }, target: g };
    case "AddMember":
      return { method: m(rpc), request: { groupId: g, member: `user:new-${tag}`, role: ProtoRole.MEMBER }, target: g };
    case "RemoveMember":
      return { method: m(rpc), request: { groupId: g, member: `user:victim-${tag}` }, target: g };
    case "UpdateMemberRole":
      return { method: m(rpc), request: { groupId: g, member: `user:promote-${tag}`, role: ProtoRole.MANAGER }, target: g };
    case "GetMembership":
      return { method: m(rpc), request: { groupId: g, member: "user:member" }, target: g };
    case "ListMemberships":
      return { method: m(rpc), request: { groupId: g }, target: g };
    case "ListPrincipalGroups":
      return { method: m(rpc), request: {}, target: g };
    case "CheckMembership":
      return { method: m(rpc), request: { groupId: g, principal: "user:member" }, target: g };
    case "UpdateMembership":
      return {
        method: m(rpc),
        request: {
          groupId: g,
          member: `user:expiring-${tag}`,
          expireTime: timestampFromDate(new Date(Date.now() + 86_400_000)),
          updateMask: { paths: ["expire_time"] },
        },
        target: g,
      };
    case "InviteMember":
      return { method: m(rpc), request: { groupId: g, member: `user:invited-${tag}`, message: "join us" }, target: g };
    case "RespondToInvitation":
      return { method: m(rpc), request: { groupId: g, member: `user:invitee-${tag}`, accept: true }, target: g };
    case "RequestToJoin":
      return { method: m(rpc), request: { groupId: g, message: "let me in" }, target: g };
    case "DecideJoinRequest":
      return { method: m(rpc), request: { groupId: g, member: `user:requester-${tag}`, approve: true }, target: g };
    case "CheckMemberships":
      return { method: m(rpc), request: { groupIds: [g], principal: "user:member" }, target: g };
    case "BatchUpdateMemberships":
      return {
        method: m(rpc),
        request: { operations: [{ operation: { case: "add", value: { groupId: g, member: `user:batch-${tag}` } } }] },
        target: g,
      };
    default:
      throw new Error(`unknown rpc ${rpc}`);
  }
}

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({
    mongoUri: mongo.uri,
    dbName: uniqueDbName("authz_matrix"),
    admins: ["user:root"],
    env: { ROSTER_SIGNING_KEY: newPrivateKeyPem("ec") },
  });
  const app = roster.server.app;
  const parentId = await makeGroup(app, { members: { "user:parent-admin": "ADMIN" } });
  const acl = await makeProfileAcl(app);
  const groupId = await makeProfileTarget(app, parentId, acl);
  const deleteTargets: Record<string, string> = {};
  const undeleteTargets: Record<string, string> = {};
  const deletedTarget = async (): Promise<string> => {
    const target = await makeProfileTarget(app, parentId, acl);
    await app.groups.delete(root, target, "");
    return target;
  };
  const sharedDeleteTarget = await makeProfileTarget(app, parentId, acl);
  const sharedUndeleteTarget = await deletedTarget();
  for (const door of doors) {
    for (const [i, caller] of callers.entries()) {
      const tag = tagOf(door, caller);
      await app.memberships.add(root, groupId, `user:victim-${tag}`, "MEMBER");
      await app.memberships.add(root, groupId, `user:promote-${tag}`, "MEMBER");
      await app.memberships.add(root, groupId, `user:expiring-${tag}`, "MEMBER");
      await app.memberships.invite(root, { groupId, member: `user:invitee-${tag}`, role: "MEMBER", message: "", expireTime: undefined });
      deleteTargets[tag] = matrix["DeleteGroup"]?.codes[i] === OK ? await makeProfileTarget(app, parentId, acl) : sharedDeleteTarget;
      undeleteTargets[tag] = matrix["UndeleteGroup"]?.codes[i] === OK ? await deletedTarget() : sharedUndeleteTarget;
    }
  }
  // Join requests to decide: G accepts them only while they are made.
  await setJoinPolicy(app, groupId, "REQUEST");
  for (const tag of doors.flatMap((door) => callers.map((caller) => tagOf(door, caller)))) {
    const requester = { principal: `user:requester-${tag}`, isSystemAdmin: false };
    await app.memberships.requestToJoin(requester, { groupId, message: "", fields: {} });
  }
  await setJoinPolicy(app, groupId, "CLOSED");
  world = { parentId, groupId, acl, deleteTargets, undeleteTargets };
  const transport = createConnectTransport({ baseUrl: roster.httpUrl, httpVersion: "1.1" });
  connectClients = { groups: createClient(GroupService, transport), memberships: createClient(MembershipService, transport) };
  for (const caller of callers) tokens.set(caller, await roster.token(principals[caller]));
  tokens.set("expired token", await roster.token("member", { now: new Date(Date.now() - 2 * 3600_000), ttlSeconds: 60 }));
  tokens.set("bad signature", await roster.token("member", { secret: "another-secret-that-is-long-enough-for-hs256" }));
}, 120_000);

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

function optionsFor(caller: string): RpcOptions {
  if (caller === "anonymous") return {};
  if (caller === "malformed token") return { token: "not-a-jwt" };
  const token = tokens.get(caller);
  if (token === undefined) throw new Error(`no token for ${caller}`);
  return { token };
}

/** The read RPCs: those whose request takes a `consistency` (the others always decide on the database). */
function isRead(rpc: string): boolean {
  const method = [...GroupService.methods, ...MembershipService.methods].find((x) => x.name === rpc);
  return method?.input.fields.some((field) => field.name === "consistency") === true;
}

async function run(
  door: Door,
  rpc: string,
  caller: string,
  consistency: "default" | "fully_consistent" = "default",
): Promise<{ code: string; details: string; target: string; response?: unknown }> {
  const { method, request, target } = requestFor(rpc, caller, door);
  const asked =
    consistency === "default" ? request : { ...request, consistency: { requirement: { case: "fullyConsistent", value: true } } };
  return door === "gRPC"
    ? { ...(await runGrpc(roster.client, method, asked, caller)), target }
    : { ...(await runConnect(method, asked, caller)), target };
}

async function runGrpc(
  client: RosterClient,
  method: DescMethodUnary,
  request: MessageInitShape<DescMethodUnary["input"]>,
  caller: string,
): Promise<{ code: string; details: string; response?: unknown }> {
  const call = client.call(method, request, optionsFor(caller));
  try {
    const res = await call;
    return { code: "OK", details: "", response: res.message };
  } catch {
    const failure = await failureOf(call);
    return { code: failure.code, details: failure.details };
  }
}

/** The same call through the web door with the Connect protocol (JSON), its status code named as gRPC names it. */
async function runConnect(
  method: DescMethodUnary,
  request: MessageInitShape<DescMethodUnary["input"]>,
  caller: string,
): Promise<{ code: string; details: string; response?: unknown }> {
  const client = (method.parent.typeName === GroupService.typeName
    ? connectClients.groups
    : connectClients.memberships) as unknown as Record<
    string,
    (req: unknown, options: { headers: Record<string, string> }) => Promise<unknown>
  >;
  const fn = client[method.localName];
  if (fn === undefined) throw new Error(`no Connect client method ${method.localName}`);
  const token = optionsFor(caller).token;
  try {
    const response = await fn(request, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    return { code: "OK", details: "", response };
  } catch (error) {
    const failure = ConnectError.from(error);
    return { code: grpcStatus[failure.code as number] ?? String(failure.code), details: failure.rawMessage };
  }
}

const rpcNames = Object.keys(matrix);

async function setJoinPolicy(app: RosterApp, groupId: string, joinPolicy: JoinPolicy): Promise<void> {
  const group = await app.groups.get(root, { id: groupId });
  await app.groups.update(
    root,
    { id: groupId, values: { ...group.group, joinPolicy }, mask: ["policies.join_policy"], etag: "" },
    accessRules.UpdateGroup,
  );
}

describe.each(doors)("authorization matrix over %s", (door) => {
  it("covers every unary RPC of both services", () => {
    const unary = [...GroupService.methods, ...MembershipService.methods].filter((m) => m.methodKind === "unary").map((m) => m.name);
    expect(rpcNames.sort()).toEqual(unary.sort());
  });

  const cases = rpcNames.flatMap((rpc) =>
    callers.map((caller, i) => ({ rpc, caller, expected: matrix[rpc]?.codes[i] ?? "?", needs: matrix[rpc]?.needs })),
  );

  it.each(cases)("$rpc by $caller → $expected", async ({ rpc, caller, expected, needs }) => {
    const result = await run(door, rpc, caller);
    expect(result.code, result.details).toBe(expected);
    if (expected === NF) expect(result.details).toBe(`group "${result.target}" not found`);
    const refusal = matrix[rpc]?.refusal;
    if (expected === PD && refusal !== undefined) expect(result.details).toBe(refusal(result.target));
    else if (expected === PD)
      expect(result.details).toMatch(new RegExp(`^permission denied: ${needs ?? ""} on group ${result.target} is required`));
    if (rpc === "CheckMemberships") {
      const checkExpected = matrix["CheckMembership"]?.codes[callers.indexOf(caller)];
      const response = result.response as { checks: { groupId: string }[]; missingIds: string[] };
      expect(response.checks.map((check) => check.groupId)).toEqual(checkExpected === OK ? [result.target] : []);
      expect(response.missingIds).toEqual(checkExpected === OK ? [] : [result.target]);
    }
    if (rpc === "BatchUpdateMemberships") {
      // The per-item status is what AddMember would answer the same caller.
      const addMemberExpected = matrix["AddMember"]?.codes[callers.indexOf(caller)] ?? "OK";
      const results = (result.response as { results: { status?: { code: number; message: string } }[] }).results;
      expect(results).toHaveLength(1);
      expect(results[0]?.status?.code).toBe(codeNumbers[addMemberExpected]);
      if (addMemberExpected === NF) expect(results[0]?.status?.message).toBe(`group "${result.target}" not found`);
      if (addMemberExpected === PD) expect(results[0]?.status?.message).toMatch(/^permission denied: WRITE on group /);
    }
  });

  const badCases = rpcNames.flatMap((rpc) => badCredentialCallers.map((caller: BadCallerName) => ({ rpc, caller })));
  const reasons: Readonly<Record<BadCallerName, RegExp>> = {
    anonymous: /missing authorization header/,
    "malformed token": /malformed/,
    "expired token": /expired/,
    "bad signature": /signature/,
  };

  it.each(badCases)("$rpc by $caller → UNAUTHENTICATED", async ({ rpc, caller }) => {
    const result = await run(door, rpc, caller);
    expect(result.code).toBe("UNAUTHENTICATED");
    expect(result.details).toMatch(reasons[caller]);
    const token = tokens.get(caller);
    if (token !== undefined) {
      expect(result.details).not.toContain(token);
      for (const part of token.split(".")) expect(result.details).not.toContain(part);
    }
    if (caller === "malformed token") expect(result.details).not.toContain("not-a-jwt");
  });

  // The same read cases answered by the database (fully_consistent) and by
  // the read model (the default), one right after the other: the same code,
  // message and response, so both paths decide identically.
  const readCases = cases.filter(({ rpc }) => isRead(rpc));
  it.each(readCases)("$rpc by $caller → $expected, with fully_consistent as with the read model", async ({ rpc, caller, expected }) => {
    await roster.server.app.readModel?.whenServing();
    const database = await run(door, rpc, caller, "fully_consistent");
    expect(database.code, database.details).toBe(expected);
    const model = await run(door, rpc, caller);
    expect(model).toEqual(database);
  });

  it("logged one line per call above, and never a token", () => {
    const lines = roster.logs().filter((l) => l["msg"] === "rpc");
    expect(lines.length).toBeGreaterThanOrEqual(cases.length + badCases.length);
    const raw = roster.rawLogs();
    for (const token of tokens.values()) {
      for (const part of token.split(".")) expect(raw).not.toContain(part);
    }
    expect(raw).not.toContain("not-a-jwt");
    expect(raw).not.toMatch(/Bearer/i);
  });
});
