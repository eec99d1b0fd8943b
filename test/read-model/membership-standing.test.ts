/**
 * Forward compatibility with issue 14's memberships: the read model keeps a
 * membership document's `status` and `expireTime`, and only an ACTIVE,
 * unexpired membership counts for closures and checks, judged when the
 * question is asked (an edge that expires while held stops counting).
 * Documents are written straight into the store, as issue 14 will store them.
 */
import { expect, it } from "vitest";
import { minimizeLatency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { collectionNames } from "../../src/storage/documents.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { eventually, readOptions, replicaForSuite } from "../fixtures/read-model-replicas.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };

const suite = replicaForSuite("standing", { maxLagMs: 5_000, cachedMemberships: 1_000 });
const dbName = suite.dbName;

it("counts only ACTIVE, unexpired memberships, at the time of the read", async () => {
  const app = suite.replica.app;
  const top = await app.groups.create(root, groupInput("standing-top"), "", {});
  const invitedGroup = await app.groups.create(root, groupInput("standing-invited"), "", {});
  const expiringGroup = await app.groups.create(root, groupInput("standing-expiring"), "", {});
  const now = new Date();
  const doc = (member: string, extra: Record<string, unknown>) => ({
    groupId: top.id,
    member,
    role: "MEMBER",
    createTime: now,
    updateTime: now,
    createdBy: "user:root",
    ...extra,
  });
  // Far enough ahead that the reads before it come before it on a loaded machine (1.5 s did not always).
  const expiresAt = new Date(Date.now() + 4_000);
  await suite.replica.client
    .db(dbName)
    .collection(collectionNames.memberships)
    .insertMany([
      doc(`group:${invitedGroup.id}`, { status: "INVITED" }),
      doc("user:requested", { status: "REQUESTED" }),
      doc("user:active", { status: "ACTIVE" }),
      doc(`group:${expiringGroup.id}`, { expireTime: expiresAt }),
      doc("user:expiring", { expireTime: expiresAt }),
    ]);
  const isMember = async (principal: string): Promise<boolean> =>
    (await app.memberships.check(root, { groupId: top.id, principal, directOnly: false }, readOptions(minimizeLatency))).isMember;
  await eventually(() => isMember("user:active"), 5_000, "the model holds the inserted memberships");
  expect(await isMember(`group:${invitedGroup.id}`)).toBe(false);
  expect(await isMember("user:requested")).toBe(false);
  expect(await isMember(`group:${expiringGroup.id}`)).toBe(true);
  expect(await isMember("user:expiring")).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  // Nothing changed in the store: the same held edges stop counting once expired.
  expect(await isMember(`group:${expiringGroup.id}`)).toBe(false);
  expect(await isMember("user:expiring")).toBe(false);
});
