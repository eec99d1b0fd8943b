/**
 * The read model keeps the closures it computed until it applies a change
 * (src/app/read-model/facts-memo.ts): a repeated read walks nothing and reads
 * nothing from the store, any applied change makes the next read walk again,
 * and what depends on the clock (an edge's expire_time, the caller's
 * authentication age) is judged at the time of each read, not of the walk.
 * The cache of users' memberships holds next to nothing here (a principal
 * leaves it as soon as another one is loaded), so a walk shows as a store read.
 */
import { expect, it } from "vitest";
import { minimizeLatency } from "../../src/domain/consistency.ts";
import { RosterError } from "../../src/domain/errors.ts";
import type { Caller } from "../../src/domain/model.ts";
import { collectionNames } from "../../src/storage/documents.ts";
import { accessRules } from "../fixtures/access-rules-table.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { eventually, readOptions, replicaForSuite } from "../fixtures/read-model-replicas.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };

const suite = replicaForSuite("kept", { maxLagMs: 5_000, cachedMemberships: 0 });
const dbName = suite.dbName;

const memberships = () => suite.replica.client.db(dbName).collection(collectionNames.memberships);

async function isMember(groupId: string, principal: string): Promise<boolean> {
  return (await suite.replica.app.memberships.check(root, { groupId, principal, directOnly: false }, readOptions(minimizeLatency)))
    .isMember;
}

it("answers a repeated check without walking again, until the model applies a change", async () => {
  const top = await suite.replica.app.groups.create(root, groupInput("kept-top"), "", {});
  const inner = await suite.replica.app.groups.create(root, groupInput("kept-inner"), "", {});
  await suite.replica.app.memberships.add(root, top.id, `group:${inner.id}`, "MEMBER", {});
  await suite.replica.app.memberships.add(root, inner.id, "user:kept", "MEMBER", {});

  suite.replica.clearCommands();
  expect(await isMember(top.id, "user:kept")).toBe(true);
  expect(suite.replica.readCommands().length).toBeGreaterThan(0); // the walk read user:kept's memberships
  expect(await isMember(top.id, "user:someone-else")).toBe(false); // loading them evicts user:kept's memberships
  suite.replica.clearCommands();
  expect(await isMember(top.id, "user:kept")).toBe(true);
  expect(await isMember(inner.id, "user:kept")).toBe(true);
  expect(suite.replica.readCommands()).toEqual([]); // no walk: it would have read user:kept's memberships again

  // A change this process did not make: only the change stream tells the model.
  await memberships().deleteOne({ groupId: inner.id, member: "user:kept" });
  await eventually(async () => !(await isMember(top.id, "user:kept")), 5_000, "the removed membership stops counting");
  expect(await isMember(inner.id, "user:kept")).toBe(false);
});

it("forgets a kept closure when a group edge it went through changes", async () => {
  const top = await suite.replica.app.groups.create(root, groupInput("kept-edge-top"), "", {});
  const inner = await suite.replica.app.groups.create(root, groupInput("kept-edge-inner"), "", {});
  await suite.replica.app.memberships.add(root, inner.id, "user:edge", "MEMBER", {});
  expect(await isMember(top.id, "user:edge")).toBe(false);
  await memberships().insertOne({
    groupId: top.id,
    member: `group:${inner.id}`,
    role: "MEMBER",
    createTime: new Date(),
    updateTime: new Date(),
    createdBy: "user:root",
  });
  await eventually(() => isMember(top.id, "user:edge"), 5_000, "the new nesting counts");
});

it("judges a kept closure's memberships at the time of each read: one that expires stops counting with no change applied", async () => {
  const group = await suite.replica.app.groups.create(root, groupInput("kept-expiring"), "", {});
  const expiresAt = new Date(Date.now() + 1_500);
  await suite.replica.app.memberships.add(root, group.id, "user:expiring", "MEMBER", {}, expiresAt);
  await suite.replica.app.memberships.add(root, group.id, "user:staying", "MEMBER", {});
  expect(await isMember(group.id, "user:expiring")).toBe(true);
  suite.replica.clearCommands();
  expect(await isMember(group.id, "user:expiring")).toBe(true);
  expect(suite.replica.readCommands()).toEqual([]); // kept
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  expect(await isMember(group.id, "user:expiring")).toBe(false);
  expect(await isMember(group.id, "user:staying")).toBe(true);
});

it("judges the caller's authentication age at the time of each read, not of the kept walk", async () => {
  const group = await suite.replica.app.groups.create(root, groupInput("kept-assurance", { authenticationAssuranceTimeout: 1 }), "", {});
  await suite.replica.app.memberships.add(root, group.id, "user:recent", "MEMBER", {});
  const caller: Caller = { principal: "user:recent", isSystemAdmin: false, authTime: new Date() };
  const seeGroup = () =>
    suite.replica.app.access.authorize(caller, accessRules.GetGroup, { groupId: group.id }, readOptions(minimizeLatency));
  await seeGroup();
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const refused = await seeGroup().catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(RosterError);
  expect((refused as RosterError).kind).toBe("permission_denied");
  expect((refused as RosterError).message).toMatch(
    /^re-authentication required: group \S+ requires authentication within 1 s; token authenticated at /u,
  );
});
