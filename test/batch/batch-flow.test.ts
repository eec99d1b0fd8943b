/**
 * BatchMemberships under load: a client that sends fast and reads slowly
 * does not make the server read (or hold) its whole stream; a cancelled
 * stream leaves exactly a prefix of whole chunks stored, including
 * everything reported; concurrent streams on one group keep member_count
 * exact. The server runs in-process, so the engine's counters are visible.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOp, openBatchStream, removeOp, runBatch } from "../fixtures/batch-stream-client.ts";
import { openRawBatchStream } from "../fixtures/raw-http2-batch-stream.ts";
import { startBatchWorld, userCaller, type BatchWorld } from "../fixtures/roster-with-database-handle.ts";

let world: BatchWorld;
let aliceToken: string;
const alice = userCaller("alice");

beforeAll(async () => {
  world = await startBatchWorld("batch_flow");
  aliceToken = await world.roster.token("alice");
});

afterAll(async () => {
  await world.stop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const member = (i: number) => `user:m${String(i).padStart(6, "0")}`;

describe("flow control", () => {
  it("stops reading a fast client that does not read its results, then finishes when it does", async () => {
    const g = await world.group(alice);
    const total = 6000;
    const chunkSize = world.app.batch.limits.chunkSize;
    const start = world.app.batch.stats();
    // A client that really does not read (see test/fixtures/raw-http2-batch-stream.ts), and that
    // ignores its own backpressure: everything is queued at once.
    const stream = openRawBatchStream(world.roster.address, aliceToken);
    for (let i = 0; i < total; i++) stream.send(addOp(g, member(i)));
    stream.end();

    // Without reading, wait until the server stops pulling operations (bounded wait).
    let last = -1;
    let stableSince = Date.now();
    const giveUpAt = Date.now() + 25_000;
    for (;;) {
      await sleep(200);
      const pulled = world.app.batch.stats().pulled - start.pulled;
      if (pulled !== last) {
        last = pulled;
        stableSince = Date.now();
      }
      if (Date.now() - stableSince >= 1_500 || pulled >= total || Date.now() > giveUpAt) break;
    }
    const stalled = world.app.batch.stats();
    const pulled = stalled.pulled - start.pulled;
    const answered = stalled.answered - start.answered;
    // The server stalled well before the end of the stream, with at most the
    // chunk being answered and one chunk of lookahead between reading and answering.
    expect(pulled).toBeLessThan(total / 2);
    expect(pulled - answered).toBeLessThanOrEqual(2 * chunkSize);

    const outcome = await stream.readAll();
    stream.close();
    expect(outcome.grpcStatus).toBe("0");
    const results = outcome.responses.map((r) => (r.message.case === "result" ? r.message.value : undefined));
    expect(results).toHaveLength(total);
    expect(results.every((r, i) => r?.index === i && r.status?.code === 0 && r.changed)).toBe(true);
    expect((await world.getGroup(g)).memberCount).toBe(total + 1);
  }, 60_000);
});

describe("cancellation", () => {
  it("keeps everything reported and stores a prefix of whole chunks, nothing half-applied", async () => {
    const g = await world.group(alice);
    const total = 3000;
    const stream = openBatchStream(world.roster.client.raw, aliceToken);
    for (let i = 0; i < total; i++) stream.send(addOp(g, member(i)));
    let received = 0;
    while (received < 700) {
      const response = await stream.next();
      if (response?.message.case !== "result") throw new Error("stream ended early");
      expect(response.message.value.status?.code).toBe(0);
      received += 1;
    }
    stream.call.cancel();
    await sleep(500);

    const stored = await world.members(g);
    const storedMembers = [...stored.keys()].filter((m) => m !== "user:alice").sort();
    // Everything reported is stored, and what is stored is the first K operations for some K.
    expect(storedMembers.length).toBeGreaterThanOrEqual(received);
    expect(storedMembers).toEqual(Array.from({ length: storedMembers.length }, (_, i) => member(i)));
    expect(storedMembers.length).toBeLessThan(total);
    expect((await world.getGroup(g)).memberCount).toBe(stored.size);
  }, 60_000);
});

describe("concurrency", () => {
  it("keeps member_count exact under concurrent batches on one group", async () => {
    const g = await world.group(alice);
    const streams = [0, 1, 2].map((s) => {
      const ops = [
        ...Array.from({ length: 300 }, (_, i) => addOp(g, `user:s${s}-${i}`)),
        ...Array.from({ length: 50 }, (_, i) => addOp(g, `user:shared-${i}`)),
        ...Array.from({ length: 100 }, (_, i) => removeOp(g, `user:s${s}-${i}`)),
      ];
      return runBatch(world.roster.client.raw, aliceToken, ops);
    });
    const unary = world.app.memberships.add(alice, g, "user:unary", "MEMBER");
    const outcomes = await Promise.all(streams);
    await unary;
    for (const outcome of outcomes) {
      expect(outcome.code).toBe("OK");
      expect(outcome.results).toHaveLength(450);
      expect(outcome.results.every((r) => r.status?.code === 0)).toBe(true);
    }
    // Each shared member was created by exactly one stream and found existing by the others.
    const created = outcomes.flatMap((o) => o.results.slice(300, 350)).filter((r) => r.changed).length;
    expect(created).toBe(50);
    const stored = await world.members(g);
    expect(stored.size).toBe(1 + 3 * 200 + 50 + 1);
    expect((await world.getGroup(g)).memberCount).toBe(stored.size);
  }, 60_000);
});
