/**
 * The data directory: `snapshot-<gen>.bson` (the whole state at one change-log
 * position) and `journal-<gen>.log` (every commit and DDL after it, in order).
 * Start-up loads the newest snapshot and replays the journals from its
 * generation on. Only a torn last record (a crash in the middle of an append,
 * never acknowledged) is cut off, and reported; damage anywhere else stops the
 * start with an error naming the file and byte, because cutting there would
 * silently drop acknowledged writes. When the journal grows past a threshold
 * the engine writes a new snapshot (tmp file, fsync, rename, fsync directory)
 * and starts a new journal, so restart time stays bounded.
 */
import { Binary, calculateObjectSize, Long, Timestamp, UUID } from "bson";
import type { Document } from "bson";
import { mkdir, open, readdir, readFile, rename, rm, truncate } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { EngineCore, JournalOp, RecordSink, SnapshotContent } from "./engine.ts";
import { createJournalWriter, fsyncDirectory, openJournalFileSync } from "./journal-writer.ts";
import type { JournalWriter } from "./journal-writer.ts";
import { decodeRecords, encodeRecord, findValidRecord } from "./record-file.ts";
import { partBytes, recordFromDocument, recordToDocuments, specFromDocument, specToDocument } from "./record-codec.ts";
import type { EngineOptions, StoredDoc } from "./types.ts";

const DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024;
/** Documents per snapshot record (keeps records small and the writer responsive). */
const SNAPSHOT_BATCH = 1000;

type Log = NonNullable<EngineOptions["log"]>;

const journalName = (gen: number): string => `journal-${String(gen).padStart(8, "0")}.log`;
const snapshotName = (gen: number): string => `snapshot-${String(gen).padStart(8, "0")}.bson`;

function generations(names: readonly string[], pattern: RegExp): number[] {
  const out: number[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (m?.[1] !== undefined) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** A data directory this store must not start from: starting would drop or misread acknowledged writes. */
export class DataDirError extends Error {
  override readonly name = "DataDirError";
}

/** Parses a snapshot file; the reason when it is incomplete or corrupt. */
function parseSnapshot(data: Uint8Array): { content: SnapshotContent } | { problem: string } {
  const decoded = decodeRecords(data);
  if (decoded.problem !== undefined) return { problem: decoded.problem };
  const docs = decoded.records.map((r) => r.doc);
  const [header, ...rest] = docs;
  const last = rest[rest.length - 1];
  if (header?.t !== "snapshot" || last?.t !== "end") return { problem: "missing header or end record" };
  const byNs = new Map<
    string,
    { ns: string; uuid: UUID; options: Document; indexes: ReturnType<typeof specFromDocument>[]; docs: StoredDoc[] }
  >();
  for (const rec of rest.slice(0, -1)) {
    if (rec.t === "collection") {
      const ns = String(rec.n);
      const u: unknown = rec.u;
      byNs.set(ns, {
        ns,
        // Snapshots from before collections had UUIDs get one now.
        uuid: u instanceof Binary ? new UUID(u.buffer.subarray(0, u.position)) : new UUID(),
        options: rec.o as Document,
        indexes: (rec.indexes as unknown[]).map(specFromDocument),
        docs: [],
      });
    } else if (rec.t === "docs") {
      const coll = byNs.get(String(rec.n));
      if (coll === undefined) return { problem: `documents for unknown collection ${String(rec.n)}` };
      for (const d of rec.d as Document[]) coll.docs.push(d);
    } else {
      return { problem: `unknown snapshot record ${String(rec.t)}` };
    }
  }
  const seq = header.s as { toBigInt(): bigint };
  const ct = header.ct as Timestamp;
  return { content: { seq: seq.toBigInt(), clusterTime: { t: ct.t, i: ct.i }, collections: [...byNs.values()] } };
}

/** Writes a snapshot atomically: tmp file, fsync, rename, fsync the directory. */
async function writeSnapshot(dir: string, gen: number, content: SnapshotContent): Promise<void> {
  const tmp = join(dir, `${snapshotName(gen)}.tmp`);
  const handle = await open(tmp, "w");
  try {
    const write = async (doc: Document): Promise<void> => {
      const bytes = encodeRecord(doc);
      let offset = 0;
      while (offset < bytes.length) offset += (await handle.write(bytes, offset)).bytesWritten;
    };
    await write({
      t: "snapshot",
      v: 2,
      s: Long.fromBigInt(content.seq),
      ct: new Timestamp({ t: content.clusterTime.t, i: content.clusterTime.i }),
    });
    for (const coll of content.collections) {
      await write({ t: "collection", n: coll.ns, u: coll.uuid, o: coll.options, indexes: coll.indexes.map(specToDocument) });
      // Batches bounded by count and bytes, so every record stays far below the BSON limit.
      let batch: StoredDoc[] = [];
      let bytes = 0;
      for (const doc of coll.docs) {
        const size = calculateObjectSize(doc);
        if (batch.length > 0 && (batch.length >= SNAPSHOT_BATCH || bytes + size > partBytes)) {
          await write({ t: "docs", n: coll.ns, d: batch });
          batch = [];
          bytes = 0;
        }
        batch.push(doc);
        bytes += size;
      }
      if (batch.length > 0) await write({ t: "docs", n: coll.ns, d: batch });
    }
    await write({ t: "end" });
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, snapshotName(gen)));
  await fsyncDirectory(dir);
}

/** Whether `data` holds any valid record at all (a later journal after damage). */
function holdsRecords(data: Uint8Array): boolean {
  return findValidRecord(data, 0) >= 0;
}

interface ReplayOutcome {
  /** Where the file must be cut (a torn last record, or the parts of a transaction whose final record is missing). */
  readonly cutAt: number | undefined;
  readonly reason: string;
  readonly applied: number;
}

/**
 * Replays one journal file. Throws DataDirError when a record that was
 * completely written cannot be used, since it may have been acknowledged.
 */
function replayJournal(core: EngineCore, path: string, data: Uint8Array): ReplayOutcome {
  const decoded = decodeRecords(data);
  let pending: { ops: JournalOp[]; parts: number; offset: number } | null = null;
  let applied = 0;
  for (const { doc, offset } of decoded.records) {
    let entry;
    try {
      entry = recordFromDocument(doc);
    } catch (error) {
      throw new DataDirError(
        `journal ${path}: the record at byte ${offset} is intact but not a valid record (${describe(error)}); refusing to start`,
      );
    }
    if (entry.kind === "part") {
      pending ??= { ops: [], parts: 0, offset };
      pending.ops.push(...entry.ops);
      pending.parts++;
      continue;
    }
    const parts = pending?.parts ?? 0;
    if (entry.parts !== parts) {
      throw new DataDirError(
        `journal ${path}: the record at byte ${offset} completes a transaction of ${entry.parts} parts, but ${parts} precede it; refusing to start`,
      );
    }
    const record =
      pending === null || entry.record.t !== "txn" ? entry.record : { ...entry.record, ops: [...pending.ops, ...entry.record.ops] };
    try {
      core.replay(record);
    } catch (error) {
      throw new DataDirError(
        `journal ${path}: the record at byte ${pending?.offset ?? offset} could not be replayed (${describe(error)}); refusing to start`,
      );
    }
    pending = null;
    applied++;
  }
  if (decoded.problem !== undefined) {
    const next = findValidRecord(data, decoded.validBytes + 1);
    if (next >= 0) {
      throw new DataDirError(
        `journal ${path} is damaged at byte ${decoded.validBytes} (${decoded.problem}), but valid records follow at byte ${next}; refusing to start rather than drop them. Restore the file from a backup, or move it away to start without its records.`,
      );
    }
    return { cutAt: pending?.offset ?? decoded.validBytes, reason: decoded.problem, applied };
  }
  if (pending !== null)
    return { cutAt: pending.offset, reason: `a transaction's ${pending.parts} leading part record(s) without its final record`, applied };
  return { cutAt: undefined, reason: "", applied };
}

const storeIdName = "store-id";

/** The data directory's identity, created (durably) on first use. */
async function storeIdOf(dir: string): Promise<string> {
  const path = join(dir, storeIdName);
  try {
    const id = (await readFile(path, "utf8")).trim();
    if (/^[0-9a-f]{16}$/.test(id)) return id;
    throw new DataDirError(`${path} does not hold a store id (16 hex digits); refusing to start`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const id = randomBytes(8).toString("hex");
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(`${id}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDirectory(dir);
  return id;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function openDataDir(core: EngineCore, dir: string, options: EngineOptions): Promise<void> {
  const log: Log = options.log ?? (() => undefined);
  const compactAfter = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES;
  await mkdir(dir, { recursive: true });
  core.adoptStoreId(await storeIdOf(dir));
  let names = await readdir(dir);
  for (const name of names) if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
  names = await readdir(dir);

  // The newest snapshot decides where replay starts. Snapshots are written
  // atomically (tmp, fsync, rename), so an unreadable one is damage, and the
  // journals before it are gone: starting without it would lose data.
  const snapshotGen = generations(names, /^snapshot-(\d+)\.bson$/).pop();
  const baseGen = snapshotGen ?? 0;
  if (snapshotGen !== undefined) {
    const path = join(dir, snapshotName(snapshotGen));
    const parsed = parseSnapshot(await readFile(path));
    if ("problem" in parsed)
      throw new DataDirError(`snapshot ${path} is unreadable (${parsed.problem}); refusing to start. Restore it from a backup.`);
    core.restore(parsed.content);
  }

  const journals = generations(names, /^journal-(\d+)\.log$/).filter((g) => g >= baseGen);
  let currentGen = baseGen;
  let currentSize = 0;
  for (let i = 0; i < journals.length; i++) {
    const gen = journals[i] as number;
    const path = join(dir, journalName(gen));
    const data = await readFile(path);
    const outcome = replayJournal(core, path, data);
    currentGen = gen;
    if (outcome.cutAt === undefined) {
      currentSize = data.length;
      continue;
    }
    // Only the newest journal can end in a torn append (nothing is written to a
    // newer file before the older one is durable), so a later file with records means damage.
    const later = journals.slice(i + 1);
    for (const laterGen of later) {
      const laterPath = join(dir, journalName(laterGen));
      if (holdsRecords(await readFile(laterPath))) {
        throw new DataDirError(
          `journal ${path} ends in damage at byte ${outcome.cutAt} (${outcome.reason}), but the later journal ${laterPath} holds records; refusing to start rather than drop them.`,
        );
      }
    }
    await truncate(path, outcome.cutAt);
    for (const laterGen of later) await rm(join(dir, journalName(laterGen)), { force: true });
    log(
      "warn",
      `embedded-mongo: journal ${journalName(gen)} ends in a torn record (${outcome.reason}); cut off ${data.length - outcome.cutAt} bytes at byte ${outcome.cutAt}, which were never acknowledged${later.length > 0 ? `, and removed ${later.length} empty later journal file(s)` : ""}; ${outcome.applied} records replayed`,
    );
    currentSize = outcome.cutAt;
    break;
  }
  core.replayed();

  // Older generations are superseded by the snapshot we loaded.
  for (const name of names) {
    const m = /^(?:journal|snapshot)-(\d+)\./.exec(name);
    if (m?.[1] !== undefined && Number(m[1]) < baseGen) await rm(join(dir, name), { force: true });
  }

  const first = openJournalFileSync(join(dir, journalName(currentGen)), currentSize, false);
  await fsyncDirectory(dir);
  const writer = createJournalWriter(first, (error) => {
    log("error", `embedded-mongo: journal write failed; further commits are rejected: ${describe(error)}`);
  });
  core.attach(createSink(dir, currentGen, writer, compactAfter, log));
}

function createSink(dir: string, startGen: number, writer: JournalWriter, compactAfter: number, log: Log): RecordSink {
  let gen = startGen;
  let compaction: Promise<void> | null = null;

  async function compact(newGen: number, content: SnapshotContent): Promise<void> {
    try {
      await writeSnapshot(dir, newGen, content);
      // The snapshot covers everything in older files; wait until they are closed, then remove them.
      await writer.drain();
      const names = await readdir(dir);
      for (const name of names) {
        const m = /^(?:journal|snapshot)-(\d+)\./.exec(name);
        if (m?.[1] !== undefined && Number(m[1]) < newGen) await rm(join(dir, name), { force: true });
      }
      log("info", `embedded-mongo: compacted the journal into ${snapshotName(newGen)}`);
    } catch (error) {
      log(
        "error",
        `embedded-mongo: compaction failed (the journal stays valid): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  return {
    encode(record) {
      const docs = recordToDocuments(record);
      const encoded = docs.map((d) => encodeRecord(d.doc, d.bound));
      return encoded.length === 1 ? (encoded[0] as Buffer) : Buffer.concat(encoded);
    },
    append(bytes) {
      return writer.append(bytes);
    },
    get failed() {
      return writer.failure !== null;
    },
    afterAppend(snapshot) {
      if (compaction !== null || writer.current.size < compactAfter) return;
      // Synchronous: the snapshot is exactly the state after the record just appended,
      // and the next record goes to the new journal.
      const content = snapshot();
      gen++;
      writer.switchTo(openJournalFileSync(join(dir, journalName(gen)), 0, true));
      compaction = compact(gen, content).finally(() => {
        compaction = null;
      });
    },
    async close() {
      if (compaction !== null) await compaction;
      await writer.close();
    },
  };
}
