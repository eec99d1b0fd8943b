/**
 * The authorization matrix of ChangeService over both doors, on the caller
 * profiles of the service matrix (caller-profiles.ts: a PRIVATE group G with
 * member_visibility MEMBERS under a parent P) plus a member of
 * ROSTER_CHANGE_READERS (through a nested group):
 * - ListGroupHistory needs MANAGE, or asks for the caller's own records in
 *   a group the caller can see;
 * - WatchChanges and ListChanges deliver to each caller exactly the changes
 *   it may receive: group changes of groups it may see, ACL changes with
 *   MANAGE, membership changes of groups whose members it may list;
 *   change readers and system administrators everything.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission, Role } from "../../gen/roster/v1/access_pb.ts";
import { ChangeKind, type Change } from "../../gen/roster/v1/change_pb.ts";
import { doorClients, doorFailure, doors, type Door, type DoorEndpoints } from "../fixtures/door-clients.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { openWatch } from "../fixtures/watch-client.ts";
import { callerProfiles, makeProfileAcl, makeProfileTarget, profilePrincipals } from "../fixtures/caller-profiles.ts";
import { makeGroup } from "../fixtures/groups-through-app.ts";

const callers = [...callerProfiles, "change reader"] as const;
type CallerName = (typeof callers)[number];
const principals: Readonly<Record<CallerName, string>> = { ...profilePrincipals, "change reader": "sync-bot" };

type Outcome = "OK" | "NOT_FOUND" | "PERMISSION_DENIED";
const OK = "OK";
const NF = "NOT_FOUND";
const PD = "PERMISSION_DENIED";

/** ListGroupHistory on G per caller (in `callers` order). */
const historyMatrix: Readonly<Record<string, readonly Outcome[]>> = {
  //                        stranger member manager admin acl  nested parent system reader
  "every record": /*     */ [NF, PD, PD, OK, PD, PD, OK, OK, NF],
  "own records": /*      */ [NF, OK, OK, OK, OK, OK, OK, OK, NF],
  "another's records": /**/ [NF, PD, PD, OK, PD, PD, OK, OK, NF],
};

/** The changes made after the start token, and who receives each (Y) over the feed. */
const feedMatrix: readonly { readonly change: string; readonly receivers: string }[] = [
  //                                                  stranger member manager admin acl nested parent system reader
  { change: "GROUP_UPDATED G", /*                  */ receivers: "-YYYYYYYY" },
  { change: "MEMBER_ADDED G user:newbie", /*       */ receivers: "-YYYYYYYY" },
  { change: "GROUP_ACL_CHANGED G", /*              */ receivers: "---Y--YYY" },
  { change: "MEMBER_ADDED U user:u-member", /*     */ receivers: "-------YY" },
  { change: "MEMBER_ROLE_CHANGED G user:member", /**/ receivers: "-YYYYYYYY" },
];

let mongo: TestMongo;
let roster: TestRoster;
let endpoints: DoorEndpoints;
let groupId: string;
let unrelatedId: string;
let start: string;
const tokens = new Map<CallerName, string>();

beforeAll(async () => {
  mongo = await startTestMongo();
  const dbName = uniqueDbName("change_authz");
  // The readers' group must exist before the server that names it starts: made by a first server on the same database.
  const setup = await startTestRoster({ mongoUri: mongo.uri, dbName, admins: ["user:root"] });
  let readers: string;
  try {
    const app = setup.server.app;
    const parentId = await makeGroup(app, { members: { "user:parent-admin": "ADMIN" } });
    const acl = await makeProfileAcl(app);
    groupId = await makeProfileTarget(app, parentId, acl);
    unrelatedId = await makeGroup(app);
    const syncTeam = await makeGroup(app, { members: { "user:sync-bot": "MEMBER" } });
    readers = await makeGroup(app, { members: { [`group:${syncTeam}`]: "MEMBER" } });
  } finally {
    await setup.stop();
  }
  roster = await startTestRoster({
    mongoUri: mongo.uri,
    dbName,
    admins: ["user:root"],
    env: { ROSTER_CHANGE_READERS: readers, ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS: "300" },
  });
  endpoints = { grpcAddress: roster.address, webUrl: roster.httpUrl };
  for (const caller of callers) tokens.set(caller, await roster.token(principals[caller]));

  // The changes of the matrix, made by a system administrator.
  const admin = doorClients("gRPC", endpoints, tokenOf("system admin"));
  start = (await admin.changes.listChanges({})).nextToken;
  await admin.groups.updateGroup({ group: { id: groupId, displayName: "G renamed" }, updateMask: { paths: ["display_name"] } });
  await admin.memberships.addMember({ groupId, member: "user:newbie" });
  const { entries } = await admin.groups.getGroupAcl({ groupId });
  await admin.groups.setGroupAcl({ groupId, entries: [...entries, { principal: "user:auditor", permission: Permission.READ }] });
  await admin.memberships.addMember({ groupId: unrelatedId, member: "user:u-member" });
  for (const role of [Role.MANAGER, Role.MEMBER, Role.MANAGER])
    await admin.memberships.updateMemberRole({ groupId, member: "user:member", role });
  await admin.memberships.updateMemberRole({ groupId, member: "user:member", role: Role.MEMBER });
}, 120_000);

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

function tokenOf(caller: CallerName): string {
  const token = tokens.get(caller);
  if (token === undefined) throw new Error(`no token for ${caller}`);
  return token;
}

/** A change as the matrix names it. */
function named(change: Change): string {
  const group = change.groupId === groupId ? "G" : change.groupId === unrelatedId ? "U" : change.groupId;
  return `${ChangeKind[change.kind]} ${group} ${change.member}`.trim();
}

function receivedBy(caller: CallerName): string[] {
  const i = callers.indexOf(caller);
  return feedMatrix.filter((row) => row.receivers[i] === "Y").map((row) => row.change);
}

describe.each(doors)("ChangeService authorization over %s", (door: Door) => {
  const historyCases = Object.entries(historyMatrix).flatMap(([request, codes]) =>
    callers.map((caller, i) => ({ request, caller, expected: codes[i] ?? "?" })),
  );

  it.each(historyCases)("ListGroupHistory, $request, by $caller → $expected", async ({ request, caller, expected }) => {
    const client = doorClients(door, endpoints, tokenOf(caller)).changes;
    const member = request === "own records" ? `user:${principals[caller]}` : request === "another's records" ? "user:newbie" : "";
    const call = client.listGroupHistory({ groupId, member });
    if (expected === OK) {
      const page = await call;
      if (member !== "") for (const change of page.changes) expect(change.member).toBe(member);
      if (request === "every record") expect(page.changes.map(named)).toContain("GROUP_ACL_CHANGED G");
      return;
    }
    const failure = await doorFailure(call);
    expect(failure.code).toBe(expected);
    if (expected === NF) expect(failure.message).toBe(`group "${groupId}" not found`);
    if (expected === PD) expect(failure.message).toMatch(new RegExp(`^permission denied: MANAGE on group ${groupId} is required`));
  });

  it("a member's own records: exactly the changes of their membership", async () => {
    const page = await doorClients(door, endpoints, tokenOf("member")).changes.listGroupHistory({ groupId, member: "user:member" });
    expect(page.changes.map(named)).toEqual([...Array<string>(4).fill("MEMBER_ROLE_CHANGED G user:member"), "MEMBER_ADDED G user:member"]);
  });

  it.each(callers)("ListChanges by %s: exactly the changes it may receive", async (caller) => {
    const page = await doorClients(door, endpoints, tokenOf(caller)).changes.listChanges({ startToken: start, pageSize: 100 });
    expect(unique(page.changes.map(named))).toEqual(receivedBy(caller));
    expect(page.caughtUp).toBe(true);
  });

  it.each(callers)("WatchChanges by %s: exactly the changes it may receive", async (caller) => {
    const watch = openWatch(door, endpoints, tokenOf(caller), { startToken: start });
    try {
      const { changes } = await watch.changesUntilCheckpoint(15_000);
      expect(unique(changes.map(named))).toEqual(receivedBy(caller));
    } finally {
      watch.cancel();
    }
  });

  it("every ChangeService RPC refuses a caller without a token", async () => {
    const anonymous = doorClients(door, endpoints, "");
    const calls = [() => anonymous.changes.listGroupHistory({ groupId }), () => anonymous.changes.listChanges({})];
    for (const call of calls) expect((await doorFailure(call())).code).toBe("UNAUTHENTICATED");
    const watch = openWatch(door, endpoints, "not-a-jwt");
    expect((await watch.ended).code).toBe("UNAUTHENTICATED");
  });
});

/** The three role changes of user:member appear as one row of the matrix. */
function unique(names: readonly string[]): string[] {
  return names.filter((name, i) => names.indexOf(name) === i);
}
