/**
 * The on-disk framing shared by the journal and snapshot files: each record is
 * `uint32 length | uint32 crc32(payload) | payload (one BSON document)`, little
 * endian. A reader stops at the first record that is short, fails its checksum
 * or does not parse, and reports where; `findValidRecord` then tells a torn
 * tail (nothing valid after it: a crash in the middle of an append) from
 * damage in the middle of the file (valid records after it).
 */
import { calculateObjectSize, deserialize, serializeWithBufferAndIndex } from "bson";
import type { Document } from "bson";
import { crc32 } from "node:zlib";
import { maxBsonObjectSize } from "./types.ts";

const HEADER = 8;
/**
 * The largest record payload: a 16 MiB document plus its framing. The bson
 * serializer works in a 17 MiB buffer and silently truncates what does not
 * fit, so larger records are refused here and split by their producers.
 */
export const maxRecordBytes = maxBsonObjectSize + 64 * 1024;

export class RecordTooLargeError extends Error {
  override readonly name = "RecordTooLargeError";
}

/**
 * Frames one document; throws RecordTooLargeError above `maxRecordBytes`.
 * With `bound`, a known upper bound of its size (at most `maxRecordBytes`),
 * the document is serialized without measuring it first: measuring walks
 * every byte once more, a fifth of a large commit's CPU time.
 */
export function encodeRecord(doc: Document, bound?: number): Buffer {
  if (bound !== undefined && bound <= maxRecordBytes) {
    const out = Buffer.allocUnsafe(HEADER + bound);
    let end: number;
    try {
      end = serializeWithBufferAndIndex(doc, out, { index: HEADER });
    } catch {
      // The bound was too small after all: measure.
      return encodeRecord(doc);
    }
    const framed = out.subarray(0, end + 1);
    const size = framed.length - HEADER;
    framed.writeUInt32LE(size, 0);
    framed.writeUInt32LE(crc32(framed.subarray(HEADER)), 4);
    return framed;
  }
  const size = calculateObjectSize(doc);
  if (size > maxRecordBytes) throw new RecordTooLargeError(`a journal record of ${size} bytes exceeds the ${maxRecordBytes}-byte limit`);
  const out = Buffer.allocUnsafe(HEADER + size);
  const payload = out.subarray(HEADER);
  const end = serializeWithBufferAndIndex(doc, payload);
  // calculateObjectSize and the serializer must agree, or the record would not read back.
  if (end + 1 !== size) throw new RecordTooLargeError(`a journal record serialized to ${end + 1} bytes, expected ${size}`);
  out.writeUInt32LE(size, 0);
  out.writeUInt32LE(crc32(payload), 4);
  return out;
}

export interface DecodedRecord {
  readonly doc: Document;
  /** Byte offset of the record's header in the file. */
  readonly offset: number;
}

export interface DecodedRecords {
  readonly records: DecodedRecord[];
  /** Bytes covered by complete, valid records. */
  readonly validBytes: number;
  /** Why reading stopped before the end, if it did (at byte `validBytes`). */
  readonly problem?: string;
}

/** The record at `offset`, or why there is none. */
function readRecord(view: Buffer, offset: number): { doc: Document; size: number } | { problem: string } {
  if (view.length - offset < HEADER) return { problem: `incomplete record header at byte ${offset}` };
  const size = view.readUInt32LE(offset);
  const sum = view.readUInt32LE(offset + 4);
  if (size < 5 || size > view.length - offset - HEADER) {
    return { problem: `incomplete record at byte ${offset} (declared ${size} bytes, ${view.length - offset - HEADER} present)` };
  }
  const payload = view.subarray(offset + HEADER, offset + HEADER + size);
  if (crc32(payload) !== sum) return { problem: `checksum mismatch in record at byte ${offset}` };
  try {
    return { doc: deserialize(payload, { promoteValues: false, promoteBuffers: false }), size };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { problem: `unreadable record at byte ${offset}: ${reason}` };
  }
}

/** Decodes records with BSON type fidelity (`promoteValues: false`). */
export function decodeRecords(data: Uint8Array): DecodedRecords {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const records: DecodedRecord[] = [];
  let offset = 0;
  while (offset < view.length) {
    const read = readRecord(view, offset);
    if ("problem" in read) return { records, validBytes: offset, problem: read.problem };
    records.push({ doc: read.doc, offset });
    offset += HEADER + read.size;
  }
  return { records, validBytes: offset };
}

/**
 * The offset of the first valid record starting at or after `from`, or -1.
 * Used only after damage: it tries every offset, but a candidate must declare
 * a length that fits, start with a BSON size equal to it and match its
 * checksum, so false positives are vanishingly rare.
 */
export function findValidRecord(data: Uint8Array, from: number): number {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let offset = from; offset + HEADER + 5 <= view.length; offset++) {
    const size = view.readUInt32LE(offset);
    if (size < 5 || size > view.length - offset - HEADER) continue;
    if (view.readInt32LE(offset + HEADER) !== size) continue;
    if (!("problem" in readRecord(view, offset))) return offset;
  }
  return -1;
}
