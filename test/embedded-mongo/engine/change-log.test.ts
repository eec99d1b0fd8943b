import { Int32 } from "bson";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createEngine } from "../../../src/embedded-mongo/engine/index.ts";
import type { ChangeEvent, Engine } from "../../../src/embedded-mongo/engine/index.ts";
import { insertAll, plain } from "./helpers.ts";

const NS = "db.events";
let engine: Engine;

beforeEach(async () => {
  engine = await createEngine({});
});

afterEach(() => {
  vi.useRealTimers();
});

function summary(events: readonly ChangeEvent[]): unknown[] {
  return events.map((e) => [e.seq, e.operationType, e.ns, e.documentKey === undefined ? null : plain([e.documentKey])[0]]);
}

describe("change events", () => {
  it("records every write of a commit in order, with images and gap-free positions", async () => {
    await insertAll(engine, NS, [{ _id: 1, a: 1, sub: { x: 1, y: 2 }, gone: true }]);
    const txn = engine.begin();
    txn.replace(NS, 1, { _id: 1, a: 2, sub: { x: 1, y: 3, z: 4 } }, "update");
    txn.insert(NS, { _id: 2, b: 1 });
    txn.replace(NS, 2, { _id: 2, c: 1 }, "replace");
    txn.delete(NS, 1);
    await txn.commit();

    const events = engine.changes.since(0n, 100);
    expect(summary(events)).toEqual([
      [1n, "insert", NS, { _id: 1 }],
      [2n, "update", NS, { _id: 1 }],
      [3n, "insert", NS, { _id: 2 }],
      [4n, "replace", NS, { _id: 2 }],
      [5n, "delete", NS, { _id: 1 }],
    ]);
    const [insert, update, , replace, del] = events;
    expect(plain([insert?.fullDocument ?? {}])).toEqual([{ _id: 1, a: 1, sub: { x: 1, y: 2 }, gone: true }]);
    expect(insert?.fullDocumentBeforeChange).toBeUndefined();
    expect(plain([update?.fullDocumentBeforeChange ?? {}])).toEqual([{ _id: 1, a: 1, sub: { x: 1, y: 2 }, gone: true }]);
    expect(plain([update?.fullDocument ?? {}])).toEqual([{ _id: 1, a: 2, sub: { x: 1, y: 3, z: 4 } }]);
    expect(update?.updateDescription).toEqual({
      updatedFields: { a: new Int32(2), "sub.y": new Int32(3), "sub.z": new Int32(4) },
      removedFields: ["gone"],
      truncatedArrays: [],
    });
    expect(replace?.updateDescription).toBeUndefined();
    expect(plain([replace?.fullDocumentBeforeChange ?? {}])).toEqual([{ _id: 2, b: 1 }]);
    // The delete's pre-image is the state after the earlier write in the same transaction.
    expect(plain([del?.fullDocumentBeforeChange ?? {}])).toEqual([{ _id: 1, a: 2, sub: { x: 1, y: 3, z: 4 } }]);
    expect(del?.fullDocument).toBeUndefined();
  });

  it("gives increasing cluster times and a shared wall time per commit", async () => {
    await insertAll(engine, NS, [{ _id: 1 }, { _id: 2 }]);
    await insertAll(engine, NS, [{ _id: 3 }]);
    const events = engine.changes.since(0n, 10);
    for (let i = 1; i < events.length; i++) {
      const a = events[i - 1]?.clusterTime;
      const b = events[i]?.clusterTime;
      expect(a !== undefined && b !== undefined && (b.t > a.t || (b.t === a.t && b.i > a.i))).toBe(true);
    }
    expect(events[0]?.wallTime).toBe(events[1]?.wallTime);
  });

  it("records drops of collections and databases", async () => {
    await insertAll(engine, "a.x", [{ _id: 1 }]);
    await insertAll(engine, "a.y", [{ _id: 1 }]);
    await engine.dropCollection("a.x");
    await engine.dropDatabase("a");
    expect(summary(engine.changes.since(2n, 10))).toEqual([
      [3n, "drop", "a.x", null],
      [4n, "drop", "a.y", null],
      [5n, "dropDatabase", "a", null],
    ]);
  });

  it("pages with since(after, limit)", async () => {
    await insertAll(engine, NS, Array.from({ length: 10 }, (_, i) => ({ _id: i })));
    expect(engine.changes.since(3n, 2).map((e) => e.seq)).toEqual([4n, 5n]);
    expect(engine.changes.since(9n, 5).map((e) => e.seq)).toEqual([10n]);
    expect(engine.changes.since(10n, 5)).toEqual([]);
  });

  it("keeps a bounded window and reports where it starts", async () => {
    const small = await createEngine({ changeLogRetention: 5 });
    expect(small.changes.oldestSeq()).toBe(1n);
    for (let i = 0; i < 12; i++) await insertAll(small, NS, [{ _id: i }]);
    expect(small.changes.latestSeq()).toBe(12n);
    expect(small.changes.oldestSeq()).toBe(8n);
    expect(small.changes.since(0n, 100).map((e) => e.seq)).toEqual([8n, 9n, 10n, 11n, 12n]);
  });
});

describe("waitFor", () => {
  it("resolves as soon as a commit moves past the position", async () => {
    const waiting = engine.changes.waitFor(0n, 60_000);
    let done = false;
    void waiting.then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    await insertAll(engine, NS, [{ _id: 1 }]);
    await waiting;
    expect(done).toBe(true);
  });

  it("resolves at once when the log is already past the position", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    vi.useFakeTimers();
    await engine.changes.waitFor(0n, 60_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves after the timeout and leaves no timer behind", async () => {
    vi.useFakeTimers();
    const waiting = engine.changes.waitFor(0n, 1_000);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await waiting;
    expect(vi.getTimerCount()).toBe(0);
    expect(engine.changes.latestSeq()).toBe(0n);
  });

  it("resolves on abort and on commit without leaving timers", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const aborted = engine.changes.waitFor(0n, 60_000, controller.signal);
    const woken = engine.changes.waitFor(0n, 60_000);
    expect(vi.getTimerCount()).toBe(2);
    controller.abort();
    await aborted;
    expect(vi.getTimerCount()).toBe(1);
    await insertAll(engine, NS, [{ _id: 1 }]);
    await woken;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("is released by close()", async () => {
    const waiting = engine.changes.waitFor(0n, 60_000);
    await engine.close();
    await waiting;
  });
});
