/**
 * The read model keeps a caller's facts on a group, and which groups of a
 * CheckMembership path the caller can see, across requests in its memo
 * (src/app/access-facts.ts, facts-memo.ts): each must be forgotten when the
 * model applies a change they depend on, stop holding when a membership they
 * rest on expires (no change applied), and never answer for a token whose
 * system-administrator claim differs.
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

const suite = replicaForSuite("kept-access", { maxLagMs: 5_000, cachedMemberships: 0 });

const memberships = () => suite.replica.client.db(suite.dbName).collection(collectionNames.memberships);

/** Whether `caller` may see `groupId` (GetGroup's rule), answered from the read model. */
async function maySee(caller: Caller, groupId: string): Promise<boolean> {
  try {
    await suite.replica.app.access.authorize(caller, accessRules.GetGroup, { groupId }, readOptions(minimizeLatency));
    return true;
  } catch (error) {
    if (error instanceof RosterError && error.kind === "not_found") return false;
    throw error;
  }
}

/** The path CheckMembership gives `caller` for `principal` in `groupId`, from the read model. */
async function pathSeenBy(caller: Caller, groupId: string, principal: string): Promise<readonly string[]> {
  return (await suite.replica.app.memberships.check(caller, { groupId, principal, directOnly: false }, readOptions(minimizeLatency))).path;
}

it("forgets a caller's kept facts on a group when the model applies a change", async () => {
  const group = await suite.replica.app.groups.create(root, groupInput("kept-access-private"), "", {});
  await suite.replica.app.memberships.add(root, group.id, "user:viewer", "MEMBER", {});
  const viewer: Caller = { principal: "user:viewer", isSystemAdmin: false };
  expect(await maySee(viewer, group.id)).toBe(true);
  expect(await maySee(viewer, group.id)).toBe(true); // kept

  // A change this process did not make: only the change stream tells the model.
  await memberships().deleteOne({ groupId: group.id, member: "user:viewer" });
  await eventually(async () => !(await maySee(viewer, group.id)), 5_000, "the removed member stops seeing the private group");
});

it("judges kept facts at the time of each read: a membership that expires stops granting with no change applied", async () => {
  const group = await suite.replica.app.groups.create(root, groupInput("kept-access-expiring"), "", {});
  const expiresAt = new Date(Date.now() + 1_500);
  await suite.replica.app.memberships.add(root, group.id, "user:briefly", "MEMBER", {}, expiresAt);
  const briefly: Caller = { principal: "user:briefly", isSystemAdmin: false };
  expect(await maySee(briefly, group.id)).toBe(true);
  expect(await maySee(briefly, group.id)).toBe(true); // kept
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  expect(await maySee(briefly, group.id)).toBe(false);
});

it("keeps facts per system-administrator claim: the same principal without it is refused at once", async () => {
  const group = await suite.replica.app.groups.create(root, groupInput("kept-access-admin-claim"), "", {});
  expect(await maySee({ principal: "user:claims", isSystemAdmin: true }, group.id)).toBe(true);
  expect(await maySee({ principal: "user:claims", isSystemAdmin: true }, group.id)).toBe(true); // kept
  expect(await maySee({ principal: "user:claims", isSystemAdmin: false }, group.id)).toBe(false);
  const visibleTo = async (caller: Caller) => pathSeenBy(caller, group.id, "user:claims");
  expect(await visibleTo({ principal: "user:claims", isSystemAdmin: false })).toEqual([]);
});

it("forgets which path groups a caller may see when the model applies a change", async () => {
  const top = await suite.replica.app.groups.create(root, groupInput("kept-path-top"), "", {});
  const middle = await suite.replica.app.groups.create(root, groupInput("kept-path-middle"), "", {});
  await suite.replica.app.memberships.add(root, top.id, `group:${middle.id}`, "MEMBER", {});
  await suite.replica.app.memberships.add(root, middle.id, "user:nested", "MEMBER", {});
  await suite.replica.app.memberships.add(root, middle.id, "user:checker", "MEMBER", {});
  const checker: Caller = { principal: "user:checker", isSystemAdmin: false };
  expect(await pathSeenBy(checker, top.id, "user:nested")).toEqual([middle.id, top.id]);
  expect(await pathSeenBy(checker, top.id, "user:nested")).toEqual([middle.id, top.id]); // kept

  await memberships().deleteOne({ groupId: middle.id, member: "user:checker" });
  await eventually(
    async () => (await pathSeenBy(checker, top.id, "user:nested")).join() === top.id,
    5_000,
    "the path stops naming the group the checker no longer sees",
  );
});

it("judges which path groups a caller may see at the time of each read: an expired membership hides its group with no change applied", async () => {
  const top = await suite.replica.app.groups.create(root, groupInput("kept-path-expiring-top"), "", {});
  const middle = await suite.replica.app.groups.create(root, groupInput("kept-path-expiring-middle"), "", {});
  await suite.replica.app.memberships.add(root, top.id, `group:${middle.id}`, "MEMBER", {});
  await suite.replica.app.memberships.add(root, middle.id, "user:nested-too", "MEMBER", {});
  const expiresAt = new Date(Date.now() + 1_500);
  await suite.replica.app.memberships.add(root, middle.id, "user:checker-briefly", "MEMBER", {}, expiresAt);
  const checker: Caller = { principal: "user:checker-briefly", isSystemAdmin: false };
  expect(await pathSeenBy(checker, top.id, "user:nested-too")).toEqual([middle.id, top.id]);
  expect(await pathSeenBy(checker, top.id, "user:nested-too")).toEqual([middle.id, top.id]); // kept
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  expect(await pathSeenBy(checker, top.id, "user:nested-too")).toEqual([top.id]);
});
