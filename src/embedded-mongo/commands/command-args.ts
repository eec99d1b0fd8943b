/**
 * Typed access to command fields, with mongod's TypeMismatch wording
 * ("BSON field 'find.limit' is the wrong type 'string', expected type 'int'").
 * Numbers arrive as Int32/Double/Long wrappers (promoteValues: false).
 */
import { Long, type Document } from "bson";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject } from "../document-paths.ts";
import { bsonTypeName } from "../describe-value.ts";
import { commandError, type CommandError } from "../errors.ts";

function wrongType(command: string, field: string, value: unknown, expected: string): never {
  throw commandError(
    "TypeMismatch",
    `BSON field '${command}.${field}' is the wrong type '${bsonTypeName(value)}', expected type${expected.includes(",") ? "s" : ""} '${expected}'`,
  );
}

/** Accessors bound to one command document; `command` is its name, for messages. */
export interface CommandArgs {
  readonly body: Document;
  readonly command: string;
  has(field: string): boolean;
  string(field: string): string | undefined;
  requireString(field: string): string;
  number(field: string): number | undefined;
  integer(field: string): number | undefined;
  boolean(field: string): boolean | undefined;
  document(field: string): Document | undefined;
  requireDocument(field: string): Document;
  array(field: string): unknown[] | undefined;
  requireArray(field: string): unknown[];
}

export function commandArgs(body: Document, command: string): CommandArgs {
  const value = (field: string): unknown => (Object.hasOwn(body, field) ? body[field] : undefined);
  const present = (field: string): boolean => value(field) !== undefined && value(field) !== null;
  const args: CommandArgs = {
    body,
    command,
    has: present,
    string(field) {
      const v = value(field);
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "string") wrongType(command, field, v, "string");
      return v;
    },
    requireString(field) {
      const v = args.string(field);
      if (v === undefined) throw missingField(command, field);
      return v;
    },
    number(field) {
      const v = value(field);
      if (v === undefined || v === null) return undefined;
      const n = toNumber(v);
      if (n === undefined || Number.isNaN(n)) wrongType(command, field, v, "long, int, decimal, double");
      return n;
    },
    integer(field) {
      const n = args.number(field);
      if (n === undefined) return undefined;
      if (!Number.isInteger(n)) throw commandError("BadValue", `BSON field '${command}.${field}' must be an integer, got ${n}`);
      return n;
    },
    boolean(field) {
      const v = value(field);
      if (v === undefined || v === null) return undefined;
      if (typeof v === "boolean") return v;
      const n = toNumber(v);
      if (n !== undefined) return n !== 0;
      return wrongType(command, field, v, "bool");
    },
    document(field) {
      const v = value(field);
      if (v === undefined || v === null) return undefined;
      if (!isPlainObject(v)) wrongType(command, field, v, "object");
      return v;
    },
    requireDocument(field) {
      const v = args.document(field);
      if (v === undefined) throw missingField(command, field);
      return v;
    },
    array(field) {
      const v = value(field);
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v)) wrongType(command, field, v, "array");
      return v as unknown[];
    },
    requireArray(field) {
      const v = args.array(field);
      if (v === undefined) throw missingField(command, field);
      return v;
    },
  };
  return args;
}

/** An int64 field (cursor ids, txnNumber) as bigint; JS/Int32 numbers are accepted too. */
export function int64Value(value: unknown): bigint | undefined {
  if (Long.isLong(value)) return value.toBigInt();
  if (typeof value === "bigint") return value;
  const n = toNumber(value);
  return n !== undefined && Number.isInteger(n) ? BigInt(n) : undefined;
}

const invalidCollectionChars = /[$\0]/;

/** `db.coll` for a command's target collection, validating the name as mongod does. */
export function namespaceOf(db: string, collection: unknown, command: string): string {
  if (typeof collection !== "string") {
    throw commandError("InvalidNamespace", `collection name has invalid type ${bsonTypeName(collection)} for '${command}'`);
  }
  if (collection === "" || invalidCollectionChars.test(collection) || collection.startsWith(".")) {
    throw commandError("InvalidNamespace", `Invalid namespace specified '${db}.${collection}'`);
  }
  return `${db}.${collection}`;
}

/** Splits `db.coll` at the first dot, as the driver does. */
export function splitNamespace(ns: string): { db: string; collection: string } {
  const dot = ns.indexOf(".");
  return dot < 0 ? { db: ns, collection: "" } : { db: ns.slice(0, dot), collection: ns.slice(dot + 1) };
}

/** mongod's error for a required command field that was not sent. */
function missingField(command: string, field: string): CommandError {
  return commandError("FailedToParse", `BSON field '${command}.${field}' is missing but a required field`);
}

/**
 * Fields any command may carry besides its own arguments (session,
 * transaction, cluster time, read preference and concerns, API version):
 * commands that refuse unknown options skip these.
 */
export const genericCommandFields: ReadonlySet<string> = new Set([
  "$db",
  "lsid",
  "txnNumber",
  "autocommit",
  "startTransaction",
  "$clusterTime",
  "$readPreference",
  "readConcern",
  "writeConcern",
  "maxTimeMS",
  "comment",
  "apiVersion",
  "apiStrict",
  "apiDeprecationErrors",
]);
