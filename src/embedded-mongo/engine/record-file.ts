/**
 * The on-disk framing shared by the journal and snapshot files: each record is
 * `uint32 length | uint32 crc32(payload) | payload (one BSON document)`, little
 * endian. A reader stops at the first record that is short, fails its checksum
 * or does not parse, so a torn or corrupt tail is detected and can be cut off.
 */
import { calculateObjectSize, deserialize, serializeWithBufferAndIndex } from "bson";
import type { Document } from "bson";
import { crc32 } from "node:zlib";

const HEADER = 8;

/** Frames one document (no size limit beyond memory: the buffer is sized exactly). */
export function encodeRecord(doc: Document): Buffer {
  const size = calculateObjectSize(doc);
  const out = Buffer.allocUnsafe(HEADER + size);
  const payload = out.subarray(HEADER);
  serializeWithBufferAndIndex(doc, payload);
  out.writeUInt32LE(size, 0);
  out.writeUInt32LE(crc32(payload), 4);
  return out;
}

export interface DecodedRecords {
  readonly records: Document[];
  /** Bytes covered by complete, valid records. */
  readonly validBytes: number;
  /** Why reading stopped before the end, if it did. */
  readonly problem?: string;
}

/** Decodes records with BSON type fidelity (`promoteValues: false`). */
export function decodeRecords(data: Uint8Array): DecodedRecords {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const records: Document[] = [];
  let offset = 0;
  while (offset < view.length) {
    if (view.length - offset < HEADER) {
      return { records, validBytes: offset, problem: `incomplete record header at byte ${offset}` };
    }
    const size = view.readUInt32LE(offset);
    const sum = view.readUInt32LE(offset + 4);
    if (size < 5 || size > view.length - offset - HEADER) {
      return { records, validBytes: offset, problem: `incomplete record at byte ${offset} (declared ${size} bytes)` };
    }
    const payload = view.subarray(offset + HEADER, offset + HEADER + size);
    if (crc32(payload) !== sum) {
      return { records, validBytes: offset, problem: `checksum mismatch in record at byte ${offset}` };
    }
    try {
      records.push(deserialize(payload, { promoteValues: false, promoteBuffers: false }));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { records, validBytes: offset, problem: `unreadable record at byte ${offset}: ${reason}` };
    }
    offset += HEADER + size;
  }
  return { records, validBytes: offset };
}
