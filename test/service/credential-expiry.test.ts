/**
 * A stream ends when its token expires: WatchChanges (both doors) ends
 * UNAUTHENTICATED at the instant a new call with the same token would be
 * refused, also while it has nothing to send; a BatchMemberships stream
 * refuses, and does not apply, an operation sent after that instant, while
 * what it answered before stands. A stream with a token that is still valid
 * goes on.
 *
 * A token signed 28.5 s ago with a 1 s lifetime is accepted for another ~2.5
 * s (the verifier's 30 s clock tolerance), which makes the expiry happen
 * during the test without a clock of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOp, openBatchStream } from "../fixtures/batch-stream-client.ts";
import { startBatchWorld, userCaller, type BatchWorld } from "../fixtures/roster-with-database-handle.ts";
import { openWatch, watchDoors, type WatchEndpoints } from "../fixtures/watch-client.ts";

let world: BatchWorld;
let endpoints: WatchEndpoints;
const alice = userCaller("alice");

beforeAll(async () => {
  // A checkpoint interval longer than the test: the stream must end while its implementation waits.
  world = await startBatchWorld("credential_expiry", { ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS: "60000" });
  endpoints = { grpcAddress: world.roster.address, webUrl: world.roster.httpUrl };
});

afterAll(async () => {
  await world.stop();
});

/** A token of `subject` that expires (exp + 30 s tolerance) about 2.5 s from now, and that instant. */
async function shortLivedToken(subject: string): Promise<{ readonly token: string; readonly expiresAt: number }> {
  const issued = new Date(Date.now() - 28_500);
  const token = await world.roster.token(subject, { now: issued, ttlSeconds: 1 });
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp: number };
  return { token, expiresAt: (payload.exp + 30) * 1000 };
}

const expiredDetails = /^the token expired during the stream \(valid until \S+\); reconnect with a new token and resume$/u;

describe.each(watchDoors)("WatchChanges over %s", (door) => {
  it("ends UNAUTHENTICATED when its token expires, while a stream with a valid token goes on", async () => {
    const g = await world.group(alice);
    const { token, expiresAt } = await shortLivedToken("alice");
    const expiring = openWatch(door, endpoints, token, { groupIds: [g] });
    const lasting = openWatch(door, endpoints, await world.roster.token("alice"), { groupIds: [g] });
    try {
      expect((await expiring.next()).event.case).toBe("checkpoint");
      expect((await lasting.next()).event.case).toBe("checkpoint");
      const end = await expiring.ended;
      const endedAt = Date.now();
      expect(end.code).toBe("UNAUTHENTICATED");
      expect(end.details).toMatch(expiredDetails);
      expect(end.details).toContain(new Date(expiresAt).toISOString());
      expect(endedAt).toBeGreaterThanOrEqual(expiresAt);
      // The valid stream still delivers.
      await world.app.memberships.add(alice, g, "user:after", "MEMBER");
      const { change } = await lasting.nextChange();
      expect(change.member).toBe("user:after");
    } finally {
      expiring.cancel();
      lasting.cancel();
    }
  });

  it("refuses an already expired token at the start, as every call", async () => {
    const expired = await world.roster.token("alice", { now: new Date(Date.now() - 120_000), ttlSeconds: 1 });
    const watch = openWatch(door, endpoints, expired);
    expect(await watch.ended).toEqual({ code: "UNAUTHENTICATED", details: "token expired" });
  });
});

describe("BatchMemberships over gRPC", () => {
  it("applies what was sent before the token expired and refuses, unapplied, what was sent after", async () => {
    const g = await world.group(alice);
    const { token, expiresAt } = await shortLivedToken("alice");
    const stream = openBatchStream(world.roster.client.raw, token);
    stream.send(addOp(g, "user:early"));
    const first = await stream.next();
    expect(first?.message.case).toBe("result");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 100));
    stream.send(addOp(g, "user:late"));
    stream.end();
    const outcome = await stream.finish();
    expect(outcome.code).toBe("UNAUTHENTICATED");
    expect(outcome.details).toMatch(expiredDetails);
    expect(outcome.results).toEqual([]);
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:alice", "ADMIN"],
        ["user:early", "MEMBER"],
      ]),
    );
  });
});
