/**
 * Keyset pagination over gRPC while another client (its own connection)
 * inserts and deletes: no item is returned twice, and every item that existed
 * throughout the listing is returned. Items deleted before the reader reached
 * them never appear.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRosterClient, type RosterClient } from "../fixtures/roster-grpc-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

let mongo: TestMongo;
let roster: TestRoster;
let reader: RosterClient;
let writer: RosterClient;
let writerConnection: RosterClient;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("pagination") });
  const token = await roster.token("alice");
  reader = roster.client.as(token);
  writerConnection = createRosterClient(roster.address);
  writer = writerConnection.as(token);
});

afterAll(async () => {
  writerConnection.close();
  await roster.stop();
  await mongo.stop();
});

async function createNamed(namespace: string, displayName: string): Promise<string> {
  const res = await writer.groups.createGroup({ group: { namespace, slug: uniqueSlug("p"), displayName } });
  return res.group?.id ?? "";
}

function expectNoDuplicates(ids: readonly string[]): void {
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  expect(dupes).toEqual([]);
}

describe.each([{ orderBy: "display_name" }, { orderBy: "display_name desc" }, { orderBy: "create_time" }, { orderBy: "create_time desc" }])(
  "ListGroups ordered by $orderBy",
  ({ orderBy }) => {
    it("pages stably while another client inserts and deletes between pages", async () => {
      const ns = uniqueSlug("page");
      const initial: string[] = [];
      for (let i = 0; i < 20; i++) initial.push(await createNamed(ns, `name-${String(i * 2).padStart(3, "0")}`));
      const deleted = new Set<string>();
      const seen: string[] = [];
      let token = "";
      let page = 0;
      do {
        const res = await reader.groups.listGroups({ namespace: ns, orderBy, pageSize: 5, pageToken: token });
        for (const g of res.groups) {
          expect(deleted.has(g.id), `group ${g.id} was deleted before this page was read`).toBe(false);
          seen.push(g.id);
        }
        token = res.nextPageToken;
        page += 1;
        // Between pages: insert before and after the cursor, delete one not yet seen and one seen.
        await createNamed(ns, `name-${String(page * 4 + 1).padStart(3, "0")}`);
        await createNamed(ns, `name-${String(41 - page * 4).padStart(3, "0")}`);
        const unseen = initial.find((id) => !seen.includes(id) && !deleted.has(id));
        const seenOne = seen.find((id) => initial.includes(id) && !deleted.has(id));
        for (const id of [unseen, seenOne]) {
          if (id === undefined) continue;
          await writer.groups.deleteGroup({ id });
          deleted.add(id);
        }
      } while (token !== "" && page < 50);
      expect(token).toBe("");
      expectNoDuplicates(seen);
      const throughout = initial.filter((id) => !deleted.has(id));
      expect(throughout.filter((id) => !seen.includes(id))).toEqual([]);
    }, 60_000);
  },
);

describe("concurrent writer", () => {
  it("ListGroups pages stably while a concurrent client keeps inserting and deleting", async () => {
    const ns = uniqueSlug("conc");
    const initial: string[] = [];
    for (let i = 0; i < 40; i++) initial.push(await createNamed(ns, `c-${String(i * 3).padStart(3, "0")}`));
    const deletedByWriter = new Set<string>();
    const state = { done: false };
    const writing = (async () => {
      let i = 0;
      while (!state.done && i < 200) {
        i += 1;
        await createNamed(ns, `c-${String((i * 7) % 120).padStart(3, "0")}x`);
        const victim = initial[(i * 11) % initial.length];
        if (victim !== undefined && !deletedByWriter.has(victim) && i % 2 === 0) {
          deletedByWriter.add(victim);
          await writer.groups.deleteGroup({ id: victim });
        }
      }
    })();
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    try {
      do {
        const res = await reader.groups.listGroups({ namespace: ns, pageSize: 5, pageToken: token });
        seen.push(...res.groups.map((g) => g.id));
        token = res.nextPageToken;
        pages += 1;
      } while (token !== "" && pages < 200);
    } finally {
      state.done = true;
      await writing;
    }
    expectNoDuplicates(seen);
    const throughout = initial.filter((id) => !deletedByWriter.has(id));
    expect(throughout.length).toBeGreaterThan(0);
    expect(throughout.filter((id) => !seen.includes(id))).toEqual([]);
  }, 60_000);

  it("ListMemberships pages stably while members are added and removed between pages", async () => {
    const group = await writer.groups.createGroup({ group: { slug: uniqueSlug("mem"), displayName: "Members" } });
    const groupId = group.group?.id ?? "";
    const initial: string[] = [];
    for (let i = 0; i < 25; i++) {
      const member = `user:u${String(i * 2).padStart(3, "0")}`;
      await writer.memberships.addMember({ groupId, member });
      initial.push(member);
    }
    const removed = new Set<string>();
    const seen: string[] = [];
    let token = "";
    let page = 0;
    do {
      const res = await reader.memberships.listMemberships({ groupId, pageSize: 6, pageToken: token });
      seen.push(...res.memberships.map((m) => m.member));
      token = res.nextPageToken;
      page += 1;
      await writer.memberships.addMember({ groupId, member: `user:u${String(page * 3 + 1).padStart(3, "0")}` });
      const unseen = initial.find((m) => !seen.includes(m) && !removed.has(m));
      if (unseen !== undefined) {
        await writer.memberships.removeMember({ groupId, member: unseen });
        removed.add(unseen);
      }
    } while (token !== "" && page < 50);
    expectNoDuplicates(seen);
    expect(initial.filter((m) => !removed.has(m) && !seen.includes(m))).toEqual([]);
    expect(seen.filter((m) => removed.has(m))).toEqual([]);
  }, 60_000);
});
