/**
 * The data directory: `snapshot-<gen>.bson` (the whole state at one change-log
 * position) and `journal-<gen>.log` (every commit and DDL after it, in order).
 * Start-up loads the newest snapshot and replays the journals from its
 * generation on, cutting a torn or corrupt tail off the last one. When the
 * journal grows past a threshold the engine writes a new snapshot (tmp file,
 * fsync, rename, fsync directory) and starts a new journal, so restart time
 * stays bounded.
 */
import { Timestamp } from "bson";
import type { Document } from "bson";
import { Long } from "bson";
import { mkdir, open, readdir, readFile, rename, rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { EngineCore, EngineRecord, RecordSink, SnapshotContent } from "./engine.ts";
import { createJournalWriter, fsyncDirectory, openJournalFileSync } from "./journal-writer.ts";
import type { JournalWriter } from "./journal-writer.ts";
import { decodeRecords, encodeRecord } from "./record-file.ts";
import { recordFromDocument, recordToDocument, specFromDocument, specToDocument } from "./record-codec.ts";
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

/** Parses a snapshot file; null (with the reason) when it is incomplete or corrupt. */
function parseSnapshot(data: Uint8Array): { content: SnapshotContent } | { problem: string } {
  const decoded = decodeRecords(data);
  if (decoded.problem !== undefined) return { problem: decoded.problem };
  const [header, ...rest] = decoded.records;
  const last = rest[rest.length - 1];
  if (header?.t !== "snapshot" || last?.t !== "end") return { problem: "missing header or end record" };
  const byNs = new Map<string, { ns: string; options: Document; indexes: ReturnType<typeof specFromDocument>[]; docs: StoredDoc[] }>();
  for (const rec of rest.slice(0, -1)) {
    if (rec.t === "collection") {
      const ns = String(rec.n);
      byNs.set(ns, {
        ns,
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
    await write({ t: "snapshot", v: 1, s: Long.fromBigInt(content.seq), ct: new Timestamp({ t: content.clusterTime.t, i: content.clusterTime.i }) });
    for (const coll of content.collections) {
      await write({ t: "collection", n: coll.ns, o: coll.options, indexes: coll.indexes.map(specToDocument) });
      for (let i = 0; i < coll.docs.length; i += SNAPSHOT_BATCH) {
        await write({ t: "docs", n: coll.ns, d: coll.docs.slice(i, i + SNAPSHOT_BATCH) });
      }
    }
    await write({ t: "end" });
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, snapshotName(gen)));
  await fsyncDirectory(dir);
}

export async function openDataDir(core: EngineCore, dir: string, options: EngineOptions): Promise<void> {
  const log: Log = options.log ?? (() => undefined);
  const compactAfter = options.compactAfterBytes ?? DEFAULT_COMPACT_BYTES;
  await mkdir(dir, { recursive: true });
  let names = await readdir(dir);
  for (const name of names) if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
  names = await readdir(dir);

  // The newest readable snapshot decides where replay starts.
  let baseGen = 0;
  for (const gen of generations(names, /^snapshot-(\d+)\.bson$/).reverse()) {
    const parsed = parseSnapshot(await readFile(join(dir, snapshotName(gen))));
    if ("content" in parsed) {
      core.restore(parsed.content);
      baseGen = gen;
      break;
    }
    log("error", `embedded-mongo: snapshot ${snapshotName(gen)} is unreadable (${parsed.problem}); falling back to an older one`);
  }

  const journals = generations(names, /^journal-(\d+)\.log$/).filter((g) => g >= baseGen);
  let currentGen = baseGen;
  let currentSize = 0;
  for (let i = 0; i < journals.length; i++) {
    const gen = journals[i] as number;
    const path = join(dir, journalName(gen));
    const data = await readFile(path);
    const decoded = decodeRecords(data);
    let applied = 0;
    let problem = decoded.problem;
    for (const doc of decoded.records) {
      let record: EngineRecord;
      try {
        record = recordFromDocument(doc);
      } catch (error) {
        problem = `malformed record ${applied + 1}: ${error instanceof Error ? error.message : String(error)}`;
        break;
      }
      core.replay(record);
      applied++;
    }
    currentGen = gen;
    if (problem === undefined) {
      currentSize = data.length;
      continue;
    }
    // Cut at the last complete record; later journals were never acknowledged
    // (the writer acknowledges nothing in a newer file before the older is durable).
    const keep = applied === decoded.records.length ? decoded.validBytes : offsetOfRecord(data, applied);
    await truncate(path, keep);
    const dropped = journals.slice(i + 1);
    for (const later of dropped) await rm(join(dir, journalName(later)), { force: true });
    log("warn", `embedded-mongo: journal ${journalName(gen)} has a torn or corrupt tail (${problem}); cut off ${data.length - keep} bytes at byte ${keep}${dropped.length > 0 ? ` and discarded ${dropped.length} later journal file(s)` : ""}; ${applied} records replayed`);
    currentSize = keep;
    break;
  }

  // Older generations are superseded by the snapshot we loaded.
  for (const name of names) {
    const m = /^(?:journal|snapshot)-(\d+)\./.exec(name);
    if (m?.[1] !== undefined && Number(m[1]) < baseGen) await rm(join(dir, name), { force: true });
  }

  const first = openJournalFileSync(join(dir, journalName(currentGen)), currentSize, false);
  await fsyncDirectory(dir);
  const writer = createJournalWriter(first, (error) => {
    log("error", `embedded-mongo: journal write failed; further commits are rejected: ${error instanceof Error ? error.message : String(error)}`);
  });
  core.attach(createSink(dir, currentGen, writer, compactAfter, log));
}

/** Byte offset where record number `index` starts. */
function offsetOfRecord(data: Uint8Array, index: number): number {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  for (let i = 0; i < index; i++) offset += 8 + view.readUInt32LE(offset);
  return offset;
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
      log("error", `embedded-mongo: compaction failed (the journal stays valid): ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  return {
    append(record) {
      return writer.append(encodeRecord(recordToDocument(record)));
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
