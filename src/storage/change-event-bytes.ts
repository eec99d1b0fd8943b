/**
 * Reads what a read model needs of a change event from the event's BSON
 * bytes, without decoding the rest: its operation, collection, cluster time
 * and wall time, and where its `fullDocument` lies, from whose bytes one
 * string field (a membership's `member`) is read the same way.
 *
 * Why not the bson library: decoding a membership insert's event whole cost
 * 5-7 µs and a dozen objects (a Timestamp, Dates, ObjectIds, the nested
 * documents), and the driver's ChangeStream decoded each event twice (an
 * index of its fields, then the whole); following 100,000 adds, that was most
 * of what the read model added to the service's CPU and its garbage. Most
 * events are members added whom no one holds: they are looked at by
 * `member` and dropped. This reader visits the event's top-level fields once
 * (about 1 µs); the library still decodes every event it does not handle
 * (`undefined` below) and every membership the model keeps.
 */
import type { ClusterTime } from "../domain/consistency.ts";
import { clusterTime } from "../domain/consistency.ts";

/** The head of a change event, as read from its bytes. */
export interface ChangeEventHead {
  readonly operationType: string;
  /** `ns.coll` ("" when the event has none). */
  readonly coll: string;
  readonly time: ClusterTime | undefined;
  /** Epoch ms; undefined when the event has no `wallTime`. */
  readonly wallTime: number | undefined;
  /** Offset of the `fullDocument` document in the bytes; -1 when there is none (or it is null). */
  readonly fullDocumentAt: number;
}

const stringType = 0x02;
const documentType = 0x03;
const dateType = 0x09;
const timestampType = 0x11;

/** Each field's name as the bytes that spell it. */
const names = {
  operationType: encodeName("operationType"),
  ns: encodeName("ns"),
  coll: encodeName("coll"),
  clusterTime: encodeName("clusterTime"),
  wallTime: encodeName("wallTime"),
  fullDocument: encodeName("fullDocument"),
};

function encodeName(name: string): Uint8Array {
  return Buffer.from(name, "utf8");
}

/** Reads the head of the change event whose BSON document is `bytes`. */
export function readChangeEventHead(bytes: Uint8Array): ChangeEventHead {
  const buffer = asBuffer(bytes);
  let operationType = "";
  let coll = "";
  let time: ClusterTime | undefined;
  let wallTime: number | undefined;
  let fullDocumentAt = -1;
  const end = documentEnd(buffer, 0);
  for (let at = 4; at < end; ) {
    const type = buffer[at] ?? 0;
    const nameAt = at + 1;
    const valueAt = buffer.indexOf(0, nameAt) + 1;
    if (type === stringType && nameIs(buffer, nameAt, valueAt, names.operationType)) operationType = stringAt(buffer, valueAt);
    else if (type === documentType && nameIs(buffer, nameAt, valueAt, names.ns)) coll = stringField(buffer, valueAt, names.coll) ?? "";
    else if (type === timestampType && nameIs(buffer, nameAt, valueAt, names.clusterTime)) {
      time = clusterTime(buffer.readUInt32LE(valueAt + 4), buffer.readUInt32LE(valueAt));
    } else if (type === dateType && nameIs(buffer, nameAt, valueAt, names.wallTime)) {
      // An int64 of milliseconds, read as two halves (exact to 2^53, as a Date is): no BigInt per event.
      wallTime = buffer.readInt32LE(valueAt + 4) * 2 ** 32 + buffer.readUInt32LE(valueAt);
    } else if (type === documentType && nameIs(buffer, nameAt, valueAt, names.fullDocument)) fullDocumentAt = valueAt;
    at = valueEnd(buffer, type, valueAt);
  }
  return { operationType, coll, time, wallTime, fullDocumentAt };
}

/** The string field `name` of the embedded document at `at` in `bytes`; undefined when it has none (or not a string). */
export function stringFieldAt(bytes: Uint8Array, at: number, name: string): string | undefined {
  let encoded = encodedNames.get(name);
  if (encoded === undefined) encodedNames.set(name, (encoded = encodeName(name)));
  return stringField(asBuffer(bytes), at, encoded);
}

/** The names `stringFieldAt` was asked for, encoded once each (a reader asks for one or two). */
const encodedNames = new Map<string, Uint8Array>();

function stringField(buffer: Buffer, documentAt: number, name: Uint8Array): string | undefined {
  const end = documentEnd(buffer, documentAt);
  for (let at = documentAt + 4; at < end; ) {
    const type = buffer[at] ?? 0;
    const nameAt = at + 1;
    const valueAt = buffer.indexOf(0, nameAt) + 1;
    if (nameIs(buffer, nameAt, valueAt, name)) return type === stringType ? stringAt(buffer, valueAt) : undefined;
    at = valueEnd(buffer, type, valueAt);
  }
  return undefined;
}

/** The offset of the terminating zero of the document at `at`. */
function documentEnd(buffer: Buffer, at: number): number {
  return at + buffer.readInt32LE(at) - 1;
}

/** Whether the field name between `nameAt` and its terminator (before `valueAt`) is `name`. */
function nameIs(buffer: Buffer, nameAt: number, valueAt: number, name: Uint8Array): boolean {
  if (valueAt - 1 - nameAt !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (buffer[nameAt + i] !== name[i]) return false;
  return true;
}

function stringAt(buffer: Buffer, at: number): string {
  return buffer.toString("utf8", at + 4, at + 3 + buffer.readInt32LE(at));
}

/** Where the value of `type` at `at` ends (BSON spec, every type a server sends). */
function valueEnd(buffer: Buffer, type: number, at: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      return at + 8;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return at + 4 + buffer.readInt32LE(at);
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope
      return at + buffer.readInt32LE(at);
    case 0x05: // binary: length, subtype, bytes
      return at + 5 + buffer.readInt32LE(at);
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      return at;
    case 0x07: // ObjectId
      return at + 12;
    case 0x08: // boolean
      return at + 1;
    case 0x0b: // regular expression: two C strings
      return buffer.indexOf(0, buffer.indexOf(0, at) + 1) + 1;
    case 0x0c: // DBPointer: string, ObjectId
      return at + 4 + buffer.readInt32LE(at) + 12;
    case 0x10: // int32
      return at + 4;
    case 0x13: // decimal128
      return at + 16;
    default:
      throw new Error(`a change event with a field of unknown BSON type 0x${type.toString(16)}`);
  }
}

/** `bytes` as a Buffer over the same memory (the driver hands Buffers already). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
