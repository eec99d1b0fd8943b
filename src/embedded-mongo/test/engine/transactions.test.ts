import { Binary, Double, Int32, Long, ObjectId, UUID } from "bson";
import { beforeEach, describe, expect, it } from "vitest";
import { createEngine, WriteConflictError } from "../../engine/index.ts";
import type { Engine } from "../../engine/index.ts";
import { engineError, engineRejection, idOf, insertAll, plain, read, readTyped } from "../fixtures/engine-reads-and-errors.ts";

const NS = "db.items";
let engine: Engine;

beforeEach(async () => {
  engine = await createEngine({});
});

describe("type fidelity", () => {
  it("stores and returns every BSON type as given, null distinct from missing", async () => {
    const doc = {
      _id: new ObjectId(),
      i: new Int32(1),
      d: new Double(1),
      l: Long.fromNumber(1),
      big: Long.fromString("9223372036854775807"),
      when: new Date(1_700_000_000_000),
      uuid: new UUID(),
      bin: new Binary(Buffer.from([1, 2, 3]), 0),
      nil: null,
      nested: { a: [new Int32(2), "x"] },
    };
    await insertAll(engine, NS, [doc]);
    const [stored] = readTyped(engine, NS);
    expect(stored).toEqual(doc);
    expect(stored?.i).toBeInstanceOf(Int32);
    expect(stored?.d).toBeInstanceOf(Double);
    expect(stored?.l).toBeInstanceOf(Long);
    expect(stored?.uuid).toBeInstanceOf(UUID);
    expect(Object.hasOwn(stored ?? {}, "nil")).toBe(true);
    expect(Object.hasOwn(stored ?? {}, "missing")).toBe(false);
  });

  it("keeps stored state safe from caller mutations", async () => {
    const doc = { _id: 1, tags: ["a"], when: new Date(0), bin: new Binary(Buffer.from([1]), 0) };
    await insertAll(engine, NS, [doc]);
    doc.tags.push("b");
    doc.when.setTime(5);
    doc.bin.buffer[0] = 9;
    const [stored] = readTyped(engine, NS);
    expect(stored).toEqual({ _id: new Int32(1), tags: ["a"], when: new Date(0), bin: new Binary(Buffer.from([1]), 0) });
    expect(Object.isFrozen(stored)).toBe(true);
    expect(Object.isFrozen(stored?.tags)).toBe(true);
  });

  it("puts _id first and rejects a replacement that changes it", async () => {
    await insertAll(engine, NS, [{ a: 1, _id: 7 }]);
    expect(Object.keys(read(engine, NS)[0] ?? {})).toEqual(["_id", "a"]);
    const txn = engine.begin();
    expect(
      engineError(() => {
        txn.replace(NS, 7, { _id: 8, a: 2 }, "replace");
      }).code,
    ).toBe(66);
    txn.abort();
  });
});

describe("snapshot isolation", () => {
  beforeEach(async () => {
    await insertAll(engine, NS, [
      { _id: 1, v: 1 },
      { _id: 2, v: 1 },
    ]);
  });

  it("other transactions do not see uncommitted writes", async () => {
    const writer = engine.begin();
    writer.replace(NS, 1, { _id: 1, v: 2 }, "update");
    writer.insert(NS, { _id: 3, v: 1 });
    writer.delete(NS, 2);
    expect(plain(writer.find(NS, {})).map((d): unknown[] => [d._id, d.v])).toEqual([
      [1, 2],
      [3, 1],
    ]);
    expect(read(engine, NS).map((d): unknown[] => [d._id, d.v])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    await writer.commit();
    expect(read(engine, NS).map((d): unknown[] => [d._id, d.v])).toEqual([
      [1, 2],
      [3, 1],
    ]);
  });

  it("a transaction keeps seeing its snapshot after others commit, through indexes too", async () => {
    await engine.createIndexes(NS, [{ name: "v_1", key: [["v", 1]] }]);
    const reader = engine.begin();
    await insertAll(engine, NS, [{ _id: 4, v: 1 }]);
    const writer = engine.begin();
    writer.replace(NS, 1, { _id: 1, v: 9 }, "update");
    writer.delete(NS, 2);
    await writer.commit();
    expect(reader.find(NS, { v: 1 }).map(idOf)).toEqual([1, 2]);
    expect(reader.lastFind?.index).toBe("v_1");
    expect(reader.find(NS, { v: 9 })).toEqual([]);
    expect(plain(reader.find(NS, { _id: 2 }))).toEqual([{ _id: 2, v: 1 }]);
    expect(read(engine, NS, { v: 1 }).map(idOf)).toEqual([4]);
    reader.abort();
  });

  it("old versions are collected once no snapshot needs them", async () => {
    const reader = engine.begin();
    for (let i = 0; i < 5; i++) {
      const txn = engine.begin();
      txn.replace(NS, 1, { _id: 1, v: 10 + i }, "update");
      await txn.commit();
    }
    expect(plain(reader.find(NS, { _id: 1 }))).toEqual([{ _id: 1, v: 1 }]);
    reader.abort();
    // With the reader gone, a new snapshot still sees the newest version only.
    expect(read(engine, NS, { _id: 1 })).toEqual([{ _id: 1, v: 14 }]);
  });
});

describe("write conflicts", () => {
  beforeEach(async () => {
    await insertAll(engine, NS, [{ _id: 1, v: 1 }]);
  });

  it("first writer wins: a second writer to the same document gets WriteConflict", async () => {
    const first = engine.begin();
    const second = engine.begin();
    first.replace(NS, 1, { _id: 1, v: 2 }, "update");
    const error = engineError(() => {
      second.replace(NS, 1, { _id: 1, v: 3 }, "update");
    });
    expect(error.code).toBe(112);
    expect(error.codeName).toBe("WriteConflict");
    expect(error.errorLabels).toEqual(["TransientTransactionError"]);
    expect(
      engineError(() => {
        second.delete(NS, 1);
      }).code,
    ).toBe(112);
    await first.commit();
    second.abort();
    expect(read(engine, NS)).toEqual([{ _id: 1, v: 2 }]);
  });

  it("writing a document committed after the snapshot is a WriteConflict", async () => {
    const late = engine.begin();
    const early = engine.begin();
    early.replace(NS, 1, { _id: 1, v: 2 }, "update");
    await early.commit();
    expect(
      engineError(() => {
        late.replace(NS, 1, { _id: 1, v: 3 }, "update");
      }).code,
    ).toBe(112);
    late.abort();
  });

  it("two concurrent inserts of one _id cannot both commit", async () => {
    const a = engine.begin();
    const b = engine.begin();
    a.insert(NS, { _id: 2, who: "a" });
    expect(
      engineError(() => {
        b.insert(NS, { _id: 2, who: "b" });
      }).code,
    ).toBe(112);
    await a.commit();
    b.abort();
    const c = engine.begin();
    expect(
      engineError(() => {
        c.insert(NS, { _id: 2, who: "c" });
      }).code,
    ).toBe(11000);
    c.abort();
  });

  it("two concurrent inserts of one unique key cannot both commit", async () => {
    await engine.createIndexes(NS, [{ name: "email_1", key: [["email", 1]], unique: true }]);
    const a = engine.begin();
    const b = engine.begin();
    a.insert(NS, { _id: 10, email: "x" });
    expect(
      engineError(() => {
        b.insert(NS, { _id: 11, email: "x" });
      }).code,
    ).toBe(112);
    await a.commit();
    // b's snapshot predates a's commit: still a conflict, not a silent duplicate.
    expect(
      engineError(() => {
        b.insert(NS, { _id: 12, email: "x" });
      }).code,
    ).toBe(112);
    b.abort();
    expect(read(engine, NS, { email: "x" }).map(idOf)).toEqual([10]);
  });

  it("a key released by an aborted transaction is free again", async () => {
    await engine.createIndexes(NS, [{ name: "email_1", key: [["email", 1]], unique: true }]);
    const a = engine.begin();
    a.insert(NS, { _id: 10, email: "x" });
    a.abort();
    const b = engine.begin();
    b.insert(NS, { _id: 11, email: "x" });
    await b.commit();
    expect(read(engine, NS, { email: "x" }).map(idOf)).toEqual([11]);
  });
});

describe("abort and commit", () => {
  it("abort discards every write and is idempotent", async () => {
    await insertAll(engine, NS, [{ _id: 1, v: 1 }]);
    const txn = engine.begin();
    txn.insert(NS, { _id: 2 });
    txn.replace(NS, 1, { _id: 1, v: 5 }, "replace");
    txn.abort();
    txn.abort();
    expect(txn.state).toBe("aborted");
    expect(read(engine, NS)).toEqual([{ _id: 1, v: 1 }]);
    expect(engineError(() => txn.find(NS, {})).code).toBe(251);
    expect((await engineRejection(txn.commit())).code).toBe(251);
    // The collection's implicit creation and the first insert.
    expect(engine.changes.latestSeq()).toBe(2n);
  });

  it("an insert into a new collection that is aborted leaves no collection behind", () => {
    const txn = engine.begin();
    txn.insert("db.fresh", { _id: 1 });
    txn.abort();
    expect(engine.listCollections("db")).toEqual([]);
    expect(engine.listDatabases()).toEqual([]);
  });

  it("commit publishes all writes at once, and a second commit is a no-op", async () => {
    const txn = engine.begin();
    for (let i = 0; i < 3; i++) txn.insert(NS, { _id: i });
    const before = engine.changes.latestSeq();
    await txn.commit();
    await txn.commit();
    expect(txn.state).toBe("committed");
    // The implicit creation of the collection, then the three inserts.
    expect(engine.changes.latestSeq()).toBe(before + 4n);
    expect(read(engine, NS)).toHaveLength(3);
    expect(engine.listCollections("db").map((c) => c.name)).toEqual(["items"]);
  });

  it("dropping a collection under a writing transaction makes its commit a WriteConflict", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    const txn = engine.begin();
    txn.insert(NS, { _id: 2 });
    await engine.dropCollection(NS);
    const error = await engineRejection(txn.commit());
    expect(error.code).toBe(112);
    expect(txn.state).toBe("aborted");
    expect(read(engine, NS)).toEqual([]);
  });

  it("a closed engine rejects new work", async () => {
    await engine.close();
    expect(engineError(() => engine.begin()).message).toContain("closed");
  });
});

describe("catalog", () => {
  it("creates, lists and drops collections and databases", async () => {
    expect(await engine.createCollection("a.x", { capped: false })).toBe(true);
    expect(await engine.createCollection("a.x")).toBe(false);
    await insertAll(engine, "a.y", [{ _id: 1 }]);
    await insertAll(engine, "b.z", [{ _id: 1 }]);
    expect(engine.listDatabases()).toEqual(["a", "b"]);
    expect(engine.listCollections("a").map((c) => [c.name, c.options])).toEqual([
      ["x", { capped: false }],
      ["y", {}],
    ]);
    expect(await engine.dropCollection("a.x")).toEqual({ nIndexesWas: 1 });
    expect(await engine.dropCollection("a.x")).toBeNull();
    await engine.dropDatabase("a");
    expect(engine.listDatabases()).toEqual(["b"]);
    expect(read(engine, "a.y")).toEqual([]);
  });
});

describe("DDL inside a transaction", () => {
  it("creates a collection and indexes that nobody sees before commit", async () => {
    const txn = engine.begin();
    txn.createCollection("db.fresh", { changeStreamPreAndPostImages: { enabled: true } });
    expect(txn.createIndexes("db.fresh", [{ name: "k_1", key: [["k", 1]], unique: true }])).toEqual({ before: 1, after: 2 });
    txn.insert("db.fresh", { _id: 1, k: "a" });
    expect(
      engineError(() => {
        txn.insert("db.fresh", { _id: 2, k: "a" });
      }).code,
    ).toBe(11000);
    expect(engine.listCollections("db")).toEqual([]);
    expect(engine.listIndexes("db.fresh")).toBeNull();
    expect(read(engine, "db.fresh")).toEqual([]);
    await txn.commit();
    expect(engine.listCollections("db").map((c) => [c.name, c.options])).toEqual([
      ["fresh", { changeStreamPreAndPostImages: { enabled: true } }],
    ]);
    expect(engine.listIndexes("db.fresh")?.map((s) => s.name)).toEqual(["_id_", "k_1"]);
    const later = engine.begin();
    expect(
      engineError(() => {
        later.insert("db.fresh", { _id: 3, k: "a" });
      }).code,
    ).toBe(11000);
    later.abort();
  });

  it("leaves nothing behind on abort", async () => {
    const txn = engine.begin();
    txn.createCollection("db.fresh", {});
    txn.createIndexes("db.fresh", [{ name: "k_1", key: [["k", 1]], unique: true }]);
    txn.insert("db.fresh", { _id: 1, k: "a" });
    txn.abort();
    expect(engine.listCollections("db")).toEqual([]);
    await insertAll(engine, "db.fresh", [
      { _id: 1, k: "a" },
      { _id: 2, k: "a" },
    ]);
    expect(engine.listIndexes("db.fresh")?.map((s) => s.name)).toEqual(["_id_"]);
  });

  it("checks a new unique index against the transaction's own earlier writes", () => {
    const txn = engine.begin();
    txn.insert("db.fresh", { _id: 1, k: "a" });
    txn.insert("db.fresh", { _id: 2, k: "a" });
    const error = engineError(() => txn.createIndexes("db.fresh", [{ name: "k_1", key: [["k", 1]], unique: true }]));
    expect(error.code).toBe(11000);
    txn.abort();
  });

  it("refuses indexes on an existing collection and a second create, as MongoDB does", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    const txn = engine.begin();
    const indexes = engineError(() => txn.createIndexes(NS, [{ name: "k_1", key: [["k", 1]] }]));
    expect([indexes.code, indexes.codeName, indexes.message]).toEqual([
      263,
      "OperationNotSupportedInTransaction",
      `Cannot create new indexes on existing collection ${NS} in a multi-document transaction.`,
    ]);
    const create = engineError(() => {
      txn.createCollection(NS, {});
    });
    expect([create.code, create.message]).toEqual([48, `Collection ${NS} already exists.`]);
    txn.createCollection("db.other", {});
    expect(
      engineError(() => {
        txn.createCollection("db.other", {});
      }).code,
    ).toBe(48);
    txn.abort();
  });

  it("makes the commit a WriteConflict when another commit created the collection first", async () => {
    const txn = engine.begin();
    txn.createCollection("db.fresh", {});
    await insertAll(engine, "db.fresh", [{ _id: 1 }]);
    const error = await engineRejection(txn.commit());
    expect(error.code).toBe(112);
    expect(error.errorLabels).toEqual(["TransientTransactionError"]);
  });
});

describe("sessions, blockers and read points", () => {
  it("stamps every change of a transaction with its session and one cluster time", async () => {
    const lsid = { id: new UUID() };
    const txn = engine.begin({ session: { lsid, txnNumber: 3n } });
    txn.insert(NS, { _id: 1 });
    txn.insert(NS, { _id: 2 });
    const time = await txn.commit();
    const events = engine.changes.since(0n, 10);
    expect(events.map((e) => [e.operationType, e.txn?.txnNumber, e.txn?.lsid === lsid, e.clusterTime])).toEqual([
      ["create", 3n, true, time],
      ["insert", 3n, true, time],
      ["insert", 3n, true, time],
    ]);
    await insertAll(engine, NS, [{ _id: 3 }]);
    expect(engine.changes.since(3n, 10)[0]?.txn).toBeUndefined();
  });

  it("a WriteConflict on another transaction's uncommitted write says when that transaction ends", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    const holder = engine.begin();
    holder.replace(NS, 1, { _id: 1, v: 1 }, "update");
    const blocked = engine.begin();
    const error = engineError(() => {
      blocked.insert(NS, { _id: 1 });
    });
    expect(error.code).toBe(112);
    if (!(error instanceof WriteConflictError)) throw new Error(`expected a WriteConflictError, got ${error.name}`);
    let ended = false;
    void error.blocker?.then(() => {
      ended = true;
    });
    await Promise.resolve();
    expect(ended).toBe(false);
    await holder.commit();
    await error.blocker;
    expect(ended).toBe(true);
    blocked.abort();
  });

  it("reads at the durable point when asked, and reports the snapshot's cluster time", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    const reader = engine.begin({ readAt: "durable" });
    expect(reader.find(NS, {}).map(idOf)).toEqual([1]);
    expect(reader.snapshotTime).toEqual(engine.changes.since(0n, 10).at(-1)?.clusterTime);
    reader.abort();
  });
});

describe("reads at a cluster time", () => {
  it("see the state a snapshot read saw, at its cluster time, within the snapshot history", async () => {
    await insertAll(engine, NS, [{ _id: 1, v: 1 }]);
    const snapshotRead = engine.begin({ readAt: "durable", keepSnapshot: true });
    const first = snapshotRead.snapshotTime;
    snapshotRead.abort();
    const txn = engine.begin();
    txn.replace(NS, 1, { _id: 1, v: 2 }, "update");
    const second = await txn.commit();
    if (second === null) throw new Error("no commit time");
    const atFirst = engine.begin({ readAt: first });
    expect(read(engine, NS)).toEqual([{ _id: 1, v: 2 }]);
    expect(plain(atFirst.find(NS, {}))).toEqual([{ _id: 1, v: 1 }]);
    expect(atFirst.snapshotTime).toEqual(first);
    atFirst.abort();
    const atSecond = engine.begin({ readAt: second });
    expect(plain(atSecond.find(NS, {}))).toEqual([{ _id: 1, v: 2 }]);
    atSecond.abort();
  });

  it("are refused once the snapshot history window has passed", async () => {
    const brief = await createEngine({ snapshotHistoryMs: 50 });
    await insertAll(brief, NS, [{ _id: 1, v: 1 }]);
    const snapshotRead = brief.begin({ readAt: "durable", keepSnapshot: true });
    const first = snapshotRead.snapshotTime;
    snapshotRead.abort();
    await insertAll(brief, NS, [{ _id: 2 }]);
    const inWindow = brief.begin({ readAt: first });
    expect(inWindow.find(NS, {}).map(idOf)).toEqual([1]);
    inWindow.abort();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(engineError(() => brief.begin({ readAt: first })).code).toBe(239);
  });

  it("are refused with SnapshotTooOld (239) where no snapshot read kept that state", async () => {
    const forgetful = await createEngine({ snapshotHistoryMs: 60_000 });
    await insertAll(forgetful, NS, [{ _id: 1, v: 1 }]);
    const first = forgetful.changes.since(0n, 10).at(-1)?.clusterTime;
    const txn = forgetful.begin();
    txn.replace(NS, 1, { _id: 1, v: 2 }, "update");
    await txn.commit();
    if (first === undefined) throw new Error("no commit time");
    const error = engineError(() => forgetful.begin({ readAt: first }));
    expect([error.code, error.codeName]).toEqual([239, "SnapshotTooOld"]);
    expect(error.message).toBe(`Read timestamp Timestamp(${first.t}, ${first.i}) is older than the oldest available timestamp.`);
  });
});
