import { Double, Int32, Long, ObjectId, UUID } from "bson";
import { appendFile, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../engine/index.ts";
import { useDataDirs } from "../fixtures/temp-data-dirs.ts";
import { engineError, idOf, insertAll, read, readTyped } from "../fixtures/engine-reads-and-errors.ts";

const NS = "db.things";
const dirs = useDataDirs("engine-durability");

describe("journal replay", () => {
  it("restores acknowledged commits and DDL after a crash, with types, indexes and positions", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    const oid = new ObjectId();
    const uuid = new UUID();
    await engine.createCollection("db.opts", { validator: { a: { $exists: true } } });
    await engine.createIndexes(NS, [
      { name: "email_1", key: [["email", 1]], unique: true },
      {
        name: "g_1_n_-1",
        key: [
          ["g", 1],
          ["n", -1],
        ],
        partialFilterExpression: { g: { $gt: 0 } },
      },
    ]);
    await insertAll(engine, NS, [
      { _id: oid, email: "a", i: new Int32(1), d: new Double(2), l: Long.fromNumber(3), u: uuid, when: new Date(7), nil: null },
      { _id: 2, email: "b", g: 1, n: 1 },
      { _id: 3, email: "c" },
    ]);
    const txn = engine.begin();
    txn.replace(NS, 2, { _id: 2, email: "b2", g: 1, n: 2 }, "update");
    txn.delete(NS, 3);
    await txn.commit();
    await insertAll(engine, "db.gone", [{ _id: 1 }]);
    await engine.dropCollection("db.gone");
    await insertAll(engine, "other.x", [{ _id: 1 }]);
    await engine.dropDatabase("other");
    await engine.createIndexes(NS, [{ name: "tmp_1", key: [["tmp", 1]] }]);
    await engine.dropIndexes(NS, ["tmp_1"]);
    const seq = engine.changes.latestSeq();

    const copy = await dirs.crashCopy(dir, "crashed");
    const { engine: reopened, logs } = await dirs.start(copy);
    expect(logs.filter((l) => l.level !== "info")).toEqual([]);
    expect(reopened.changes.latestSeq()).toBe(seq);
    expect(read(reopened, NS)).toEqual(read(engine, NS));
    const [first] = readTyped(reopened, NS, { _id: oid });
    expect(first?.i).toBeInstanceOf(Int32);
    expect(first?.d).toBeInstanceOf(Double);
    expect(first?.l).toBeInstanceOf(Long);
    expect(first?.u).toEqual(uuid);
    expect(Object.hasOwn(first ?? {}, "nil")).toBe(true);
    expect(reopened.listIndexes(NS)).toEqual(engine.listIndexes(NS));
    expect(reopened.listDatabases()).toEqual(["db"]);
    expect(reopened.listCollections("db").map((c) => [c.name, c.options])).toEqual([
      ["opts", { validator: { a: { $exists: true } } }],
      ["things", {}],
    ]);
    // The unique index is enforced after replay.
    const t = reopened.begin();
    expect(
      engineError(() => {
        t.insert(NS, { _id: 9, email: "b2" });
      }).code,
    ).toBe(11000);
    t.abort();
    // The change log is rebuilt from the journal.
    expect(reopened.changes.since(0n, 100).map((e) => [e.seq, e.operationType, e.ns])).toEqual(
      engine.changes.since(0n, 100).map((e) => [e.seq, e.operationType, e.ns]),
    );
  });

  it("keeps appending after a restart", async () => {
    const dir = dirs.path("live");
    const first = await dirs.start(dir);
    await insertAll(first.engine, NS, [{ _id: 1 }]);
    await first.engine.close();
    const second = await dirs.start(dir);
    await insertAll(second.engine, NS, [{ _id: 2 }]);
    await second.engine.close();
    const third = await dirs.start(dir);
    expect(read(third.engine, NS).map(idOf)).toEqual([1, 2]);
    // The collection's creation and the two inserts.
    expect(third.engine.changes.latestSeq()).toBe(3n);
  });

  it("replays renames (with the target dropped), collMod options and DDL events", async () => {
    const dir = dirs.path("live");
    const first = await dirs.start(dir);
    await insertAll(first.engine, "db.a", [{ _id: 1 }]);
    await first.engine.createIndexes("db.a", [{ name: "k_1", key: [["k", 1]], unique: true }]);
    await insertAll(first.engine, "other.b", [{ _id: 2 }]);
    await first.engine.renameCollection("db.a", "other.b", true);
    await first.engine.setCollectionOptions("other.b", { changeStreamPreAndPostImages: { enabled: true } });
    const uuid = first.engine.listCollections("other")[0]?.uuid.toHexString();
    const events = first.engine.changes.since(0n, 100).map((e) => [e.seq, e.operationType, e.ns, e.clusterTime]);
    const copy = await dirs.crashCopy(dir, "crashed");
    const second = await dirs.start(copy);
    expect(second.logs.filter((l) => l.level !== "info")).toEqual([]);
    expect(second.engine.listCollections("db")).toEqual([]);
    expect(second.engine.listCollections("other").map((c) => [c.name, c.uuid.toHexString(), c.options])).toEqual([
      ["b", uuid, { changeStreamPreAndPostImages: { enabled: true } }],
    ]);
    expect(read(second.engine, "other.b").map(idOf)).toEqual([1]);
    expect(second.engine.listIndexes("other.b")?.map((s) => s.name)).toEqual(["_id_", "k_1"]);
    expect(second.engine.changes.since(0n, 100).map((e) => [e.seq, e.operationType, e.ns, e.clusterTime])).toEqual(events);
    expect(events.map((e) => e[1])).toEqual(["create", "insert", "createIndexes", "create", "insert", "drop", "rename", "modify"]);
  });

  it("writes nothing to disk without a data directory", async () => {
    const engine = await createEngine({});
    await insertAll(engine, NS, [{ _id: 1 }]);
    await engine.close();
    expect(await dirs.rootEntries()).toEqual([]);
  });
});

describe("torn or corrupt journal tails", () => {
  async function prepare(): Promise<{ dir: string; journal: string; size: number }> {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    await insertAll(engine, NS, [{ _id: 1, v: "one" }]);
    await insertAll(engine, NS, [{ _id: 2, v: "two" }]);
    const copy = await dirs.crashCopy(dir, "crashed");
    const journal = await dirs.journal(copy);
    return { dir: copy, journal, size: (await stat(journal)).size };
  }

  it("cuts off a partially written last record, reports it once, and truncates the file", async () => {
    const { dir, journal, size } = await prepare();
    const bytes = await readFile(journal);
    await writeFile(journal, bytes.subarray(0, size - 5));
    const { engine, logs } = await dirs.start(dir);
    expect(read(engine, NS).map(idOf)).toEqual([1]);
    const warnings = logs.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toMatch(/torn record .*incomplete record/);
    expect(logs.filter((l) => l.level === "error")).toEqual([]);
    expect((await stat(journal)).size).toBeLessThan(size - 5);
    // New commits land after the cut and survive the next restart.
    await insertAll(engine, NS, [{ _id: 3 }]);
    await engine.close();
    const again = await dirs.start(dir);
    expect(read(again.engine, NS).map(idOf)).toEqual([1, 3]);
    expect(again.logs.filter((l) => l.level !== "info")).toEqual([]);
  });

  it("cuts off garbage appended after the last record", async () => {
    const { dir, journal, size } = await prepare();
    await appendFile(journal, Buffer.from([1, 2, 3]));
    const { engine, logs } = await dirs.start(dir);
    expect(read(engine, NS).map(idOf)).toEqual([1, 2]);
    expect(logs.filter((l) => l.level === "warn")).toHaveLength(1);
    expect((await stat(journal)).size).toBe(size);
  });

  it("detects a flipped byte in the last record by its checksum", async () => {
    const { dir, journal, size } = await prepare();
    const bytes = await readFile(journal);
    bytes[size - 10] = (bytes[size - 10] ?? 0) ^ 0xff;
    await writeFile(journal, bytes);
    const { engine, logs } = await dirs.start(dir);
    expect(read(engine, NS).map(idOf)).toEqual([1]);
    const warnings = logs.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain("checksum mismatch");
  });
});

describe("compaction", () => {
  it("snapshots past the threshold, starts a new journal, and restarts with everything", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir, { compactAfterBytes: 4096 });
    await engine.createIndexes(NS, [{ name: "k_1", key: [["k", 1]], unique: true }]);
    for (let i = 0; i < 60; i++) {
      const txn = engine.begin();
      txn.insert(NS, { _id: i, k: `key-${i}`, n: new Int32(i), pad: "x".repeat(100) });
      if (i > 0 && i % 10 === 0) txn.delete(NS, i - 1);
      await txn.commit();
    }
    const replaceTxn = engine.begin();
    replaceTxn.replace(NS, 0, { _id: 0, k: "zero", n: Long.fromNumber(0) }, "replace");
    await replaceTxn.commit();
    const expected = read(engine, NS);
    const seq = engine.changes.latestSeq();
    await engine.close();

    const names = await readdir(dir);
    const snapshots = names.filter((n) => n.startsWith("snapshot-"));
    const journals = names.filter((n) => n.startsWith("journal-"));
    expect(snapshots).toHaveLength(1);
    expect(journals).toHaveLength(1);
    expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    // The snapshot and the journal after it share a generation.
    expect(snapshots[0]?.slice("snapshot-".length, -".bson".length)).toBe(journals[0]?.slice("journal-".length, -".log".length));

    const { engine: reopened, logs } = await dirs.start(dir);
    expect(logs.filter((l) => l.level !== "info")).toEqual([]);
    expect(read(reopened, NS)).toEqual(expected);
    expect(readTyped(reopened, NS, { _id: 0 })[0]?.n).toBeInstanceOf(Long);
    expect(reopened.changes.latestSeq()).toBe(seq);
    expect(reopened.listIndexes(NS)?.map((s) => s.name)).toEqual(["_id_", "k_1"]);
    const txn = reopened.begin();
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 1000, k: "key-5" });
      }).code,
    ).toBe(11000);
    expect(txn.find(NS, { k: "key-7" }).map(idOf)).toEqual([7]);
    expect(txn.lastFind?.index).toBe("k_1");
    txn.abort();
    // Cluster times keep increasing across the restart.
    await insertAll(reopened, NS, [{ _id: 5000, k: "new" }]);
    const [last] = reopened.changes.since(seq, 1);
    expect(last?.seq).toBe(seq + 1n);
  });

  it("ignores a snapshot left half-written by a crash", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    await insertAll(engine, NS, [{ _id: 1 }]);
    const copy = await dirs.crashCopy(dir, "crashed");
    await writeFile(join(copy, "snapshot-00000001.bson.tmp"), Buffer.from("partial"));
    const { engine: reopened, logs } = await dirs.start(copy);
    expect(read(reopened, NS).map(idOf)).toEqual([1]);
    expect(logs.filter((l) => l.level !== "info")).toEqual([]);
    expect((await readdir(copy)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
