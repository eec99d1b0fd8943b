/**
 * A server that shuts down ends its open watches with UNAVAILABLE telling
 * the client to resume from its last token, rather than holding the
 * shutdown until the grace period runs out; the token still resumes on the
 * next server.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { ChangeKind } from "../../gen/roster/v1/change_pb.ts";
import { doorClients, doors } from "../fixtures/door-clients.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster } from "../fixtures/roster-in-process.ts";
import { openWatch } from "../fixtures/watch-client.ts";

let mongo: TestMongo;
const dbName = uniqueDbName("change_shutdown");

beforeAll(async () => {
  mongo = await startTestMongo();
});

afterAll(async () => {
  await mongo.stop();
});

it.each(doors)("over %s: an open watch ends with UNAVAILABLE at shutdown, and its last token resumes on the next server", async (door) => {
  // A grace period far longer than the test: only the watch's own ending lets the stop finish in time.
  const roster = await startTestRoster({ mongoUri: mongo.uri, dbName, env: { ROSTER_SHUTDOWN_GRACE_MS: "60000" } });
  const token = await roster.token("alice");
  const alice = doorClients(door, { grpcAddress: roster.address, webUrl: roster.httpUrl }, token);
  const groupId = (await alice.groups.createGroup({ group: { slug: `shutdown-${door.toLowerCase()}`, displayName: "S" } })).group?.id ?? "";
  const watch = openWatch(door, { grpcAddress: roster.address, webUrl: roster.httpUrl }, token, { groupIds: [groupId] });
  const last = (await watch.next()).token;
  const started = Date.now();
  await roster.stop();
  expect(Date.now() - started).toBeLessThan(20_000);
  expect(await watch.ended).toEqual({
    code: "UNAVAILABLE",
    details: "the server is shutting down; continue from your last token (here or on another replica)",
  });

  const next = await startTestRoster({ mongoUri: mongo.uri, dbName });
  try {
    const client = doorClients(door, { grpcAddress: next.address, webUrl: next.httpUrl }, await next.token("alice"));
    await client.memberships.addMember({ groupId, member: "user:after" });
    const page = await client.changes.listChanges({ startToken: last, groupIds: [groupId] });
    expect(page.changes.map((c) => `${ChangeKind[c.kind]} ${c.member}`)).toEqual(["MEMBER_ADDED user:after"]);
  } finally {
    await next.stop();
  }
});
