import { closeSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createJournalWriter, openJournalFileSync } from "../../engine/journal-writer.ts";
import { decodeRecords, encodeRecord } from "../../engine/record-file.ts";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "engine-journal-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("journal writer", () => {
  it("shares one fdatasync among appends made together (group commit), in order", async () => {
    const path = join(dir, "j.log");
    const writer = createJournalWriter(openJournalFileSync(path, 0, true), () => undefined);
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.append(encodeRecord({ i }))));
    expect(writer.syncs).toBe(1);
    await writer.append(encodeRecord({ i: 50 }));
    expect(writer.syncs).toBe(2);
    await writer.close();
    const decoded = decodeRecords(await readFile(path));
    expect(decoded.problem).toBeUndefined();
    expect(decoded.records.map((r) => Number(r.doc.i))).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });

  it("keeps order across a switch to a new file", async () => {
    const first = join(dir, "a.log");
    const second = join(dir, "b.log");
    const writer = createJournalWriter(openJournalFileSync(first, 0, true), () => undefined);
    const a = writer.append(encodeRecord({ f: "a" }));
    writer.switchTo(openJournalFileSync(second, 0, true));
    const b = writer.append(encodeRecord({ f: "b" }));
    await Promise.all([a, b]);
    await writer.close();
    expect(decodeRecords(await readFile(first)).records.map((r): unknown => r.doc.f)).toEqual(["a"]);
    expect(decodeRecords(await readFile(second)).records.map((r): unknown => r.doc.f)).toEqual(["b"]);
  });

  it("rejects later appends after a write failure and reports it once", async () => {
    const errors: unknown[] = [];
    const file = openJournalFileSync(join(dir, "c.log"), 0, false);
    const writer = createJournalWriter({ ...file, fd: 987_654 }, (error) => errors.push(error));
    await expect(writer.append(encodeRecord({ x: 1 }))).rejects.toThrow(/EBADF/);
    await expect(writer.append(encodeRecord({ x: 2 }))).rejects.toThrow(/EBADF/);
    expect(errors).toHaveLength(1);
    closeSync(file.fd);
  });
});
