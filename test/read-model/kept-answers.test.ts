/**
 * The read model keeps CheckMembership's answers across requests in its memo
 * (src/app/access-facts.ts, keptMembershipAnswer): a repeat gets the very
 * same frozen answer, keyed by everything it depends on (the caller, its
 * system-administrator claim, the principal asked about, the group, direct
 * or not), forgotten when the model applies a change, held only until a
 * membership it rests on expires, and never kept for a group with an
 * authentication assurance timeout or for a read of the database.
 */
import { expect, it } from "vitest";
import { fullyConsistent, minimizeLatency, type ReadConsistency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { collectionNames } from "../../src/storage/documents.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { eventually, readOptions, replicaForSuite } from "../fixtures/read-model-replicas.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };

const suite = replicaForSuite("kept-answers", { maxLagMs: 5_000, cachedMemberships: 0 });

const memberships = () => suite.replica.client.db(suite.dbName).collection(collectionNames.memberships);

function check(caller: Caller, groupId: string, principal: string, directOnly = false, consistency: ReadConsistency = minimizeLatency) {
  return suite.replica.app.memberships.check(caller, { groupId, principal, directOnly }, readOptions(consistency));
}

/** top ⊃ middle ⊃ `principal` (both private); `insider` is a member of middle, so it sees middle on the path. */
async function chain(name: string, principal: string, insider: string): Promise<{ top: string; middle: string }> {
  const top = await suite.replica.app.groups.create(root, groupInput(`${name}-top`), "", {});
  const middle = await suite.replica.app.groups.create(root, groupInput(`${name}-middle`), "", {});
  await suite.replica.app.memberships.add(root, top.id, `group:${middle.id}`, "MEMBER", {});
  await suite.replica.app.memberships.add(root, middle.id, principal, "MEMBER", {});
  await suite.replica.app.memberships.add(root, middle.id, insider, "MEMBER", {});
  return { top: top.id, middle: middle.id };
}

it("answers a repeated check with the same kept answer, and keeps one per caller", async () => {
  const { top, middle } = await chain("kept-answer-caller", "user:asked", "user:insider");
  const insider: Caller = { principal: "user:insider", isSystemAdmin: false };
  const outsider: Caller = { principal: "user:outsider", isSystemAdmin: false };
  const first = await check(insider, top, "user:asked");
  expect(first).toMatchObject({ isMember: true, role: "MEMBER", path: [middle, top] });
  expect(await check(insider, top, "user:asked")).toBe(first); // kept
  expect(Object.isFrozen(first) && Object.isFrozen(first.path)).toBe(true);
  // Another caller asking the same question must not get the insider's path.
  expect((await check(outsider, top, "user:asked")).path).toEqual([top]);
  expect((await check(outsider, top, "user:asked")).path).toEqual([top]);
});

it("keeps answers per system-administrator claim, per principal asked about and per direct or transitive check", async () => {
  const { top, middle } = await chain("kept-answer-parts", "user:in", "user:someone");
  const admin: Caller = { principal: "user:claims", isSystemAdmin: true };
  const plain: Caller = { principal: "user:claims", isSystemAdmin: false };
  expect((await check(admin, top, "user:in")).path).toEqual([middle, top]);
  expect((await check(plain, top, "user:in")).path).toEqual([top]);

  expect((await check(plain, top, "user:in")).isMember).toBe(true);
  expect(await check(plain, top, "user:not-in")).toMatchObject({ isMember: false, path: [] });

  expect((await check(plain, middle, "user:in", false)).isMember).toBe(true);
  expect(await check(plain, top, "user:in", true)).toMatchObject({ isMember: false, path: [] });
  expect(await check(plain, middle, "user:in", true)).toMatchObject({ isMember: true, path: [middle] });
});

it("forgets a kept answer when the model applies a change", async () => {
  const { top, middle } = await chain("kept-answer-change", "user:leaving", "user:watcher");
  const watcher: Caller = { principal: "user:watcher", isSystemAdmin: false };
  const kept = await check(watcher, top, "user:leaving");
  expect(kept.isMember).toBe(true);
  expect(await check(watcher, top, "user:leaving")).toBe(kept);

  // A change this process did not make: only the change stream tells the model.
  await memberships().deleteOne({ groupId: middle, member: "user:leaving" });
  await eventually(async () => !(await check(watcher, top, "user:leaving")).isMember, 5_000, "the removed member stops being in top");
});

it("holds a kept answer only until a membership it rests on expires, with no change applied", async () => {
  const { top, middle } = await chain("kept-answer-expiry", "user:steady", "user:observer");
  const expiresAt = new Date(Date.now() + 1_500);
  await suite.replica.app.memberships.add(root, middle, "user:briefly", "MEMBER", {}, expiresAt);
  const observer: Caller = { principal: "user:observer", isSystemAdmin: false };
  const kept = await check(observer, top, "user:briefly");
  expect(kept.isMember).toBe(true);
  expect(await check(observer, top, "user:briefly")).toBe(kept);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  expect(await check(observer, top, "user:briefly")).toMatchObject({ isMember: false, path: [] });
});

it("keeps no answer about a group with an authentication assurance timeout, nor one read from the database", async () => {
  const assured = await suite.replica.app.groups.create(
    root,
    groupInput("kept-answer-assured", { authenticationAssuranceTimeout: 3600 }),
    "",
    {},
  );
  await suite.replica.app.memberships.add(root, assured.id, "user:assured", "MEMBER", {});
  const first = await check(root, assured.id, "user:assured");
  expect(first.isMember).toBe(true);
  const again = await check(root, assured.id, "user:assured");
  expect(again).toEqual(first);
  expect(again).not.toBe(first);

  const { top } = await chain("kept-answer-database", "user:db", "user:db-insider");
  const fromDatabase = await check(root, top, "user:db", false, fullyConsistent);
  expect(fromDatabase.isMember).toBe(true);
  expect(await check(root, top, "user:db", false, fullyConsistent)).not.toBe(fromDatabase);
});
