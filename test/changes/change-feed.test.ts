/**
 * The change feed over both doors: WatchChanges sends each change as it
 * commits with the token after it and checkpoints while idle; resuming from
 * any token (of a change or a checkpoint, on WatchChanges or ListChanges)
 * continues with exactly the later changes; "now" is a valid start; the
 * filters; a caller never receives a change of a group it cannot see, also
 * when the group becomes invisible to it mid-stream; malformed requests are
 * INVALID_ARGUMENT naming the field. (Authorization per caller profile:
 * change-authorization.test.ts; commit order and restarts:
 * change-feed-order.test.ts, change-feed-restart.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { ChangeKind, type Change } from "../../gen/roster/v1/change_pb.ts";
import { doorClients, doorFailure, doors, type DoorClients, type DoorEndpoints } from "../fixtures/door-clients.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { openWatch, type Watch } from "../fixtures/watch-client.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

/** Short, so idle checkpoints come quickly; the default (5 s) is the same code path. */
const checkpointIntervalMs = 400;

let mongo: TestMongo;
let roster: TestRoster;
let endpoints: DoorEndpoints;
const tokens = new Map<string, string>();

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({
    mongoUri: mongo.uri,
    dbName: uniqueDbName("change_feed"),
    admins: ["user:root"],
    env: { ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS: String(checkpointIntervalMs) },
  });
  endpoints = { grpcAddress: roster.address, webUrl: roster.httpUrl };
  for (const name of ["alice", "bob", "root"]) tokens.set(name, await roster.token(name));
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

function tokenOf(name: string): string {
  const token = tokens.get(name);
  if (token === undefined) throw new Error(`no token for ${name}`);
  return token;
}

/** What a test compares of a change. */
function summary(change: Change): string {
  return `CHANGE_KIND_${ChangeKind[change.kind]} ${change.groupId} ${change.member}`.trim();
}

describe.each(doors)("WatchChanges and ListChanges over %s", (door) => {
  let alice: DoorClients;
  let bob: DoorClients;
  let open: Watch[] = [];

  beforeAll(() => {
    alice = doorClients(door, endpoints, tokenOf("alice"));
    bob = doorClients(door, endpoints, tokenOf("bob"));
  });

  afterAll(() => {
    for (const watch of open) watch.cancel();
    open = [];
  });

  /** A watch as `who` that has started (its first message, a checkpoint, came). */
  async function watchAs(who: string, request: Parameters<typeof openWatch>[3] = {}): Promise<{ watch: Watch; start: string }> {
    const watch = openWatch(door, endpoints, tokenOf(who), request);
    open.push(watch);
    const first = await watch.next();
    expect(first.event.case).toBe("checkpoint");
    expect(first.token).not.toBe("");
    return { watch, start: first.token };
  }

  async function newGroup(client: DoorClients = alice, namespace = ""): Promise<string> {
    const created = await client.groups.createGroup({ group: { namespace, slug: uniqueSlug("f"), displayName: "F" } });
    return created.group?.id ?? "";
  }

  it("sends each change as it commits, with the token after it; checkpoints while idle; resumes exactly after a token", async () => {
    const g = await newGroup();
    const { watch, start } = await watchAs("alice", { groupIds: [g] });
    await alice.memberships.addMember({ groupId: g, member: "user:m1", reason: "why" });
    const first = await watch.nextChange();
    expect(summary(first.change)).toBe(`CHANGE_KIND_MEMBER_ADDED ${g} user:m1`);
    expect(first.change.reason).toBe("why");
    expect(first.change.actor).toBe("user:alice");
    await alice.memberships.addMember({ groupId: g, member: "user:m2" });
    await alice.memberships.updateMemberRole({ groupId: g, member: "user:m2", role: Role.MANAGER });
    const second = await watch.nextChange();
    const third = await watch.nextChange();
    expect([second, third].map((c) => summary(c.change))).toEqual([
      `CHANGE_KIND_MEMBER_ADDED ${g} user:m2`,
      `CHANGE_KIND_MEMBER_ROLE_CHANGED ${g} user:m2`,
    ]);

    // Idle: a checkpoint within the interval (and a bit), with a token past every change.
    const before = Date.now();
    const idle = await watch.changesUntilCheckpoint(checkpointIntervalMs * 10);
    expect(idle.changes).toEqual([]);
    // Slack for a loaded machine; without checkpoints nothing would come at all.
    expect(Date.now() - before).toBeLessThan(checkpointIntervalMs * 5);
    const again = await watch.changesUntilCheckpoint(checkpointIntervalMs * 5);
    expect(again.changes).toEqual([]);
    watch.cancel();

    await alice.memberships.addMember({ groupId: g, member: "user:m3" });
    await alice.memberships.removeMember({ groupId: g, member: "user:m1" });
    const expectedAfter = [`CHANGE_KIND_MEMBER_ADDED ${g} user:m3`, `CHANGE_KIND_MEMBER_REMOVED ${g} user:m1`];

    // From every token handed out, a new watch continues with exactly the changes after it.
    const cases = [
      { from: start, expected: [summary(first.change), summary(second.change), summary(third.change), ...expectedAfter] },
      { from: first.token, expected: [summary(second.change), summary(third.change), ...expectedAfter] },
      { from: third.token, expected: expectedAfter },
      { from: idle.token, expected: expectedAfter },
      { from: again.token, expected: expectedAfter },
    ];
    for (const { from, expected } of cases) {
      const resumed = openWatch(door, endpoints, tokenOf("alice"), { startToken: from, groupIds: [g] });
      open.push(resumed);
      const { changes } = await resumed.changesUntilCheckpoint(checkpointIntervalMs * 10);
      resumed.cancel();
      expect(changes.map(summary)).toEqual(expected);
      // ListChanges from the same token gives the same changes.
      const page = await alice.changes.listChanges({ startToken: from, groupIds: [g] });
      expect(page.changes.map(summary)).toEqual(expected);
      expect(page.caughtUp).toBe(true);
    }
  });

  it("ListChanges: an empty start is now; pages of page_size; the next token always moves on; caught_up when nothing is left", async () => {
    const g = await newGroup();
    const now = await alice.changes.listChanges({ groupIds: [g] });
    expect(now.changes).toEqual([]);
    expect(now.caughtUp).toBe(true);
    expect(now.nextToken).not.toBe("");
    const idle = await alice.changes.listChanges({ startToken: now.nextToken, groupIds: [g] });
    expect(idle.changes).toEqual([]);
    expect(idle.caughtUp).toBe(true);

    for (let i = 0; i < 5; i += 1) await alice.memberships.addMember({ groupId: g, member: `user:p${i}` });
    const seen: string[] = [];
    let token = idle.nextToken;
    let pages = 0;
    for (;;) {
      const page = await alice.changes.listChanges({ startToken: token, pageSize: 2, groupIds: [g] });
      pages += 1;
      expect(page.changes.length).toBeLessThanOrEqual(2);
      expect(page.nextToken).not.toBe(token);
      seen.push(...page.changes.map((c) => c.member));
      token = page.nextToken;
      if (page.caughtUp) break;
    }
    expect(seen).toEqual(["user:p0", "user:p1", "user:p2", "user:p3", "user:p4"]);
    expect(pages).toBeGreaterThanOrEqual(3);
    // A later call from the last token finds nothing again: no change is repeated.
    expect((await alice.changes.listChanges({ startToken: token, groupIds: [g] })).changes).toEqual([]);
  });

  it("filters by group ids and by namespace", async () => {
    const ns = `ns-${door.toLowerCase()}-${process.pid}`;
    const inNs = await newGroup(alice, ns);
    const other = await newGroup();
    const start = (await alice.changes.listChanges({})).nextToken;
    await alice.memberships.addMember({ groupId: other, member: "user:o" });
    await alice.memberships.addMember({ groupId: inNs, member: "user:n" });
    const byNamespace = await alice.changes.listChanges({ startToken: start, namespace: ns });
    expect(byNamespace.changes.map(summary)).toEqual([`CHANGE_KIND_MEMBER_ADDED ${inNs} user:n`]);
    expect(byNamespace.changes[0]?.namespace).toBe(ns);
    const byGroup = await alice.changes.listChanges({ startToken: start, groupIds: [other] });
    expect(byGroup.changes.map(summary)).toEqual([`CHANGE_KIND_MEMBER_ADDED ${other} user:o`]);
    const both = await alice.changes.listChanges({ startToken: start, groupIds: [other, inNs] });
    expect(both.changes.map((c) => c.member)).toEqual(["user:o", "user:n"]);
  });

  it("never sends a change of a group the caller cannot see, also when the group becomes invisible mid-stream", async () => {
    const g = await newGroup();
    const h = await newGroup();
    await alice.memberships.addMember({ groupId: h, member: "user:bob" });
    const { watch } = await watchAs("bob");
    // A change bob may see, after the step before it: when it arrives, the step was decided.
    let sentinels = 0;
    const sentinel = async (): Promise<string> => {
      sentinels += 1;
      const member = `user:sentinel-${sentinels}`;
      await alice.memberships.addMember({ groupId: h, member });
      return `CHANGE_KIND_MEMBER_ADDED ${h} ${member}`;
    };

    // Before bob is a member of g: nothing of g.
    await alice.memberships.addMember({ groupId: g, member: "user:x" });
    await alice.groups.updateGroup({ group: { id: g, displayName: "Secret" }, updateMask: { paths: ["display_name"] } });
    const quiet = await sentinel();
    expect(summary((await watch.nextChange()).change)).toBe(quiet);

    // A member of g (PRIVATE, members listed to members): its changes, from his own addition on.
    await alice.memberships.addMember({ groupId: g, member: "user:bob" });
    expect(summary((await watch.nextChange()).change)).toBe(`CHANGE_KIND_MEMBER_ADDED ${g} user:bob`);
    await alice.memberships.addMember({ groupId: g, member: "user:y" });
    expect(summary((await watch.nextChange()).change)).toBe(`CHANGE_KIND_MEMBER_ADDED ${g} user:y`);

    // Removed: g is invisible to bob again, from the change that removed him on.
    await alice.memberships.removeMember({ groupId: g, member: "user:bob" });
    await alice.memberships.addMember({ groupId: g, member: "user:z" });
    await alice.groups.updateGroup({ group: { id: g, displayName: "Still secret" }, updateMask: { paths: ["display_name"] } });
    await alice.groups.deleteGroup({ id: g });
    const expected = await sentinel();
    const next = await watch.nextChange();
    expect(summary(next.change)).toBe(expected);
    // Nothing of g is waiting either: the stream idles into a checkpoint.
    expect((await watch.changesUntilCheckpoint(checkpointIntervalMs * 5)).changes).toEqual([]);

    // Resuming from a token before the removal decides again, on bob's access now: nothing of g.
    const page = await bob.changes.listChanges({ startToken: next.token });
    expect(page.changes).toEqual([]);
  });

  it("refuses malformed requests with INVALID_ARGUMENT naming the field", async () => {
    const forged = Buffer.from(JSON.stringify({ v: 1, p: "00" })).toString("base64url");
    const cases = [
      { request: { startToken: "not a token" }, message: "start_token: is not a valid change token" },
      { request: { startToken: Buffer.from("{}").toString("base64url") }, message: "start_token: is not a valid change token" },
      {
        request: { startToken: Buffer.from(JSON.stringify({ v: 2, p: "82" })).toString("base64url") },
        message: "start_token: is not a valid change token",
      },
      { request: { startToken: "A".repeat(3000) }, message: "start_token: is not a valid change token" },
      { request: { startToken: forged }, message: "start_token: is not a valid change token" },
      { request: { groupIds: ["not/an id"] }, message: expect.stringMatching(/^group_ids\[0\]: /) as string },
      {
        request: { groupIds: Array.from({ length: 101 }, (_, i) => `g${i}`) },
        message: "group_ids: must have at most 100 entries (got 101)",
      },
      { request: { namespace: "Not A Namespace" }, message: expect.stringMatching(/^namespace: /) as string },
    ];
    for (const { request, message } of cases) {
      expect(await doorFailure(alice.changes.listChanges(request)), JSON.stringify(request).slice(0, 80)).toEqual({
        code: "INVALID_ARGUMENT",
        message,
      });
      const watch = openWatch(door, endpoints, tokenOf("alice"), request);
      open.push(watch);
      expect(await watch.ended).toEqual({ code: "INVALID_ARGUMENT", details: message });
    }
  });
});
