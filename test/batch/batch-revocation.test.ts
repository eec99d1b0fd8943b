/**
 * A permission revoked while a BatchMemberships stream runs stops working
 * from the next chunk on: each chunk decides on the caller's facts
 * read at its start, never on facts cached when the stream opened. Through a
 * real gRPC server: the stream sends an operation, reads its result (its
 * chunk is committed), the permission is revoked, and the next operation of
 * the same stream is refused with exactly what the unary RPC would answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOp, openBatchStream, summarize, type BatchStream } from "../fixtures/batch-stream-client.ts";
import { root, startBatchWorld, type BatchWorld } from "../fixtures/roster-with-database-handle.ts";

let world: BatchWorld;
let bobToken: string;

beforeAll(async () => {
  world = await startBatchWorld("batch_revocation");
  bobToken = await world.roster.token("bob");
});

afterAll(async () => {
  await world.stop();
});

/** Sends one operation and waits for its result: its chunk is committed when this returns. */
async function sendAndRead(stream: BatchStream, operation: Parameters<BatchStream["send"]>[0]): Promise<ReturnType<typeof summarize>> {
  stream.send(operation);
  const response = await stream.next();
  if (response?.message.case !== "result") throw new Error(`expected a result, got ${JSON.stringify(response?.message.case)}`);
  return summarize(response.message.value);
}

/**
 * Bob's stream adds user:before to `g` (committed), then `revoke` runs, then
 * the same stream's add of user:after must get exactly `refusal`, and nothing
 * but user:before is added.
 */
async function expectRefusedAfterRevocation(
  g: string,
  revoke: () => Promise<unknown>,
  refusal: { code: number; message: string },
): Promise<void> {
  const stream = openBatchStream(world.roster.client.raw, bobToken);
  expect(await sendAndRead(stream, addOp(g, "user:before", undefined, "before"))).toMatchObject({ index: 0, code: 0, changed: true });
  await revoke();
  expect(await sendAndRead(stream, addOp(g, "user:after", undefined, "after"))).toEqual({ index: 1, tag: "after", ...refusal });
  stream.end();
  expect((await stream.finish()).code).toBe("OK");
  expect([...(await world.members(g)).keys()].sort()).toEqual(["user:before", "user:root"]);
}

describe("BatchMemberships honours a revocation from the next chunk on", () => {
  it("the caller removed from the group", async () => {
    const g = await world.group(root, { members: { "user:bob": "MANAGER" } });
    await expectRefusedAfterRevocation(g, () => world.app.memberships.remove(root, g, "user:bob"), {
      code: 5,
      message: `group "${g}" not found`,
    });
  });

  it("the caller removed from the team an ACL grant names", async () => {
    const team = await world.group(root, { members: { "user:bob": "MEMBER" } });
    const g = await world.group(root, { visibility: "AUTHENTICATED" });
    await world.app.groups.setAcl(root, g, [{ principal: `group:${team}`, permission: "WRITE" }], "");
    // g is AUTHENTICATED: bob still sees it, and is refused the WRITE he lost.
    await expectRefusedAfterRevocation(g, () => world.app.memberships.remove(root, team, "user:bob"), {
      code: 7,
      message: `permission denied: WRITE on group ${g} is required`,
    });
  });

  it("a sync stream whose caller lost access before its end removes nothing", async () => {
    const g = await world.group(root, { members: { "user:bob": "MANAGER", "user:stays": "MEMBER" } });
    const stream = openBatchStream(world.roster.client.raw, bobToken);
    stream.sync(g, false);
    expect(await sendAndRead(stream, addOp(g, "user:new", undefined, "new"))).toMatchObject({ index: 0, code: 0, changed: true });

    await world.app.memberships.remove(root, g, "user:bob");

    stream.end();
    const outcome = await stream.finish();
    expect({ code: outcome.code, details: outcome.details, summary: outcome.summary }).toEqual({
      code: "NOT_FOUND",
      details: `group "${g}" not found`,
      summary: undefined,
    });
    // Neither root (an ADMIN bob could not remove) nor stays was removed by the sync's end.
    expect([...(await world.members(g)).keys()].sort()).toEqual(["user:new", "user:root", "user:stays"]);
  });
});
