/**
 * Engine records ⇄ BSON documents for the journal and snapshot files. Decoding
 * checks the shape, so a record that parses as BSON but is not one of ours is
 * reported like any other corruption.
 */
import { Long } from "bson";
import type { Document } from "bson";
import { numericValue } from "./compare.ts";
import type { EngineRecord, JournalOp } from "./engine.ts";
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

export function recordToDocument(record: EngineRecord): Document {
  switch (record.t) {
    case "txn":
      return {
        t: "txn",
        s: Long.fromBigInt(record.s),
        w: record.w,
        ops: record.ops.map((op) => (op.k === "create" ? { k: op.k, n: op.n } : { k: op.k, n: op.n, id: op.id, doc: op.doc })),
      };
    case "create":
      return { t: "create", n: record.n, o: record.o };
    case "collMod":
      return { t: "collMod", n: record.n, o: record.o };
    case "createIndexes":
      return { t: "createIndexes", n: record.n, specs: record.specs.map(specToDocument) };
    case "dropIndexes":
      return { t: "dropIndexes", n: record.n, names: record.names };
    case "drop":
      return { t: "drop", s: Long.fromBigInt(record.s), w: record.w, n: record.n };
    case "dropDatabase":
      return { t: "dropDatabase", s: Long.fromBigInt(record.s), w: record.w, db: record.db };
  }
}

function opFromDocument(value: unknown): JournalOp {
  if (typeof value !== "object" || value === null) fail("journal op is not a document");
  const op = value as Document;
  const k = str(op, "k");
  const n = str(op, "n");
  if (k === "create") return { k, n };
  if (k !== "insert" && k !== "update" && k !== "replace" && k !== "delete") fail(`unknown op kind ${k}`);
  if (!Object.hasOwn(op, "id")) fail("journal op without id");
  const doc: unknown = op.doc;
  if (k === "delete") return { k, n, id: op.id, doc: null };
  return { k, n, id: op.id, doc: docField({ doc }, "doc") };
}

export function recordFromDocument(doc: Document): EngineRecord {
  const t = str(doc, "t");
  switch (t) {
    case "txn":
      return { t, s: seq(doc, "s"), w: date(doc, "w"), ops: arrayField(doc, "ops").map(opFromDocument) };
    case "create":
    case "collMod":
      return { t, n: str(doc, "n"), o: docField(doc, "o") };
    case "createIndexes":
      return { t, n: str(doc, "n"), specs: arrayField(doc, "specs").map(specFromDocument) };
    case "dropIndexes": {
      const names: unknown = doc.names;
      if (names === "*") return { t, n: str(doc, "n"), names };
      return { t, n: str(doc, "n"), names: arrayField(doc, "names").map((x) => (typeof x === "string" ? x : fail("bad index name"))) };
    }
    case "drop":
      return { t, s: seq(doc, "s"), w: date(doc, "w"), n: str(doc, "n") };
    case "dropDatabase":
      return { t, s: seq(doc, "s"), w: date(doc, "w"), db: str(doc, "db") };
    default:
      return fail(`unknown record type ${t}`);
  }
}
