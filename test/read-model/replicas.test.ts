/**
 * Two replicas (apps with their own read models and clients) on one store:
 * tokens give read-your-writes across replicas, a replica sees its own writes
 * without one, others' writes arrive within the lag bound, and a revoked
 * membership stops granting access through the other replica.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullyConsistent, minimizeLatency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { eventually, readOptions, startReplica, writeOptions, type Replica } from "../fixtures/read-model-replicas.ts";

const alice: Caller = { principal: "user:alice", isSystemAdmin: false };
const bob = "user:bob";
const maxLagMs = 2_000;

let mongo: TestMongo;
let a: Replica;
let b: Replica;

beforeAll(async () => {
  mongo = await startTestMongo();
  const dbName = uniqueDbName("replicas");
  a = await startReplica(mongo.uri, dbName, { maxLagMs, cachedMemberships: 10_000 });
  b = await startReplica(mongo.uri, dbName, { maxLagMs, cachedMemberships: 10_000 });
});

afterAll(async () => {
  await a.close();
  await b.close();
  await mongo.stop();
});

describe("two replicas on one store", () => {
  it("a write through A is seen by B at once with its token, answered from B's read model", async () => {
    const parent = await a.app.groups.create(alice, groupInput("tok-parent"), "", {});
    const child = await a.app.groups.create(alice, groupInput("tok-child"), "", {});
    const write = writeOptions();
    await a.app.memberships.add(alice, parent.id, `group:${child.id}`, "MEMBER", write.options);
    b.clearCommands();
    const answer = await b.app.memberships.check(
      alice,
      { groupId: parent.id, principal: `group:${child.id}`, directOnly: false },
      readOptions({ kind: "at_least_as_fresh", time: write.committed() }),
    );
    expect(answer).toEqual({ isMember: true, role: "MEMBER", status: "ACTIVE", path: [parent.id] });
    // Group-in-group facts come from memory: B asked its database nothing.
    expect(b.readCommands()).toEqual([]);
    const query = { groupId: parent.id, principal: `group:${child.id}`, directOnly: false };
    expect(await b.app.memberships.check(alice, query, readOptions(fullyConsistent))).toEqual(answer);
  });

  it("a replica reads its own writes without a token", async () => {
    const group = await a.app.groups.create(alice, groupInput("own-writes"), "", {});
    for (let i = 0; i < 10; i++) {
      const member = `user:own-${i}`;
      await a.app.memberships.add(alice, group.id, member, "MEMBER", {});
      const answer = await a.app.memberships.check(
        alice,
        { groupId: group.id, principal: member, directOnly: false },
        readOptions(minimizeLatency),
      );
      expect(answer.isMember).toBe(true);
    }
  });

  it("without a token, B sees A's write within the lag bound", async () => {
    const group = await a.app.groups.create(alice, groupInput("no-token"), "", {});
    await a.app.memberships.add(alice, group.id, bob, "MEMBER", {});
    const took = await eventually(
      async () =>
        (await b.app.memberships.check(alice, { groupId: group.id, principal: bob, directOnly: false }, readOptions(minimizeLatency)))
          .isMember,
      maxLagMs,
      "B sees the membership",
    );
    expect(took).toBeLessThanOrEqual(maxLagMs);
  });

  it("a membership revoked through A stops granting access through B: at once with the token, within the bound without", async () => {
    const top = await a.app.groups.create(alice, groupInput("revoke-top"), "", {});
    const team = await a.app.groups.create(alice, groupInput("revoke-team"), "", {});
    await a.app.memberships.add(alice, top.id, `group:${team.id}`, "ADMIN", {});
    await a.app.memberships.add(alice, team.id, bob, "MEMBER", {});
    const bobCaller: Caller = { principal: bob, isSystemAdmin: false };
    const seesTop = async (options: ReturnType<typeof readOptions>): Promise<boolean> =>
      b.app.groups.get(bobCaller, { id: top.id }, options).then(
        () => true,
        () => false,
      );
    await eventually(() => seesTop(readOptions(minimizeLatency)), maxLagMs, "bob sees the top group through B");

    const revoke = writeOptions();
    await a.app.memberships.remove(alice, top.id, `group:${team.id}`, revoke.options);
    expect(await seesTop(readOptions({ kind: "at_least_as_fresh", time: revoke.committed() }))).toBe(false);
    expect(await seesTop(readOptions(fullyConsistent))).toBe(false);
    const took = await eventually(async () => !(await seesTop(readOptions(minimizeLatency))), maxLagMs, "B stops granting");
    expect(took).toBeLessThanOrEqual(maxLagMs);
  });
});
