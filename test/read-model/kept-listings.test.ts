/**
 * What the read model keeps for listings across requests — a caller's own
 * groups for ListGroups (visible-groups.ts) and a closure's groups in order
 * for ListPrincipalGroups (principal-closure.ts) — is forgotten with the
 * facts it came from: a change applied by the model, whether this process
 * made it or only the change stream tells of it, makes the next listing
 * fresh, and one that depends on the clock (an expiring membership) changes
 * with no change applied. Every listing is compared with the database's
 * (fully_consistent).
 */
import { expect, it } from "vitest";
import type { ListGroupsQuery } from "../../src/app/index.ts";
import { fullyConsistent, minimizeLatency, type ReadConsistency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { collectionNames, type GroupDoc } from "../../src/storage/documents.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { eventually, readOptions, replicaForSuite } from "../fixtures/read-model-replicas.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };
const suite = replicaForSuite("kept_listings", { maxLagMs: 5_000, cachedMemberships: 10_000 });
const db = () => suite.replica.client.db(suite.dbName);

const listQuery = (namespace: string): ListGroupsQuery => ({
  namespace,
  parentId: undefined,
  query: "",
  showDeleted: false,
  pageSize: 2,
  pageToken: "",
  orderBy: "",
});

/** The slugs of every page of the caller's listing in `namespace` (pages of two), and the last page's total. */
async function listed(who: Caller, namespace: string, consistency: ReadConsistency = minimizeLatency): Promise<string[]> {
  const slugs: string[] = [];
  let pageToken = "";
  for (;;) {
    const page = await suite.replica.app.groups.list(who, { ...listQuery(namespace), pageToken }, readOptions(consistency));
    slugs.push(...page.groups.map((group) => group.slug));
    pageToken = page.nextPageToken;
    if (pageToken === "") return [...slugs, `total ${page.totalSize}`];
  }
}

/** The group ids of every page of the caller's ListPrincipalGroups (pages of two, transitive). */
async function principalGroups(who: Caller, consistency: ReadConsistency = minimizeLatency): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  for (;;) {
    const page = await suite.replica.app.memberships.listPrincipalGroups(
      who,
      { principal: "", transitive: true, pageSize: 2, pageToken },
      readOptions(consistency),
    );
    ids.push(...page.entries.map((entry) => entry.group.id));
    pageToken = page.nextPageToken;
    if (pageToken === "") return ids;
  }
}

const agreesWithDatabase = async (who: Caller, namespace: string): Promise<string[]> => {
  const fromModel = await listed(who, namespace);
  expect(fromModel).toEqual(await listed(who, namespace, fullyConsistent));
  expect(await principalGroups(who)).toEqual(await principalGroups(who, fullyConsistent));
  return fromModel;
};

it("lists afresh after every change the model applies: this process's writes and the change stream's", async () => {
  const ns = "kl";
  const caller: Caller = { principal: "user:kl-caller", isSystemAdmin: false };
  const make = async (slug: string, displayName: string): Promise<string> =>
    (await suite.replica.app.groups.create(root, groupInput(slug, { namespace: ns, displayName }), "", {})).id;
  const a = await make("kl-a", "Alpha");
  const b = await make("kl-b", "Bravo");
  const c = await make("kl-c", "Charlie");
  await suite.replica.app.memberships.add(root, a, caller.principal, "MEMBER", {});
  await suite.replica.app.memberships.add(root, b, caller.principal, "MEMBER", {});
  expect(await agreesWithDatabase(caller, ns)).toEqual(["kl-a", "kl-b", "total 2"]);
  expect(await agreesWithDatabase(caller, ns)).toEqual(["kl-a", "kl-b", "total 2"]); // answered again from what is kept

  // A write through this process: its next read waits for the model to apply it.
  await suite.replica.app.memberships.add(root, c, caller.principal, "MEMBER", {});
  expect(await agreesWithDatabase(caller, ns)).toEqual(["kl-a", "kl-b", "kl-c", "total 3"]);

  // Changes only the change stream tells of: a rename that moves a group to the end, a removed membership.
  await db()
    .collection<GroupDoc>(collectionNames.groups)
    .updateOne({ _id: a }, { $set: { displayName: "Zulu", sortName: "zulu", etag: "renamed" } });
  await eventually(async () => (await listed(caller, ns)).join() === "kl-b,kl-c,kl-a,total 3", 5_000, "the rename reorders the listing");
  await db().collection(collectionNames.memberships).deleteOne({ groupId: b, member: caller.principal });
  await eventually(async () => (await listed(caller, ns)).join() === "kl-c,kl-a,total 2", 5_000, "the removed membership leaves");
  expect(await agreesWithDatabase(caller, ns)).toEqual(["kl-c", "kl-a", "total 2"]);
  expect((await principalGroups(caller)).sort()).toEqual([a, c].sort());
});

it("stops listing a group whose membership expires, with no change applied", async () => {
  const ns = "kle";
  const caller: Caller = { principal: "user:kle-caller", isSystemAdmin: false };
  const staying = (await suite.replica.app.groups.create(root, groupInput("kle-staying", { namespace: ns }), "", {})).id;
  const expiring = (await suite.replica.app.groups.create(root, groupInput("kle-expiring", { namespace: ns }), "", {})).id;
  await suite.replica.app.memberships.add(root, staying, caller.principal, "MEMBER", {});
  const expiresAt = new Date(Date.now() + 1_500);
  await suite.replica.app.memberships.add(root, expiring, caller.principal, "MEMBER", {}, expiresAt);
  expect(await agreesWithDatabase(caller, ns)).toEqual(["kle-expiring", "kle-staying", "total 2"]);
  expect(await principalGroups(caller)).toEqual([expiring, staying].sort());
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  expect(await agreesWithDatabase(caller, ns)).toEqual(["kle-staying", "total 1"]);
  expect(await principalGroups(caller)).toEqual([staying]);
});
