/**
 * insert, update and delete: statement by statement, with per-statement
 * `writeErrors` (ordered batches stop at the first one, unordered continue).
 * A WriteConflict is never a write error: it aborts the whole command so the
 * statement scope can retry it (outside transactions) or fail the transaction.
 */
import { ObjectId, type Document } from "bson";
import type { Transaction } from "../engine/types.ts";
import { parseCollation } from "../bson-values.ts";
import { isPlainObject, withIdFirst } from "../document-paths.ts";
import { bsonTypeName } from "../describe-value.ts";
import { commandError, errorCodes, isCodedError, writeErrorEntry, type CodedError } from "../errors.ts";
import { sortDocuments, parseSort } from "../query/sort-documents.ts";
import { applyOperatorUpdate, applyReplacement, buildUpsertDocument, isOperatorUpdate, sameBson } from "../update/apply-update.ts";
import { applyPipelineUpdate, buildPipelineUpsert, validatePipelineUpdate } from "../update/apply-pipeline-update.ts";
import { commandArgs, namespaceOf, type CommandArgs } from "./command-args.ts";
import { maxWriteBatchSize } from "./hello-commands.ts";
import type { CommandHandler } from "./command-context.ts";
import { documentCheck, type DocumentCheck } from "./document-validation.ts";
import { validateHint } from "./index-hint.ts";

/** Per-statement errors become write errors; WriteConflict and unexpected errors escape. */
function asWriteError(err: unknown): CodedError {
  if (isCodedError(err) && err.code !== errorCodes.WriteConflict) return err;
  throw err;
}

interface BatchResult {
  n: number;
  writeErrors: Document[];
}

/** Runs `statement(i)` for each index, collecting write errors per mongod's ordered/unordered rules. */
function runStatements(count: number, ordered: boolean, result: BatchResult, statement: (index: number) => void): void {
  for (let i = 0; i < count; i++) {
    try {
      statement(i);
    } catch (err) {
      result.writeErrors.push(writeErrorEntry(asWriteError(err), i));
      if (ordered) return;
    }
  }
}

/** The statements of a write command, refused outside 1..maxWriteBatchSize as mongod does. */
function statementsOf(args: CommandArgs, field: string): unknown[] {
  const statements = args.requireArray(field);
  if (statements.length === 0 || statements.length > maxWriteBatchSize) {
    throw commandError(
      "InvalidLength",
      `Write batch sizes must be between 1 and ${maxWriteBatchSize}. Got ${statements.length} operations.`,
    );
  }
  return statements;
}

function withErrors(reply: Document, writeErrors: Document[]): Document {
  if (writeErrors.length > 0) reply["writeErrors"] = writeErrors;
  return reply;
}

/** The stored form of an inserted document: `_id` first, generated when absent. */
/** The first `$`-prefixed field name inside an embedded `_id` document (mongod refuses to store it). */
function dollarPrefixedField(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const element of value as unknown[]) {
      const found = dollarPrefixedField(element);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (!isPlainObject(value)) return undefined;
  for (const [key, sub] of Object.entries(value) as [string, unknown][]) {
    if (key.startsWith("$")) return key;
    const found = dollarPrefixedField(sub);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function prepareInsert(doc: unknown): Document {
  if (!isPlainObject(doc)) throw commandError("TypeMismatch", `documents to insert must be objects, got ${bsonTypeName(doc)}`);
  const id: unknown = doc["_id"];
  if (Array.isArray(id)) throw commandError("InvalidIdField", "The '_id' value cannot be of type array");
  if (id instanceof RegExp) throw commandError("InvalidIdField", "The '_id' value cannot be of type regex");
  const dollar = isPlainObject(id) ? dollarPrefixedField(id) : undefined;
  if (dollar !== undefined) {
    throw commandError("DollarPrefixedFieldName", `_id fields may not contain '$'-prefixed fields: ${dollar} is not valid for storage.`);
  }
  if (id === undefined) return { _id: new ObjectId(), ...doc };
  return withIdFirst(doc);
}

export const insert: CommandHandler = async (ctx) => {
  const args = commandArgs(ctx.body, "insert");
  const ns = namespaceOf(ctx.db, ctx.body["insert"], "insert");
  const raw = statementsOf(args, "documents");
  const ordered = args.boolean("ordered") ?? true;
  // Prepared once, so a retried attempt inserts the same generated _ids.
  const prepared = raw.map((doc): Document | CodedError => {
    try {
      return prepareInsert(doc);
    } catch (err) {
      return asWriteError(err);
    }
  });
  const check = documentCheck(ctx, ns);
  const result = await ctx.scope.write((tx) => {
    const out: BatchResult = { n: 0, writeErrors: [] };
    runStatements(prepared.length, ordered, out, (i) => {
      const doc = prepared[i];
      if (doc === undefined || isCodedError(doc)) throw doc ?? commandError("BadValue", "missing document");
      check(null, doc);
      tx.insert(ns, doc);
      out.n++;
    });
    return out;
  });
  return withErrors({ n: result.n, ok: 1 }, result.writeErrors);
};

interface UpdateStatement {
  readonly q: Document;
  /** Operators, a replacement document, or (pipeline updates) validated stages. */
  readonly u: Document | Document[];
  readonly upsert: boolean;
  readonly multi: boolean;
  readonly arrayFilters: Document[] | undefined;
  readonly sort: Document | undefined;
}

function parseUpdateStatement(raw: unknown): UpdateStatement {
  if (!isPlainObject(raw)) throw commandError("TypeMismatch", "each update statement must be an object");
  const args = commandArgs(raw, "update.updates");
  const q = args.document("q") ?? {};
  const rawUpdate: unknown = raw["u"];
  const multi = args.boolean("multi") ?? false;
  const arrayFilters = args.array("arrayFilters") as Document[] | undefined;
  let u: Document | Document[];
  if (Array.isArray(rawUpdate)) {
    if (arrayFilters !== undefined) throw commandError("FailedToParse", "arrayFilters may not be specified for pipeline-style updates");
    u = validatePipelineUpdate(rawUpdate);
  } else if (isPlainObject(rawUpdate)) {
    u = rawUpdate;
    if (multi && !isOperatorUpdate(u) && Object.keys(u).length > 0) {
      throw commandError("FailedToParse", "multi update is not supported for replacement-style update");
    }
  } else {
    throw commandError(
      "FailedToParse",
      `BSON field 'update.updates.u' is the wrong type '${bsonTypeName(rawUpdate)}', expected type 'object' or 'array'`,
    );
  }
  return { q, u, upsert: args.boolean("upsert") ?? false, multi, arrayFilters, sort: args.document("sort") };
}

export interface UpdateOutcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  /** The document after the update (or the inserted one). */
  after?: Document;
  before?: Document;
}

/** What an update statement runs with besides its own fields. */
export interface StatementContext {
  /** The command's `let` variables. */
  readonly variables: Document | undefined;
  /** The collection's validator, for each document written. */
  readonly check: DocumentCheck;
}

/** Applies one update statement inside `tx`. Shared by update and findAndModify. */
export function applyUpdateStatement(
  tx: Transaction,
  ns: string,
  stmt: UpdateStatement,
  targets: readonly Document[],
  context: StatementContext,
): UpdateOutcome {
  const u = stmt.u;
  const { variables, check } = context;
  if (targets.length === 0) {
    if (!stmt.upsert) return { matched: 0, modified: 0 };
    const doc = Array.isArray(u) ? buildPipelineUpsert(stmt.q, u, variables) : buildUpsertDocument(stmt.q, u, stmt.arrayFilters);
    check(null, doc);
    tx.insert(ns, doc, "upsert");
    return { matched: 0, modified: 0, upsertedId: doc["_id"] as unknown, after: doc };
  }
  const kind = Array.isArray(u) || isOperatorUpdate(u) ? "update" : "replace";
  let modified = 0;
  let after: Document | undefined;
  for (const doc of targets) {
    let next: Document;
    if (Array.isArray(u)) next = applyPipelineUpdate(doc, u, variables);
    else if (kind === "update") next = applyOperatorUpdate(doc, u, { query: stmt.q, arrayFilters: stmt.arrayFilters, isInsert: false });
    else next = applyReplacement(doc, u);
    after = next;
    if (!sameBson(doc, next)) {
      check(doc, next);
      tx.replace(ns, doc["_id"], next, kind);
      modified++;
    }
  }
  const outcome: UpdateOutcome = { matched: targets.length, modified };
  if (after !== undefined) outcome.after = after;
  if (targets[0] !== undefined) outcome.before = targets[0];
  return outcome;
}

export const update: CommandHandler = async (ctx) => {
  const args = commandArgs(ctx.body, "update");
  const ns = namespaceOf(ctx.db, ctx.body["update"], "update");
  const raw = statementsOf(args, "updates");
  const ordered = args.boolean("ordered") ?? true;
  const variables = args.document("let");
  const check = documentCheck(ctx, ns);
  const result = await ctx.scope.write((tx) => {
    const out = { n: 0, nModified: 0, upserted: [] as Document[], writeErrors: [] as Document[] };
    runStatements(raw.length, ordered, out, (i) => {
      const stmt = parseUpdateStatement(raw[i]);
      validateHint(ctx.server.engine, ns, (raw[i] as Document)["hint"]);
      const collation = parseCollation((raw[i] as Document)["collation"]);
      let targets = tx.find(ns, stmt.q, { variables, collation });
      if (stmt.sort !== undefined) targets = sortDocuments(targets, parseSort(stmt.sort), collation);
      if (!stmt.multi) targets = targets.slice(0, 1);
      const outcome = applyUpdateStatement(tx, ns, stmt, targets, { variables, check });
      if (outcome.upsertedId !== undefined) {
        out.n += 1;
        out.upserted.push({ index: i, _id: outcome.upsertedId });
      } else {
        out.n += outcome.matched;
        out.nModified += outcome.modified;
      }
    });
    return out;
  });
  const reply: Document = { n: result.n, nModified: result.nModified };
  if (result.upserted.length > 0) reply["upserted"] = result.upserted;
  reply["ok"] = 1;
  return withErrors(reply, result.writeErrors);
};

export const deleteCommand: CommandHandler = async (ctx) => {
  const args = commandArgs(ctx.body, "delete");
  const ns = namespaceOf(ctx.db, ctx.body["delete"], "delete");
  const raw = statementsOf(args, "deletes");
  const ordered = args.boolean("ordered") ?? true;
  const variables = args.document("let");
  const result = await ctx.scope.write((tx) => {
    const out: BatchResult = { n: 0, writeErrors: [] };
    runStatements(raw.length, ordered, out, (i) => {
      const stmt: unknown = raw[i];
      if (!isPlainObject(stmt)) throw commandError("TypeMismatch", "each delete statement must be an object");
      const stmtArgs = commandArgs(stmt, "delete.deletes");
      const q = stmtArgs.document("q") ?? {};
      const limit = stmtArgs.integer("limit") ?? 0;
      if (limit !== 0 && limit !== 1) throw commandError("FailedToParse", `The limit field in delete objects must be 0 or 1. Got ${limit}`);
      validateHint(ctx.server.engine, ns, stmt["hint"]);
      let targets = tx.find(ns, q, { variables, collation: parseCollation(stmt["collation"]) });
      if (limit === 1) targets = targets.slice(0, 1);
      for (const doc of targets) {
        tx.delete(ns, doc["_id"]);
        out.n++;
      }
    });
    return out;
  });
  return withErrors({ n: result.n, ok: 1 }, result.writeErrors);
};

export { parseUpdateStatement };
export type { UpdateStatement };
