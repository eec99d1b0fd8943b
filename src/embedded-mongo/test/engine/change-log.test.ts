import { Int32, Timestamp } from "bson";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createEngine } from "../../engine/index.ts";
import type { ChangeEvent, Engine } from "../../engine/index.ts";
import { insertAll, plain } from "../fixtures/engine-reads-and-errors.ts";

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
    await engine.createCollection(NS, { changeStreamPreAndPostImages: { enabled: true } });
    await insertAll(engine, NS, [{ _id: 1, a: 1, sub: { x: 1, y: 2 }, gone: true }]);
    const txn = engine.begin();
    txn.replace(NS, 1, { _id: 1, a: 2, sub: { x: 1, y: 3, z: 4 } }, "update");
    txn.insert(NS, { _id: 2, b: 1 });
    txn.replace(NS, 2, { _id: 2, c: 1 }, "replace");
    txn.delete(NS, 1);
    await txn.commit();

    const events = engine.changes.since(1n, 100);
    expect(summary(engine.changes.since(0n, 1))).toEqual([[1n, "create", NS, null]]);
    expect(summary(events)).toEqual([
      [2n, "insert", NS, { _id: 1 }],
      [3n, "update", NS, { _id: 1 }],
      [4n, "insert", NS, { _id: 2 }],
      [5n, "replace", NS, { _id: 2 }],
      [6n, "delete", NS, { _id: 1 }],
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
      disambiguatedPaths: {},
    });
    expect(replace?.updateDescription).toBeUndefined();
    expect(plain([replace?.fullDocumentBeforeChange ?? {}])).toEqual([{ _id: 2, b: 1 }]);
    // The delete's pre-image is the state after the earlier write in the same transaction.
    expect(plain([del?.fullDocumentBeforeChange ?? {}])).toEqual([{ _id: 1, a: 2, sub: { x: 1, y: 3, z: 4 } }]);
    expect(del?.fullDocument).toBeUndefined();
  });

  it("describes array changes element by element, as MongoDB's diff does", async () => {
    await insertAll(engine, NS, [
      { _id: 1, tags: ["a", "b", "c"], list: ["foo", { a: "bar" }, 1, 2, 3], nested: [{ "1": 1 }], whole: [1, 2] },
    ]);
    const txn = engine.begin();
    txn.replace(NS, 1, { _id: 1, tags: ["a", "B", "c", "d"], list: ["foo", { a: "bar" }], nested: [{ "1": 2 }], whole: [3, 4] }, "update");
    await txn.commit();
    const [update] = engine.changes.since(2n, 1);
    expect(update?.updateDescription).toEqual({
      updatedFields: { "tags.1": "B", "tags.3": "d", "nested.0.1": new Int32(2), whole: [new Int32(3), new Int32(4)] },
      removedFields: [],
      truncatedArrays: [{ field: "list", newSize: new Int32(2) }],
      disambiguatedPaths: { "tags.1": ["tags", 1], "tags.3": ["tags", 3], "nested.0.1": ["nested", 0, "1"] },
    });
  });

  it("keeps no pre-images, and no post-images of updates, where changeStreamPreAndPostImages is off", async () => {
    await insertAll(engine, NS, [{ _id: 1, a: 1 }]);
    const txn = engine.begin();
    txn.replace(NS, 1, { _id: 1, a: 2 }, "update");
    txn.replace(NS, 1, { _id: 1, b: 1 }, "replace");
    txn.delete(NS, 1);
    await txn.commit();
    const [update, replace, del] = engine.changes.since(2n, 10);
    expect(update?.operationType).toBe("update");
    expect(update?.fullDocument).toBeUndefined();
    expect(update?.fullDocumentBeforeChange).toBeUndefined();
    expect(update?.updateDescription?.updatedFields).toEqual({ a: new Int32(2) });
    expect(plain([replace?.fullDocument ?? {}])).toEqual([{ _id: 1, b: 1 }]);
    expect(replace?.fullDocumentBeforeChange).toBeUndefined();
    expect(del?.fullDocumentBeforeChange).toBeUndefined();
  });

  it("stamps all events of one commit with its cluster time, later commits with greater ones", async () => {
    await insertAll(engine, NS, [{ _id: 1 }, { _id: 2 }]);
    await insertAll(engine, NS, [{ _id: 3 }]);
    const [create, first, second, third] = engine.changes.since(0n, 10);
    expect(create?.clusterTime).toEqual(first?.clusterTime);
    expect(first?.clusterTime).toEqual(second?.clusterTime);
    expect(first?.wallTime).toBe(second?.wallTime);
    const a = second?.clusterTime;
    const b = third?.clusterTime;
    expect(a !== undefined && b !== undefined && (b.t > a.t || (b.t === a.t && b.i > a.i))).toBe(true);
    expect(engine.clusterTime().greaterThanOrEqual(b ?? engine.clusterTime())).toBe(true);
  });

  it("records drops of collections and databases", async () => {
    await insertAll(engine, "a.x", [{ _id: 1 }]);
    await insertAll(engine, "a.y", [{ _id: 1 }]);
    await engine.dropCollection("a.x");
    await engine.dropDatabase("a");
    expect(summary(engine.changes.since(4n, 10))).toEqual([
      [5n, "drop", "a.x", null],
      [6n, "drop", "a.y", null],
      [7n, "dropDatabase", "a", null],
    ]);
  });

  it("records DDL as events (shown by showExpandedEvents streams)", async () => {
    await engine.createCollection("a.x", {});
    await engine.createIndexes("a.x", [{ name: "k_1", key: [["k", 1]] }]);
    await engine.createIndexes("a.y", [{ name: "k_1", key: [["k", 1]] }]);
    await engine.setCollectionOptions("a.x", { changeStreamPreAndPostImages: { enabled: true } });
    await engine.dropIndexes("a.x", ["k_1"]);
    const events = engine.changes.since(0n, 10);
    expect(events.map((e) => [e.seq, e.operationType, e.ns])).toEqual([
      [1n, "create", "a.x"],
      [2n, "createIndexes", "a.x"],
      [3n, "create", "a.y"],
      [4n, "createIndexes", "a.y"],
      [5n, "modify", "a.x"],
      [6n, "dropIndexes", "a.x"],
    ]);
    expect(events[1]?.operationDescription?.indexes?.map((s) => s.name)).toEqual(["k_1"]);
    expect(events[4]?.operationDescription?.options).toEqual({ changeStreamPreAndPostImages: { enabled: true } });
    expect(events[0]?.collectionUUID?.toHexString()).toBe(
      engine
        .listCollections("a")
        .find((c) => c.name === "x")
        ?.uuid.toHexString(),
    );
  });

  it("pages with since(after, limit)", async () => {
    await insertAll(
      engine,
      NS,
      Array.from({ length: 10 }, (_, i) => ({ _id: i })),
    );
    expect(engine.changes.since(3n, 2).map((e) => e.seq)).toEqual([4n, 5n]);
    expect(engine.changes.since(10n, 5).map((e) => e.seq)).toEqual([11n]);
    expect(engine.changes.since(11n, 5)).toEqual([]);
  });

  it("keeps a bounded window by count and reports where it starts", async () => {
    const small = await createEngine({ changeLogRetention: 5 });
    expect(small.changes.oldestSeq()).toBe(1n);
    for (let i = 0; i < 12; i++) await insertAll(small, NS, [{ _id: i }]);
    expect(small.changes.latestSeq()).toBe(13n);
    expect(small.changes.oldestSeq()).toBe(9n);
    expect(small.changes.since(0n, 100).map((e) => e.seq)).toEqual([9n, 10n, 11n, 12n, 13n]);
  });

  it("keeps a bounded window by age", async () => {
    vi.useFakeTimers({ now: new Date("2030-01-01T00:00:00Z"), toFake: ["Date"] });
    const aging = await createEngine({ changeLogRetentionMs: 60_000 });
    await insertAll(aging, NS, [{ _id: 1 }]);
    vi.setSystemTime(new Date("2030-01-01T00:00:45Z"));
    await insertAll(aging, NS, [{ _id: 2 }]);
    expect(aging.changes.oldestSeq()).toBe(1n);
    vi.setSystemTime(new Date("2030-01-01T00:01:30Z"));
    // The first commit (create and insert) is older than a minute, the second is not.
    expect(aging.changes.oldestSeq()).toBe(3n);
    expect(aging.changes.since(0n, 10).map((e) => e.seq)).toEqual([3n]);
  });
});

describe("durability and the cluster clock", () => {
  it("advances the cluster time while idle, and commits always get a greater one", async () => {
    vi.useFakeTimers({ now: new Date("2030-01-01T00:00:00Z"), toFake: ["Date"] });
    const clocked = await createEngine({});
    await insertAll(clocked, NS, [{ _id: 1 }]);
    const committed = clocked.changes.since(0n, 1)[0]?.clusterTime;
    vi.setSystemTime(new Date("2030-01-01T00:00:05Z"));
    const idle = clocked.durableHighWaterMark();
    expect(idle.t).toBe(committed === undefined ? -1 : committed.t + 5);
    expect(idle.i).toBe(0);
    await insertAll(clocked, NS, [{ _id: 2 }]);
    const next = clocked.changes.since(2n, 1)[0]?.clusterTime;
    expect(next?.greaterThan(idle)).toBe(true);
  });

  it("lets a client's $clusterTime move the clock forward, never back", async () => {
    const now = engine.clusterTime();
    const ahead = new Timestamp({ t: now.t + 100, i: 7 });
    engine.advanceClusterTime(ahead);
    expect(engine.clusterTime()).toEqual(ahead);
    engine.advanceClusterTime(now);
    expect(engine.clusterTime()).toEqual(ahead);
    await insertAll(engine, NS, [{ _id: 1 }]);
    expect(engine.changes.since(0n, 1)[0]?.clusterTime).toEqual(new Timestamp({ t: now.t + 100, i: 8 }));
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
