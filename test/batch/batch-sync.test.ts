/**
 * Sync mode of BatchMemberships: the members sent are the complete desired
 * set; dry runs report without changing; the last direct ADMIN is never
 * removed; refusals and misuse.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { addOp, removeOp, runBatch, summarize } from "../fixtures/batch-stream-client.ts";
import { root, startBatchWorld, userCaller, type BatchWorld } from "../fixtures/roster-with-database-handle.ts";

let world: BatchWorld;
let aliceToken: string;
const alice = userCaller("alice");

beforeAll(async () => {
  world = await startBatchWorld("batch_sync");
  aliceToken = await world.roster.token("alice");
});

afterAll(async () => {
  await world.stop();
});

/** alice (ADMIN, the only one), u1 MEMBER, u2 MANAGER, u3 MEMBER. */
async function seededGroup(): Promise<string> {
  return world.group(alice, { members: { "user:u1": "MEMBER", "user:u2": "MANAGER", "user:u3": "MEMBER" } });
}

const desired = (g: string) => [addOp(g, "user:u1", Role.MEMBER), addOp(g, "user:u2", Role.MEMBER), addOp(g, "user:u4")];

describe("sync", () => {
  it("dry run reports what would change and changes nothing", async () => {
    const g = await seededGroup();
    const before = await world.members(g);
    const outcome = await runBatch(world.roster.client.raw, aliceToken, desired(g), { groupId: g, dryRun: true });
    expect(outcome.code).toBe("OK");
    expect(outcome.results.map(summarize)).toEqual([
      { index: 0, tag: "", code: 0, message: "", changed: false, role: Role.MEMBER },
      { index: 1, tag: "", code: 0, message: "", changed: true, role: Role.MEMBER },
      { index: 2, tag: "", code: 0, message: "", changed: true, role: Role.MEMBER },
    ]);
    expect(outcome.summary).toMatchObject({ groupId: g, added: 1, changed: 1, removed: 1, unchanged: 1, keptLastAdmins: 1, dryRun: true });
    expect(await world.members(g)).toEqual(before);
    expect((await world.getGroup(g)).memberCount).toBe(4);
  });

  it("makes the sent members the group's direct members, keeping the last ADMIN", async () => {
    const g = await seededGroup();
    const outcome = await runBatch(world.roster.client.raw, aliceToken, desired(g), { groupId: g, dryRun: false });
    expect(outcome.code).toBe("OK");
    expect(outcome.summary).toMatchObject({ groupId: g, added: 1, changed: 1, removed: 1, unchanged: 1, keptLastAdmins: 1, dryRun: false });
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:alice", "ADMIN"],
        ["user:u1", "MEMBER"],
        ["user:u2", "MEMBER"],
        ["user:u4", "MEMBER"],
      ]),
    );
    expect((await world.getGroup(g)).memberCount).toBe(4);
  });

  it("removes an ADMIN not sent when another ADMIN is sent, and the dry run agrees", async () => {
    const g = await world.group(alice, { members: { "user:a2": "ADMIN", "user:m": "MEMBER" } });
    const ops = [addOp(g, "user:a2", Role.ADMIN), addOp(g, "user:m"), addOp(g, "user:m")];
    const dry = await runBatch(world.roster.client.raw, aliceToken, ops, { groupId: g, dryRun: true });
    const real = await runBatch(world.roster.client.raw, aliceToken, ops, { groupId: g, dryRun: false });
    const expected = { added: 0, changed: 0, removed: 1, unchanged: 3, keptLastAdmins: 0 };
    expect(dry.summary).toMatchObject({ ...expected, dryRun: true });
    expect(real.summary).toMatchObject({ ...expected, dryRun: false });
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:a2", "ADMIN"],
        ["user:m", "MEMBER"],
      ]),
    );
    expect((await world.getGroup(g)).memberCount).toBe(2);
  });

  it("a dry run sees its own earlier operations across chunks", async () => {
    // More operations than one chunk (500): the second add of each member is unchanged.
    const g = await world.group(alice);
    const members = Array.from({ length: 400 }, (_, i) => `user:s${i}`);
    const ops = [...members, ...members].map((m) => addOp(g, m));
    ops.push(addOp(g, "user:alice", Role.ADMIN));
    const outcome = await runBatch(world.roster.client.raw, aliceToken, ops, { groupId: g, dryRun: true });
    expect(outcome.results.filter((r) => r.status?.code === 0)).toHaveLength(801);
    expect(outcome.summary).toMatchObject({ added: 400, changed: 0, removed: 0, unchanged: 401, keptLastAdmins: 0, dryRun: true });
    expect(await world.members(g)).toEqual(new Map([["user:alice", "ADMIN"]]));
  });

  it("accepts only adds to the synced group, per item", async () => {
    const g = await seededGroup();
    const other = await world.group(alice);
    const outcome = await runBatch(
      world.roster.client.raw,
      aliceToken,
      [addOp(other, "user:x"), removeOp(g, "user:u1"), addOp(g, "user:u1"), addOp(g, "user:alice", Role.ADMIN)],
      { groupId: g, dryRun: false },
    );
    const refusal = `operation: a sync stream of group "${g}" accepts only add operations to that group`;
    expect(outcome.results.map(summarize).slice(0, 2)).toEqual([
      { index: 0, tag: "", code: 3, message: refusal },
      { index: 1, tag: "", code: 3, message: refusal },
    ]);
    expect(outcome.summary).toMatchObject({ added: 0, changed: 0, removed: 2, unchanged: 2, keptLastAdmins: 0 });
    expect(await world.members(other)).toEqual(new Map([["user:alice", "ADMIN"]]));
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:alice", "ADMIN"],
        ["user:u1", "MEMBER"],
      ]),
    );
  });

  it("refuses demoting the last ADMIN by sync, per item, and keeps it", async () => {
    const g = await world.group(alice, { members: { "user:m": "MEMBER" } });
    const outcome = await runBatch(world.roster.client.raw, aliceToken, [addOp(g, "user:alice", Role.MEMBER)], {
      groupId: g,
      dryRun: false,
    });
    expect(outcome.results.map(summarize)).toEqual([
      { index: 0, tag: "", code: 9, message: `cannot change the role of user:alice: it is the last direct ADMIN of group "${g}"` },
    ]);
    expect(outcome.summary).toMatchObject({ added: 0, changed: 0, removed: 1, unchanged: 0, keptLastAdmins: 0 });
    expect(await world.members(g)).toEqual(new Map([["user:alice", "ADMIN"]]));
  });

  it("ends the stream when the caller may not sync the group, or may not remove a member not sent", async () => {
    const g = await world.group(root, { visibility: "AUTHENTICATED", members: { "user:bob": "MANAGER", "user:boss": "ADMIN" } });
    const stranger = await runBatch(world.roster.client.raw, aliceToken, [addOp(g, "user:x")], { groupId: g, dryRun: false });
    expect(stranger).toMatchObject({
      code: "PERMISSION_DENIED",
      details: `permission denied: WRITE on group ${g} is required`,
      results: [],
    });

    // bob (MANAGER: WRITE) may add MEMBERs, not act on MANAGERs (himself included: AddMember's rule),
    // and not remove the ADMINs he did not send. His refused add still counts as sent: he stays.
    const bobToken = await world.roster.token("bob");
    const before = await world.members(g);
    const outcome = await runBatch(world.roster.client.raw, bobToken, [addOp(g, "user:bob", Role.MANAGER), addOp(g, "user:new")], {
      groupId: g,
      dryRun: false,
    });
    expect(outcome.results.map(summarize)).toEqual([
      { index: 0, tag: "", code: 7, message: `permission denied: MANAGE on group ${g} is required to grant role MANAGER` },
      { index: 1, tag: "", code: 0, message: "", changed: true, role: Role.MEMBER },
    ]);
    expect(outcome).toMatchObject({ code: "PERMISSION_DENIED", summary: undefined });
    expect(outcome.details).toMatch(/^permission denied: MANAGE on group \S+ is required to act on a member with role ADMIN$/);
    // The answered adds stand; nothing was removed.
    expect(await world.members(g)).toEqual(new Map([...before, ["user:new", "MEMBER"]]));
    expect((await world.getGroup(g)).memberCount).toBe(before.size + 1);
  });
});
