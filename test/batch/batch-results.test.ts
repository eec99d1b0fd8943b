/**
 * BatchMemberships and BatchUpdateMemberships through a real gRPC server:
 * per-item outcomes with exact codes and the unary RPCs' messages, request
 * order, idempotency, operations on one member applied in the order sent,
 * and what ends a stream as a whole.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { failureOf, type RosterClient } from "../fixtures/roster-grpc-client.ts";
import {
  addOp,
  changeRoleOp,
  openBatchStream,
  removeOp,
  runBatch,
  summarize,
  type OperationInit,
} from "../fixtures/batch-stream-client.ts";
import { root, startBatchWorld, userCaller, type BatchWorld } from "../fixtures/roster-with-database-handle.ts";

let world: BatchWorld;
let aliceToken: string;
let alice: RosterClient;
const aliceCaller = userCaller("alice");

beforeAll(async () => {
  world = await startBatchWorld("batch_results");
  aliceToken = await world.roster.token("alice");
  alice = world.roster.client.as(aliceToken);
});

afterAll(async () => {
  await world.stop();
});

describe("BatchMemberships per-item outcomes", () => {
  it("answers every operation in order with its own code, and goes on after failures", async () => {
    const g = await world.group(aliceCaller);
    const privateGroup = await world.group(root);
    const visibleGroup = await world.group(root, { visibility: "AUTHENTICATED" });
    const a = await world.group(aliceCaller);
    const b = await world.group(aliceCaller);
    await world.app.memberships.add(root, b, `group:${a}`, "MEMBER");

    const operations: OperationInit[] = [
      addOp(g, "user:bob", Role.UNSPECIFIED, "t0"),
      addOp(g, "bob", Role.MEMBER, "t1"),
      addOp("no-such-group", "user:x", Role.MEMBER, "t2"),
      addOp(privateGroup, "user:x", Role.MEMBER, "t3"),
      addOp(visibleGroup, "user:x", Role.MEMBER, "t4"),
      removeOp(g, "user:alice", "t5"),
      addOp(a, `group:${b}`, Role.MEMBER, "t6"),
      addOp(g, "user:bob", Role.ADMIN, "t7"),
      changeRoleOp(g, "user:bob", Role.MANAGER, "t8"),
      removeOp(g, "user:carol", "t9"),
      removeOp(g, "user:bob", "t10"),
      addOp(g, "user:bob", Role.ADMIN, "t11"),
      changeRoleOp(g, "user:bob", Role.UNSPECIFIED, "t12"),
      { tag: "t13" },
    ];
    const outcome = await runBatch(world.roster.client.raw, aliceToken, operations);

    expect(outcome.code).toBe("OK");
    expect(outcome.results.map(summarize)).toEqual([
      { index: 0, tag: "t0", code: 0, message: "", changed: true, role: Role.MEMBER },
      { index: 1, tag: "t1", code: 3, message: 'member: must be "user:<id>", "group:<group id>" or "service:<id>"' },
      { index: 2, tag: "t2", code: 5, message: 'group "no-such-group" not found' },
      { index: 3, tag: "t3", code: 5, message: `group "${privateGroup}" not found` },
      { index: 4, tag: "t4", code: 7, message: `permission denied: WRITE on group ${visibleGroup} is required` },
      { index: 5, tag: "t5", code: 9, message: `cannot remove user:alice: it is the last direct ADMIN of group "${g}"` },
      { index: 6, tag: "t6", code: 9, message: `adding group:${b} to ${a} would close the cycle ${a} → ${b} → ${a}` },
      // Idempotent add: an existing member is unchanged, its role too (AddMember semantics).
      { index: 7, tag: "t7", code: 0, message: "", changed: false, role: Role.MEMBER },
      { index: 8, tag: "t8", code: 0, message: "", changed: true, role: Role.MANAGER },
      { index: 9, tag: "t9", code: 5, message: `user:carol is not a member of group "${g}"` },
      { index: 10, tag: "t10", code: 0, message: "", changed: true, role: Role.MANAGER },
      { index: 11, tag: "t11", code: 0, message: "", changed: true, role: Role.ADMIN },
      { index: 12, tag: "t12", code: 3, message: "role: is required (MEMBER, MANAGER or ADMIN)" },
      { index: 13, tag: "t13", code: 3, message: "operation: is required (add, remove, change_role, update, invite, respond or decide)" },
    ]);
    // A removal reports the membership it removed.
    expect(outcome.results[10]?.membership?.member).toBe("user:bob");
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:alice", "ADMIN"],
        ["user:bob", "ADMIN"],
      ]),
    );
    expect((await world.getGroup(g)).memberCount).toBe(2);
    expect(await world.members(a)).toEqual(new Map([["user:alice", "ADMIN"]]));
  });

  it("fails items with the same code and message as the unary RPC", async () => {
    const visibleGroup = await world.group(root, { visibility: "AUTHENTICATED" });
    const g = await world.group(aliceCaller, { members: { "user:m": "MEMBER" } });
    const cases: { op: OperationInit; unary: () => Promise<unknown> }[] = [
      { op: addOp(visibleGroup, "user:x"), unary: () => alice.memberships.addMember({ groupId: visibleGroup, member: "user:x" }) },
      { op: addOp(g, "user: x"), unary: () => alice.memberships.addMember({ groupId: g, member: "user: x" }) },
      { op: removeOp(g, "user:nobody"), unary: () => alice.memberships.removeMember({ groupId: g, member: "user:nobody" }) },
      {
        op: changeRoleOp(g, "user:alice", Role.MEMBER),
        unary: () => alice.memberships.updateMemberRole({ groupId: g, member: "user:alice", role: Role.MEMBER }),
      },
    ];
    const outcome = await runBatch(
      world.roster.client.raw,
      aliceToken,
      cases.map((c) => c.op),
    );
    const codeNumbers: Record<string, number> = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9 };
    for (const [i, c] of cases.entries()) {
      const unary = await failureOf(c.unary());
      expect(outcome.results[i]?.status).toMatchObject({ code: codeNumbers[unary.code], message: unary.details });
    }
  });

  it("applies operations on one member in the order sent, within a chunk", async () => {
    const g = await world.group(aliceCaller);
    const outcome = await runBatch(world.roster.client.raw, aliceToken, [
      addOp(g, "user:x"),
      removeOp(g, "user:x"),
      addOp(g, "user:x", Role.MANAGER),
      changeRoleOp(g, "user:x", Role.MEMBER),
      removeOp(g, "user:x"),
      addOp(g, "user:x", Role.ADMIN),
      changeRoleOp(g, "user:alice", Role.MEMBER),
      addOp(g, "user:y"),
      removeOp(g, "user:y"),
    ]);
    expect(outcome.results.map((r) => [r.status?.code, r.changed, r.membership?.role])).toEqual([
      [0, true, Role.MEMBER],
      [0, true, Role.MEMBER],
      [0, true, Role.MANAGER],
      [0, true, Role.MEMBER],
      [0, true, Role.MEMBER],
      [0, true, Role.ADMIN],
      // user:x became a second ADMIN just before, so alice may step down.
      [0, true, Role.MEMBER],
      [0, true, Role.MEMBER],
      [0, true, Role.MEMBER],
    ]);
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:alice", "MEMBER"],
        ["user:x", "ADMIN"],
      ]),
    );
    expect((await world.getGroup(g)).memberCount).toBe(2);
  });

  it("checks nesting against edges added earlier in the same stream", async () => {
    const a = await world.group(aliceCaller);
    const b = await world.group(aliceCaller);
    const c = await world.group(aliceCaller);
    const outcome = await runBatch(world.roster.client.raw, aliceToken, [
      addOp(a, `group:${b}`),
      addOp(b, `group:${c}`),
      addOp(c, `group:${a}`),
      addOp(a, `group:${a}`),
    ]);
    expect(outcome.results.map(summarize)).toEqual([
      { index: 0, tag: "", code: 0, message: "", changed: true, role: Role.MEMBER },
      { index: 1, tag: "", code: 0, message: "", changed: true, role: Role.MEMBER },
      { index: 2, tag: "", code: 9, message: `adding group:${a} to ${c} would close the cycle ${c} → ${a} → ${b} → ${c}` },
      { index: 3, tag: "", code: 9, message: `adding group:${a} to ${a} would close the cycle ${a} → ${a}` },
    ]);
  });

  it("ends the stream with UNAUTHENTICATED without a token, and with INVALID_ARGUMENT for a misplaced sync", async () => {
    const anonymous = await runBatch(world.roster.client.raw, undefined, [addOp("g", "user:x")]);
    expect(anonymous).toMatchObject({ results: [], code: "UNAUTHENTICATED" });

    const g = await world.group(aliceCaller);
    const stream = openBatchStream(world.roster.client.raw, aliceToken);
    stream.send(addOp(g, "user:x"));
    stream.sync(g, false);
    stream.end();
    const outcome = await stream.finish();
    expect(outcome.code).toBe("INVALID_ARGUMENT");
    expect(outcome.details).toBe("sync: is only allowed as the first message of the stream");
    // The operation before it was answered (its chunk committed) or never applied; never half.
    const stored = await world.members(g);
    expect(stored.has("user:x")).toBe(outcome.results.length === 1);
    expect((await world.getGroup(g)).memberCount).toBe(stored.size);
  });
});

describe("BatchUpdateMemberships (unary)", () => {
  it("returns one result per operation, in order, with the stream's semantics", async () => {
    const g = await world.group(aliceCaller);
    const response = await alice.memberships.batchUpdateMemberships({
      operations: [
        addOp(g, "user:u1", Role.MEMBER, "a"),
        addOp(g, "nope", Role.MEMBER, "b"),
        addOp(g, "user:u1", Role.MEMBER, "c"),
        removeOp(g, "user:u2", "d"),
      ],
    });
    expect(response.results.map(summarize)).toEqual([
      { index: 0, tag: "a", code: 0, message: "", changed: true, role: Role.MEMBER },
      { index: 1, tag: "b", code: 3, message: 'member: must be "user:<id>", "group:<group id>" or "service:<id>"' },
      { index: 2, tag: "c", code: 0, message: "", changed: false, role: Role.MEMBER },
      { index: 3, tag: "d", code: 5, message: `user:u2 is not a member of group "${g}"` },
    ]);
    expect((await world.getGroup(g)).memberCount).toBe(2);
  });

  it("accepts 1 to 1000 operations", async () => {
    const g = await world.group(aliceCaller);
    expect(await failureOf(alice.memberships.batchUpdateMemberships({ operations: [] }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: "operations: must hold 1-1000 operations, got 0",
    });
    const many = Array.from({ length: 1001 }, (_, i) => addOp(g, `user:u${i}`));
    expect(await failureOf(alice.memberships.batchUpdateMemberships({ operations: many }))).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: "operations: must hold 1-1000 operations, got 1001",
    });
    const response = await alice.memberships.batchUpdateMemberships({ operations: many.slice(0, 1000) });
    expect(response.results).toHaveLength(1000);
    expect(response.results.every((r, i) => r.index === i && r.status?.code === 0)).toBe(true);
    expect((await world.getGroup(g)).memberCount).toBe(1001);
  });
});
