/**
 * The journal holds every record a legal command can produce (documents up to
 * the 16 MiB limit, transactions of any size), and start-up never drops an
 * acknowledged record silently: only a torn last record is cut off, damage
 * before valid records stops the start with an error naming file and byte.
 */
import { Binary, Long, Timestamp, UUID } from "bson";
import { appendFile, readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../engine/index.ts";
import type { Engine } from "../../engine/index.ts";
import { decodeRecords } from "../../engine/record-file.ts";
import { useDataDirs } from "../fixtures/temp-data-dirs.ts";
import { engineError, idOf, insertAll, read } from "../fixtures/engine-reads-and-errors.ts";

const NS = "db.big";
const MiB = 1024 * 1024;
const dirs = useDataDirs("engine-integrity");

/** A document of about `mib` MiB. */
function sized(id: number, mib: number, fill = "x"): { _id: number; s: string } {
  return { _id: id, s: fill.repeat(mib * MiB - 40) };
}

describe("the 16 MiB document limit", () => {
  it("refuses an oversized insert (10334), upsert (17420) and update result (17419), changing nothing", async () => {
    const engine = await createEngine({});
    const txn = engine.begin();
    const tooBig = { _id: 1, s: "x".repeat(16 * MiB) };
    const insert = engineError(() => {
      txn.insert(NS, tooBig);
    });
    expect([insert.code, insert.codeName]).toEqual([10334, "BSONObjectTooLarge"]);
    expect(insert.message).toMatch(/^object to insert too large\. size in bytes: 16777\d+, max size: 16777216$/);
    const upsert = engineError(() => {
      txn.insert(NS, tooBig, "upsert");
    });
    expect([upsert.code, upsert.message]).toEqual([17420, "Document to upsert is larger than 16777216"]);
    txn.insert(NS, sized(2, 10));
    const update = engineError(() => {
      txn.replace(NS, 2, { ...sized(2, 10), t: "y".repeat(7 * MiB) }, "update");
    });
    expect([update.code, update.message]).toEqual([17419, "Resulting document after update is larger than 16777216"]);
    await txn.commit();
    expect(read(engine, NS).map((d): unknown[] => [d._id, (d.s as string).length, d.t])).toEqual([[2, 10 * MiB - 40, undefined]]);
    await engine.close();
  });

  it("accepts a document of exactly 16 MiB", async () => {
    const engine = await createEngine({});
    const overhead = 4 + (1 + 4 + 4) + (1 + 2 + 4 + 1) + 1; // document, _id int32, s string framing
    await insertAll(engine, NS, [{ _id: 1, s: "x".repeat(16 * MiB - overhead) }]);
    expect(read(engine, NS)).toHaveLength(1);
    await engine.close();
  });
});

describe("records larger than one journal record", () => {
  it("journals a 48 MiB transaction and a 16 MiB document, and replays them after a crash", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    const txn = engine.begin({ session: { lsid: { id: new UUID() }, txnNumber: 7n } });
    for (let i = 1; i <= 3; i++) txn.insert(NS, sized(i, 15, String(i)));
    txn.insert(NS, { _id: 4, small: true });
    await txn.commit();
    const overhead = 4 + (1 + 4 + 4) + (1 + 2 + 4 + 1) + 1;
    await insertAll(engine, NS, [{ _id: 5, s: "m".repeat(16 * MiB - overhead) }]);
    await insertAll(engine, NS, [{ _id: 6 }]);
    const events = engine.changes.since(0n, 100).map((e) => [e.seq, e.operationType, e.clusterTime, e.txn?.txnNumber]);
    const crashed = await dirs.crashCopy(dir, "crashed");

    // The transaction took several records (parts, then the final one), each below the BSON limit.
    const decoded = decodeRecords(await readFile(await dirs.journal(crashed)));
    const kinds = decoded.records.map((r): unknown => r.doc["t"]);
    const parts = kinds.filter((t) => t === "part").length;
    expect(parts).toBeGreaterThanOrEqual(3);
    expect(kinds).toEqual([...Array<string>(parts).fill("part"), "txn", "txn", "txn"]);
    expect(Number(decoded.records[parts]?.doc["p"])).toBe(parts);
    const sizes = decoded.records.map((r, i) => (decoded.records[i + 1]?.offset ?? decoded.validBytes) - r.offset);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16 * MiB + 64 * 1024 + 8);

    const { engine: reopened, logs } = await dirs.start(crashed);
    expect(logs.filter((l) => l.level !== "info")).toEqual([]);
    expect(
      read(reopened, NS).map((d): unknown[] => [d._id, typeof d.s === "string" ? d.s.length : d.s, (d.s as string | undefined)?.[0]]),
    ).toEqual([
      [1, 15 * MiB - 40, "1"],
      [2, 15 * MiB - 40, "2"],
      [3, 15 * MiB - 40, "3"],
      [4, undefined, undefined],
      [5, 16 * MiB - overhead, "m"],
      [6, undefined, undefined],
    ]);
    // Positions, cluster times and the transaction's session come back as they were.
    expect(reopened.changes.since(0n, 100).map((e) => [e.seq, e.operationType, e.clusterTime, e.txn?.txnNumber])).toEqual(events);
  });

  it("cuts off the parts of a transaction whose final record was never written", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    await insertAll(engine, NS, [{ _id: 0 }]);
    const txn = engine.begin();
    for (let i = 1; i <= 3; i++) txn.insert(NS, sized(i, 6));
    await txn.commit();
    const crashed = await dirs.crashCopy(dir, "crashed");
    const journal = await dirs.journal(crashed);
    const decoded = decodeRecords(await readFile(journal));
    const lastRecord = decoded.records.at(-1);
    expect(lastRecord?.doc["t"]).toBe("txn");
    const firstPart = decoded.records.find((r) => r.doc["t"] === "part");
    // The crash came after the parts reached the disk, before the final record did.
    await truncate(journal, lastRecord?.offset ?? 0);

    const { engine: reopened, logs } = await dirs.start(crashed);
    expect(read(reopened, NS).map(idOf)).toEqual([0]);
    const warnings = logs.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain("torn record");
    expect(warnings[0]?.message).toContain(`at byte ${firstPart?.offset}`);
    expect((await stat(journal)).size).toBe(firstPart?.offset);
  });
});

describe("damage that is not a torn tail", () => {
  async function threeCommits(): Promise<{ dir: string; journal: string; offsets: number[] }> {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    for (let i = 1; i <= 3; i++) await insertAll(engine, NS, [{ _id: i, v: `value-${i}` }]);
    const crashed = await dirs.crashCopy(dir, "crashed");
    const journal = await dirs.journal(crashed);
    const offsets = decodeRecords(await readFile(journal)).records.map((r) => r.offset);
    return { dir: crashed, journal, offsets };
  }

  it("refuses to start when a damaged record is followed by valid ones, naming the file and byte", async () => {
    const { dir, journal, offsets } = await threeCommits();
    const bytes = await readFile(journal);
    const damaged = offsets[1] ?? 0;
    bytes[damaged + 12] = (bytes[damaged + 12] ?? 0) ^ 0xff;
    await writeFile(journal, bytes);
    const failure = await engineRejectionOrError(createEngine({ dataDir: dir }));
    expect(failure.name).toBe("DataDirError");
    expect(failure.message).toContain(`journal ${journal} is damaged at byte ${damaged} (checksum mismatch in record at byte ${damaged})`);
    expect(failure.message).toContain(`valid records follow at byte ${offsets[2] ?? -1}`);
    // Nothing was cut: the file is as it was.
    expect((await readFile(journal)).equals(bytes)).toBe(true);
  });

  it("refuses to start when an older journal ends in damage and a later one holds records", async () => {
    const { dir, journal } = await threeCommits();
    const bytes = await readFile(journal);
    // A later generation with records, after an older one that ends in garbage.
    const later = join(dir, "journal-00000001.log");
    await writeFile(later, bytes);
    await appendFile(journal, Buffer.from([9, 9, 9]));
    const failure = await engineRejectionOrError(createEngine({ dataDir: dir }));
    expect(failure.name).toBe("DataDirError");
    expect(failure.message).toContain(`journal ${journal} ends in damage at byte ${bytes.length}`);
    expect(failure.message).toContain(`the later journal ${later} holds records`);
    expect((await stat(journal)).size).toBe(bytes.length + 3);
  });

  it("refuses to start from an unreadable snapshot rather than fall back", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir, { compactAfterBytes: 1 });
    await insertAll(engine, NS, [{ _id: 1 }]);
    await insertAll(engine, NS, [{ _id: 2 }]);
    await engine.close();
    const snapshot = (await readdir(dir)).find((n) => n.startsWith("snapshot-"));
    expect(snapshot).toBeDefined();
    const path = join(dir, snapshot ?? "");
    const bytes = await readFile(path);
    bytes[20] = (bytes[20] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    const failure = await engineRejectionOrError(createEngine({ dataDir: dir }));
    expect(failure.name).toBe("DataDirError");
    expect(failure.message).toMatch(new RegExp(`^snapshot ${path} is unreadable \\(checksum mismatch`));
  });

  it("refuses to start from a record that is intact but not one of ours", async () => {
    const { dir, journal } = await threeCommits();
    const { encodeRecord } = await import("../../engine/record-file.ts");
    await appendFile(
      journal,
      encodeRecord({ t: "mystery", n: Long.fromNumber(1), b: new Binary(Buffer.from([1])), at: new Timestamp({ t: 1, i: 1 }) }),
    );
    const failure = await engineRejectionOrError(createEngine({ dataDir: dir }));
    expect(failure.message).toContain("is intact but not a valid record (unknown record type mystery)");
  });
});

async function engineRejectionOrError(promise: Promise<Engine>): Promise<Error> {
  try {
    const engine = await promise;
    await engine.close();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected start-up to fail");
}

describe("a change that cannot be journaled", () => {
  it("is refused before anything is applied", async () => {
    const dir = dirs.path("live");
    const { engine } = await dirs.start(dir);
    // A collection option this large has no legal command behind it; it stands in for any unjournalable record.
    const error = await engine.createCollection("db.huge", { note: "x".repeat(17 * MiB) }).then(
      () => new Error("created"),
      (e: unknown) => e as Error,
    );
    expect(error.name).toBe("RecordTooLargeError");
    expect(engine.listCollections("db")).toEqual([]);
    expect(engine.changes.latestSeq()).toBe(0n);
    await insertAll(engine, NS, [{ _id: 1 }]);
    expect(read(engine, NS).map(idOf)).toEqual([1]);
  });
});
