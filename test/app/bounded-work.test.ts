/**
 * The database work of the read paths, observed through the driver's command
 * monitoring: transitive resolution asks indexed questions level by level
 * (never an empty filter, never a whole collection), and the request memo
 * lets the use case reuse what the authorization step loaded.
 */
import type { Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GroupRecord } from "../../src/domain/model.ts";
import {
  addMember,
  createGroup,
  groupInput,
  rejection,
  startAppFixture,
  user,
  type AppFixture,
} from "../fixtures/app-over-test-database.ts";

let fx: AppFixture;
const owner = user("bw-owner");
const reader = user("bw-reader");
const chain: GroupRecord[] = [];

beforeAll(async () => {
  fx = await startAppFixture("app_bounded", {}, { monitorCommands: true });
  // reader ∈ c0 ⊂ c1 ⊂ c2 ⊂ c3 ⊂ c4: five levels of nesting.
  for (let i = 0; i < 5; i++) chain.push(await createGroup(fx, owner, groupInput(`bw-c${i}`)));
  await addMember(fx, owner, chain[0]?.id ?? "", "user:bw-reader");
  for (let i = 0; i < 4; i++) await addMember(fx, owner, chain[i + 1]?.id ?? "", `group:${chain[i]?.id ?? ""}`);
  // Unrelated data the walks must not read.
  for (let i = 0; i < 20; i++) {
    const other = await fx.app.groups.create(user(`bw-other-${i}`), groupInput(`bw-other-${i}`), "");
    await fx.app.memberships.add(user(`bw-other-${i}`), other.id, `user:bw-filler-${i}`, "MEMBER");
  }
});
afterAll(async () => {
  await fx.stop();
});

const readCommands = new Set(["find", "count", "aggregate"]);

/** The filters of the read commands sent while `run` ran. */
async function readsDuring(run: () => Promise<unknown>): Promise<{ collection: string; filter: Document }[]> {
  const from = fx.commands.length;
  await run();
  return fx.commands.slice(from).flatMap((event) => {
    if (!readCommands.has(event.commandName)) return [];
    const body = event.command;
    const collection = String(body[event.commandName]);
    const filter = (
      event.commandName === "aggregate" ? (body["pipeline"] as Document[])[0]?.["$match"] : (body["filter"] ?? body["query"])
    ) as Document | undefined;
    return [{ collection, filter: filter ?? {} }];
  });
}

describe("transitive resolution", () => {
  it("walks the five levels with keyed queries and nothing else", async () => {
    const top = chain[4];
    if (top === undefined) throw new Error("setup");
    const reads = await readsDuring(() =>
      fx.app.memberships.check(reader, { groupId: top.id, principal: "user:bw-reader", directOnly: false }),
    );
    for (const read of reads) expect(Object.keys(read.filter), JSON.stringify(read)).not.toEqual([]);
    const membershipReads = reads.filter((read) => read.collection === "memberships");
    // One `member $in` query per level (5 levels, plus the empty sixth that ends the walk).
    expect(membershipReads.length).toBeLessThanOrEqual(6);
    for (const read of membershipReads) expect(Object.keys(read.filter)).toEqual(["member"]);
  });

  it("CheckMemberships answers every group from the one walk CheckMembership of a single group makes", async () => {
    const ids = chain.map((group) => group.id);
    const reads = await readsDuring(() =>
      fx.app.memberships.checkMany(reader, { groupIds: ids, principal: "user:bw-reader", directOnly: false }),
    );
    const membershipReads = reads.filter((read) => read.collection === "memberships");
    // The caller asks about itself: one closure (memoised), one `member $in` query per level.
    expect(membershipReads.length).toBeLessThanOrEqual(6);
    for (const read of membershipReads) expect(Object.keys(read.filter)).toEqual(["member"]);
    // The groups themselves and their ancestors: a handful of keyed reads, not one per group.
    expect(reads.filter((read) => read.collection === "groups").length).toBeLessThanOrEqual(3);
  });

  it("a transitive ListMemberships page reads its page from each group, and the group edges, never whole member lists", async () => {
    const top = chain[4];
    if (top === undefined) throw new Error("setup");
    const from = fx.commands.length;
    const page = await fx.app.memberships.list(owner, { groupId: top.id, role: undefined, transitive: true, pageSize: 2, pageToken: "" });
    expect(page.memberships.map((m) => m.member)).toEqual(["user:bw-owner", "user:bw-reader"]);
    const reads = fx.commands
      .slice(from)
      .filter((event) => readCommands.has(event.commandName) && event.command[event.commandName] === "memberships");
    expect(reads.map((event) => event.commandName).filter((name) => name !== "find")).toEqual([]);
    for (const event of reads) {
      const filter = event.command["filter"] as Document;
      // Either the `group:` edges of a level (one range of member), or one keyset batch of a group's users and
      // services: the page's (2 + 1), or, this listing being shorter than the longest page, the exact count's (1000 + 1).
      const edges = JSON.stringify(filter["member"]) === JSON.stringify({ $gte: "group:", $lt: "group;" });
      expect(edges || [3, 1001].includes(event.command["limit"] as number), JSON.stringify(event.command)).toBe(true);
    }
  });

  it("GetGroup's use case reuses the authorization step's loads through the request memo", async () => {
    const top = chain[4];
    if (top === undefined) throw new Error("setup");
    let authorizeReads = 0;
    let useCaseReads = 0;
    await fx.rpc(reader, "GetGroup", { groupId: top.id }, async (options) => {
      authorizeReads = fx.commands.length;
      const from = fx.commands.length;
      const got = await fx.app.groups.get(reader, { id: top.id }, options);
      useCaseReads = fx.commands.length - from;
      expect(got.access.role).toBe("MEMBER");
    });
    expect(authorizeReads).toBeGreaterThan(0);
    expect(useCaseReads).toBe(0);
  });

  it("GetGroup by namespace and slug reuses them too", async () => {
    const top = chain[4];
    if (top === undefined) throw new Error("setup");
    let useCaseReads = -1;
    await fx.rpc(reader, "GetGroup", { groupId: "", namespace: top.namespace, slug: top.slug }, async (options) => {
      const from = fx.commands.length;
      const got = await fx.app.groups.get(reader, { namespace: top.namespace, slug: top.slug }, options);
      useCaseReads = fx.commands.length - from;
      expect(got.group.id).toBe(top.id);
    });
    expect(useCaseReads).toBe(0);
  });

  it("ListGroups for a non-admin sends one scoped query per page, never an unfiltered one", async () => {
    const reads = await readsDuring(() =>
      fx.app.groups.list(reader, {
        namespace: undefined,
        parentId: undefined,
        query: "",
        showDeleted: false,
        pageSize: 2,
        pageToken: "",
        orderBy: "",
      }),
    );
    const groupReads = reads.filter((read) => read.collection === "groups");
    for (const read of groupReads) expect(Object.keys(read.filter), JSON.stringify(read)).not.toEqual([]);
    const listed = await fx.app.groups.list(reader, {
      namespace: undefined,
      parentId: undefined,
      query: "",
      showDeleted: false,
      pageSize: 10,
      pageToken: "",
      orderBy: "",
    });
    expect(listed.groups.map((group) => group.slug).sort()).toEqual(["bw-c0", "bw-c1", "bw-c2", "bw-c3", "bw-c4"]);
  });
});

describe("deadlines", () => {
  it("bounds every read outside transactions with maxTimeMS from the time left", async () => {
    const top = chain[4];
    if (top === undefined) throw new Error("setup");
    const from = fx.commands.length;
    await fx.app.memberships.check(
      reader,
      { groupId: top.id, principal: "user:bw-reader", directOnly: false },
      { deadline: Date.now() + 5_000 },
    );
    const reads = fx.commands.slice(from).filter((event) => readCommands.has(event.commandName));
    expect(reads.length).toBeGreaterThan(0);
    for (const event of reads) {
      const maxTimeMS = event.command["maxTimeMS"] as unknown;
      expect(typeof maxTimeMS).toBe("number");
      expect(maxTimeMS).toBeGreaterThan(0);
      expect(maxTimeMS).toBeLessThanOrEqual(5_000);
    }
  });

  it("fails with DEADLINE_EXCEEDED when the deadline has passed or the request was cancelled", async () => {
    const top = chain[4];
    if (top === undefined) throw new Error("setup");
    expect(await rejection(fx.app.groups.get(reader, { id: top.id }, { deadline: Date.now() - 1 }))).toBe(
      "deadline_exceeded: deadline exceeded before the database work finished",
    );
    const controller = new AbortController();
    controller.abort();
    expect(await rejection(fx.app.memberships.add(owner, top.id, "user:late", "MEMBER", { signal: controller.signal }))).toBe(
      "deadline_exceeded: the request was cancelled",
    );
    expect((await fx.app.memberships.check(owner, { groupId: top.id, principal: "user:late", directOnly: true })).isMember).toBe(false);
  });
});
