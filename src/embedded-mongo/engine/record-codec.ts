/**
 * Engine records ⇄ BSON documents for the journal and snapshot files. Decoding
 * checks the shape, so a record that parses as BSON but is not one of ours is
 * reported like any other corruption.
 */
import { Binary, calculateObjectSize, Long, Timestamp, UUID } from "bson";
import type { Document } from "bson";
import { numericValue } from "./compare.ts";
import type { EngineRecord, JournalOp, RecordStamp } from "./engine.ts";
import type { IndexSpec } from "./types.ts";

export class RecordFormatError extends Error {
  override readonly name = "RecordFormatError";
}

function fail(message: string): never {
  throw new RecordFormatError(message);
}

function str(doc: Document, field: string): string {
  const v: unknown = doc[field];
  return typeof v === "string" ? v : fail(`field ${field} is not a string`);
}

function seq(doc: Document, field: string): bigint {
  const v: unknown = doc[field];
  if (v instanceof Long) return v.toBigInt();
  return fail(`field ${field} is not an int64`);
}

function date(doc: Document, field: string): Date {
  const v: unknown = doc[field];
  return v instanceof Date ? v : fail(`field ${field} is not a date`);
}

function timestamp(doc: Document, field: string): Timestamp {
  const v: unknown = doc[field];
  return v instanceof Timestamp ? v : fail(`field ${field} is not a timestamp`);
}

function uuid(doc: Document, field: string): UUID {
  const v: unknown = doc[field];
  if (v instanceof Binary && v.sub_type === Binary.SUBTYPE_UUID) return new UUID(v.buffer.subarray(0, v.position));
  return fail(`field ${field} is not a UUID`);
}

function docField(doc: Document, field: string): Document {
  const v: unknown = doc[field];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v : fail(`field ${field} is not a document`);
}

function arrayField(doc: Document, field: string): unknown[] {
  const v: unknown = doc[field];
  return Array.isArray(v) ? (v as unknown[]) : fail(`field ${field} is not an array`);
}

export function specToDocument(spec: IndexSpec): Document {
  const out: Document = { name: spec.name, key: spec.key.map(([f, d]) => [f, d]) };
  if (spec.unique !== undefined) out.unique = spec.unique;
  if (spec.sparse !== undefined) out.sparse = spec.sparse;
  if (spec.partialFilterExpression !== undefined) out.partialFilterExpression = spec.partialFilterExpression;
  if (spec.collation !== undefined) out.collation = spec.collation;
  return out;
}

export function specFromDocument(value: unknown): IndexSpec {
  if (typeof value !== "object" || value === null) fail("index spec is not a document");
  const doc = value as Document;
  const key = arrayField(doc, "key").map((pair): readonly [string, 1 | -1] => {
    if (!Array.isArray(pair) || typeof pair[0] !== "string") fail("bad index key pair");
    const direction = Number(numericValue(pair[1]));
    if (direction !== 1 && direction !== -1) fail("bad index direction");
    return [pair[0], direction];
  });
  const spec: { -readonly [K in keyof IndexSpec]: IndexSpec[K] } = { name: str(doc, "name"), key };
  if (typeof doc.unique === "boolean") spec.unique = doc.unique;
  if (typeof doc.sparse === "boolean") spec.sparse = doc.sparse;
  if (doc.partialFilterExpression !== undefined) spec.partialFilterExpression = docField(doc, "partialFilterExpression");
  if (doc.collation !== undefined) spec.collation = docField(doc, "collation");
  return spec;
}

/** Payload budget of one journal record holding transaction ops; one larger op gets a record to itself. */
export const partBytes = 8 * 1024 * 1024;
/** Per-op framing beyond the document and namespace (kind, field names, array index): an upper bound. */
const opOverhead = 64;
/** A transaction record's own fields (type, stamp, part count, session): an upper bound. */
const recordOverhead = 1024;

function stampToDocument(record: EngineRecord): Document {
  const out: Document = {};
  if (record.s !== undefined) out.s = Long.fromBigInt(record.s);
  if (record.w !== undefined) out.w = record.w;
  if (record.ct !== undefined) out.ct = record.ct;
  return out;
}

function opToDocument(op: JournalOp): Document {
  switch (op.k) {
    case "create": {
      const out: Document = { k: op.k, n: op.n };
      if (op.o !== undefined) out.o = op.o;
      if (op.u !== undefined) out.u = op.u;
      return out;
    }
    case "createIndexes":
      return { k: op.k, n: op.n, specs: op.specs.map(specToDocument) };
    case "delete":
      return { k: op.k, n: op.n, id: op.id };
    default:
      // The `_id` is the document's own (it would double the size of a large-_id document).
      return { k: op.k, n: op.n, doc: op.doc };
  }
}

/** An upper bound of the op's share of a record, from the size measured when it was written. */
function opBytes(op: JournalOp): number {
  // A namespace character takes at most three bytes of UTF-8.
  const framing = opOverhead + 3 * op.n.length;
  switch (op.k) {
    case "create":
      return framing + (op.o === undefined ? 0 : calculateObjectSize(op.o));
    case "createIndexes":
      return framing + calculateObjectSize({ specs: op.specs.map(specToDocument) });
    default:
      return framing + (op.size ?? calculateObjectSize(op.doc ?? { id: op.id }));
  }
}

/** A journal document, with an upper bound of its size when one is known without measuring it. */
export interface RecordDocument {
  readonly doc: Document;
  readonly bound: number | undefined;
}

/**
 * The journal documents of a record. A transaction whose ops exceed
 * `partBytes` is split into `part` records followed by the `txn` record, which
 * says how many parts precede it; replay applies nothing until that last
 * record is read, so a crash in the middle leaves only an unacknowledged,
 * incomplete tail. Every document stays below the 16 MiB BSON limit (a single
 * op is at most a 16 MiB document plus its framing).
 */
export function recordToDocuments(record: EngineRecord): RecordDocument[] {
  switch (record.t) {
    case "txn": {
      const chunks: { ops: JournalOp[]; bytes: number }[] = [{ ops: [], bytes: 0 }];
      for (const op of record.ops) {
        const size = opBytes(op);
        let chunk = chunks[chunks.length - 1] as { ops: JournalOp[]; bytes: number };
        if (chunk.bytes + size > partBytes && chunk.ops.length > 0) {
          chunk = { ops: [], bytes: 0 };
          chunks.push(chunk);
        }
        chunk.ops.push(op);
        chunk.bytes += size;
      }
      const last = chunks.pop() as { ops: JournalOp[]; bytes: number };
      const out: RecordDocument[] = chunks.map((chunk) => ({
        doc: { t: "part", ops: chunk.ops.map(opToDocument) },
        bound: chunk.bytes + recordOverhead,
      }));
      const final: Document = { t: "txn", ...stampToDocument(record), ops: last.ops.map(opToDocument) };
      if (chunks.length > 0) final.p = chunks.length;
      let sessionBytes = 0;
      if (record.session !== undefined) {
        final.l = record.session.lsid;
        final.x = Long.fromBigInt(record.session.txnNumber);
        sessionBytes = calculateObjectSize({ l: record.session.lsid });
      }
      out.push({ doc: final, bound: last.bytes + recordOverhead + sessionBytes });
      return out;
    }
    default:
      // DDL records are small, but may carry user-given options: measured when encoded.
      return [{ doc: ddlToDocument(record), bound: undefined }];
  }
}

function ddlToDocument(record: Exclude<EngineRecord, { t: "txn" }>): Document {
  switch (record.t) {
    case "create": {
      const out: Document = { t: "create", ...stampToDocument(record), n: record.n, o: record.o };
      if (record.u !== undefined) out.u = record.u;
      return out;
    }
    case "collMod":
      return { t: "collMod", ...stampToDocument(record), n: record.n, o: record.o };
    case "createIndexes": {
      const out: Document = { t: "createIndexes", ...stampToDocument(record), n: record.n, specs: record.specs.map(specToDocument) };
      if (record.u !== undefined) out.u = record.u;
      return out;
    }
    case "dropIndexes":
      return { t: "dropIndexes", ...stampToDocument(record), n: record.n, names: record.names };
    case "drop":
      return { t: "drop", ...stampToDocument(record), n: record.n };
    case "rename":
      return { t: "rename", ...stampToDocument(record), n: record.n, to: record.to, dropTarget: record.dropTarget };
    case "dropDatabase":
      return { t: "dropDatabase", ...stampToDocument(record), db: record.db };
  }
}

function opFromDocument(value: unknown): JournalOp {
  if (typeof value !== "object" || value === null) fail("journal op is not a document");
  const op = value as Document;
  const k = str(op, "k");
  const n = str(op, "n");
  if (k === "create") {
    const out: { k: "create"; n: string; o?: Document; u?: UUID } = { k, n };
    if (op.o !== undefined) out.o = docField(op, "o");
    if (op.u !== undefined) out.u = uuid(op, "u");
    return out;
  }
  if (k === "createIndexes") return { k, n, specs: arrayField(op, "specs").map(specFromDocument) };
  if (k !== "insert" && k !== "update" && k !== "replace" && k !== "delete") fail(`unknown op kind ${k}`);
  if (k === "delete") {
    if (!Object.hasOwn(op, "id")) fail("delete op without id");
    return { k, n, id: op.id, doc: null };
  }
  const doc = docField(op, "doc");
  // Records from before the `_id` was left to the document carry it as `id`.
  const id: unknown = Object.hasOwn(op, "id") ? op.id : doc._id;
  if (id === undefined) fail("journal op without _id");
  return { k, n, id, doc };
}

/** One journal document: a part of a transaction, or a whole record (`parts` parts precede a transaction's). */
export type DecodedRecord =
  | { readonly kind: "part"; readonly ops: JournalOp[] }
  | { readonly kind: "record"; readonly record: EngineRecord; readonly parts: number };

function stampFromDocument(doc: Document): Partial<RecordStamp> {
  const out: { -readonly [K in keyof RecordStamp]?: RecordStamp[K] } = {};
  if (doc.s !== undefined) out.s = seq(doc, "s");
  if (doc.w !== undefined) out.w = date(doc, "w");
  if (doc.ct !== undefined) out.ct = timestamp(doc, "ct");
  return out;
}

export function recordFromDocument(doc: Document): DecodedRecord {
  const t = str(doc, "t");
  const stamp = stampFromDocument(doc);
  const whole = (record: EngineRecord): DecodedRecord => ({ kind: "record", record, parts: 0 });
  switch (t) {
    case "part":
      return { kind: "part", ops: arrayField(doc, "ops").map(opFromDocument) };
    case "txn": {
      const ops = arrayField(doc, "ops").map(opFromDocument);
      const record: EngineRecord =
        doc.l === undefined ? { t, ...stamp, ops } : { t, ...stamp, ops, session: { lsid: docField(doc, "l"), txnNumber: seq(doc, "x") } };
      const parts = doc.p === undefined ? 0 : Number(numericValue(doc.p));
      if (!Number.isInteger(parts) || parts < 0) fail("bad part count");
      return { kind: "record", record, parts };
    }
    case "create":
      return whole(
        doc.u === undefined
          ? { t, ...stamp, n: str(doc, "n"), o: docField(doc, "o") }
          : { t, ...stamp, n: str(doc, "n"), o: docField(doc, "o"), u: uuid(doc, "u") },
      );
    case "collMod":
      return whole({ t, ...stamp, n: str(doc, "n"), o: docField(doc, "o") });
    case "createIndexes": {
      const specs = arrayField(doc, "specs").map(specFromDocument);
      return whole(
        doc.u === undefined ? { t, ...stamp, n: str(doc, "n"), specs } : { t, ...stamp, n: str(doc, "n"), specs, u: uuid(doc, "u") },
      );
    }
    case "dropIndexes": {
      const names: unknown = doc.names;
      if (names === "*") return whole({ t, ...stamp, n: str(doc, "n"), names });
      return whole({
        t,
        ...stamp,
        n: str(doc, "n"),
        names: arrayField(doc, "names").map((x) => (typeof x === "string" ? x : fail("bad index name"))),
      });
    }
    case "drop":
      return whole({ t, ...stamp, n: str(doc, "n") });
    case "rename":
      return whole({ t, ...stamp, n: str(doc, "n"), to: str(doc, "to"), dropTarget: doc.dropTarget === true });
    case "dropDatabase":
      return whole({ t, ...stamp, db: str(doc, "db") });
    default:
      return fail(`unknown record type ${t}`);
  }
}
