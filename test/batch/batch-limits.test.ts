/**
 * The configurable limits of BatchMemberships end a stream with a clear
 * status after everything before the limit was answered: operations per
 * stream (RESOURCE_EXHAUSTED), idle time between messages and stream
 * duration (DEADLINE_EXCEEDED). Also the configuration's validation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { addOp, openBatchStream, runBatch } from "../fixtures/batch-stream-client.ts";
import { startBatchWorld, userCaller, type BatchWorld } from "../fixtures/roster-with-database-handle.ts";

let world: BatchWorld;
let aliceToken: string;
const alice = userCaller("alice");

beforeAll(async () => {
  world = await startBatchWorld("batch_limits", {
    ROSTER_BATCH_MAX_OPERATIONS: "20",
    ROSTER_BATCH_IDLE_TIMEOUT_MS: "400",
    ROSTER_BATCH_MAX_DURATION_MS: "1200",
    ROSTER_BATCH_CHUNK_SIZE: "8",
  });
  aliceToken = await world.roster.token("alice");
});

afterAll(async () => {
  await world.stop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("stream limits", () => {
  it("answers the first ROSTER_BATCH_MAX_OPERATIONS operations, then RESOURCE_EXHAUSTED", async () => {
    const g = await world.group(alice);
    const outcome = await runBatch(
      world.roster.client.raw,
      aliceToken,
      Array.from({ length: 25 }, (_, i) => addOp(g, `user:u${i}`)),
    );
    expect(outcome.results.map((r) => r.index)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(outcome.code).toBe("RESOURCE_EXHAUSTED");
    expect(outcome.details).toBe(
      "too many operations: a stream may carry at most 20 (ROSTER_BATCH_MAX_OPERATIONS); operations 0-19 were answered",
    );
    expect((await world.getGroup(g)).memberCount).toBe(21);
  });

  it("closes a stream idle for ROSTER_BATCH_IDLE_TIMEOUT_MS with DEADLINE_EXCEEDED", async () => {
    const g = await world.group(alice);
    const stream = openBatchStream(world.roster.client.raw, aliceToken);
    stream.send(addOp(g, "user:x"));
    const first = await stream.next();
    expect(first?.message.case).toBe("result");
    // Waiting for a result does not count as idle; silence after it does.
    const outcome = await stream.finish();
    expect(outcome).toMatchObject({
      code: "DEADLINE_EXCEEDED",
      details: "no message for 400 ms (ROSTER_BATCH_IDLE_TIMEOUT_MS); the stream was closed, results sent so far stand",
    });
    expect(await world.members(g)).toEqual(
      new Map([
        ["user:alice", "ADMIN"],
        ["user:x", "MEMBER"],
      ]),
    );
  });

  it("ends a stream running longer than ROSTER_BATCH_MAX_DURATION_MS with DEADLINE_EXCEEDED", async () => {
    const g = await world.group(alice);
    const stream = openBatchStream(world.roster.client.raw, aliceToken);
    // Read while sending: a grpc-js client drops unread messages when an error status arrives.
    const finished = stream.finish();
    const state = { ended: false, endedAfter: Number.POSITIVE_INFINITY };
    const started = Date.now();
    void finished.then(() => {
      state.ended = true;
      state.endedAfter = Date.now() - started;
    });
    let sent = 0;
    // A message every 150 ms: never idle, but the stream outlives its 1200 ms.
    while (Date.now() - started < 2_500 && !state.ended) {
      stream.send(addOp(g, `user:d${sent}`));
      sent += 1;
      await sleep(150);
    }
    const outcome = await finished;
    expect(outcome).toMatchObject({
      code: "DEADLINE_EXCEEDED",
      details: "the stream ran longer than 1200 ms (ROSTER_BATCH_MAX_DURATION_MS); results sent so far stand",
    });
    // Ended by the limit, not by the client, which kept sending for 2.5 s.
    expect(state.endedAfter).toBeGreaterThanOrEqual(1_100);
    expect(state.endedAfter).toBeLessThan(2_400);
    expect(outcome.results.length).toBeGreaterThan(0);
    expect(outcome.results.length).toBeLessThanOrEqual(sent);
    const stored = await world.members(g);
    for (const result of outcome.results) expect(stored.has(result.membership?.member ?? "")).toBe(true);
    expect((await world.getGroup(g)).memberCount).toBe(stored.size);
  });
});

describe("limit settings", () => {
  it("are validated like every other setting", () => {
    expect(() => loadConfig({ ROSTER_BATCH_MAX_OPERATIONS: "0", ROSTER_BATCH_CHUNK_SIZE: "lots" })).toThrow(
      'invalid configuration:\n  ROSTER_BATCH_MAX_OPERATIONS: must be between 1 and 1000000000, got 0\n  ROSTER_BATCH_CHUNK_SIZE: must be a whole number between 1 and 5000, got "lots"',
    );
    const config = loadConfig({ ROSTER_BATCH_IDLE_TIMEOUT_MS: "1500" });
    expect(config.batchLimits).toMatchObject({ maxOperations: 1_000_000, idleTimeoutMs: 1500, chunkSize: 500, maxUnaryOperations: 1000 });
  });
});
