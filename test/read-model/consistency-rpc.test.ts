/**
 * The consistency contract through the gRPC door: every mutating response
 * carries a token, a read takes one back, a token Roster did not issue is
 * INVALID_ARGUMENT naming the field, and a token the read model has not
 * reached within the call's time is answered from the database.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { clusterTime, encodeConsistencyToken } from "../../src/domain/consistency.ts";
import { failureOf } from "../fixtures/roster-grpc-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";

let mongo: TestMongo;
let roster: TestRoster;
let token: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("consistency_rpc") });
  token = await roster.token("alice");
  await roster.server.app.readModel?.whenServing();
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

function atLeastAsFresh(value: string): { requirement: { case: "atLeastAsFresh"; value: string } } {
  return { requirement: { case: "atLeastAsFresh", value } };
}

it("mutating responses carry tokens that reads accept", async () => {
  const client = roster.client.as(token);
  const created = await client.groups.createGroup({ group: { slug: "tokens", displayName: "Tokens" } });
  const groupId = created.group?.id ?? "";
  const added = await client.memberships.addMember({ groupId, member: "user:bob" });
  const updated = await client.groups.updateGroup({
    group: { id: groupId, displayName: "Tokens 2" },
    updateMask: { paths: ["display_name"] },
  });
  const batch = await client.memberships.batchUpdateMemberships({
    operations: [{ operation: { case: "add", value: { groupId, member: "user:carol" } } }],
  });
  for (const issued of [
    created.consistencyToken,
    added.consistencyToken,
    updated.consistencyToken,
    batch.consistencyToken,
    batch.results[0]?.consistencyToken ?? "",
  ]) {
    expect(issued).toMatch(/^[A-Za-z0-9_-]{12}$/);
  }
  const read = await client.groups.getGroup({ id: groupId, consistency: atLeastAsFresh(updated.consistencyToken) });
  expect(read.group?.displayName).toBe("Tokens 2");
  const check = await client.memberships.checkMembership({
    groupId,
    principal: "user:carol",
    consistency: atLeastAsFresh(batch.consistencyToken),
  });
  expect(check.isMember).toBe(true);
});

it("a token Roster did not issue is INVALID_ARGUMENT naming the field", async () => {
  const call = roster.client.as(token).groups.listGroups({ consistency: atLeastAsFresh("not-a-token") });
  const failure = await failureOf(call);
  expect(failure).toMatchObject({
    code: "INVALID_ARGUMENT",
    details: "consistency.at_least_as_fresh: is not a consistency token issued by Roster",
  });
});

it("a token the read model cannot reach in time is answered from the database within the deadline", async () => {
  const client = roster.client.as(token);
  const created = await client.groups.createGroup({ group: { slug: "future", displayName: "Future" } });
  const future = encodeConsistencyToken(clusterTime(Math.floor(Date.now() / 1000) + 3600, 0));
  const started = performance.now();
  const read = await client.groups.getGroup({ id: created.group?.id ?? "", consistency: atLeastAsFresh(future) }, { deadlineMs: 2_000 });
  expect(read.group?.displayName).toBe("Future");
  expect(performance.now() - started).toBeLessThan(2_000);
});
