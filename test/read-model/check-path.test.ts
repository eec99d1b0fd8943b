/**
 * CheckMembership's path about someone else names only groups the caller
 * can see, from the read model and from the database alike.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { fullyConsistent, minimizeLatency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { readOptions, startReplica, type Replica } from "../fixtures/read-model-replicas.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };
const alice: Caller = { principal: "user:alice", isSystemAdmin: false };

let mongo: TestMongo;
let replica: Replica;

beforeAll(async () => {
  mongo = await startTestMongo();
  replica = await startReplica(mongo.uri, uniqueDbName("check_path"), { maxLagMs: 5_000, cachedMemberships: 1_000 });
});

afterAll(async () => {
  await replica.close();
  await mongo.stop();
});

it.each([
  ["the read model", minimizeLatency],
  ["the database", fullyConsistent],
] as const)("leaves out the nested groups the caller cannot see, answered by %s", async (_source, consistency) => {
  const app = replica.app;
  const top = await app.groups.create(root, groupInput(`top-${consistency.kind.replaceAll("_", "-")}`), "", {});
  const hidden = await app.groups.create(root, groupInput(`hidden-${consistency.kind.replaceAll("_", "-")}`), "", {});
  await app.memberships.add(root, top.id, alice.principal, "MEMBER", {});
  await app.memberships.add(root, top.id, `group:${hidden.id}`, "MEMBER", {});
  await app.memberships.add(root, hidden.id, "user:bob", "MEMBER", {});
  const query = { groupId: top.id, principal: "user:bob", directOnly: false };
  expect(await app.memberships.check(root, query, readOptions(consistency))).toEqual({
    isMember: true,
    role: "MEMBER",
    status: "ACTIVE",
    path: [hidden.id, top.id],
  });
  expect(await app.memberships.check(alice, query, readOptions(consistency))).toEqual({
    isMember: true,
    role: "MEMBER",
    status: "ACTIVE",
    path: [top.id],
  });
});
