/** find, getMore, killCursors, count and distinct. */
import { Long, type Document } from "bson";
import { compareValues, parseCollation } from "../bson-values.ts";
import { takeBatch } from "../cursor-registry.ts";
import { collectPathValues } from "../document-paths.ts";
import { EngineError } from "../engine/types.ts";
import { codeNameFor, commandError } from "../errors.ts";
import { compileProjection } from "../query/project-document.ts";
import { parseSort, sortDocuments } from "../query/sort-documents.ts";
import { commandArgs, int64Value, namespaceOf } from "./command-args.ts";
import type { CommandHandler } from "./command-context.ts";
import { batchSizeOf, cursorReply, firstBatchReply } from "./cursor-replies.ts";
import { changeStreamGetMore } from "./change-stream.ts";
import { validateHint } from "./index-hint.ts";

function nonNegative(value: number | undefined, what: string): number {
  if (value === undefined) return 0;
  if (value < 0) throw commandError("BadValue", `${what} value must be non-negative, but received: ${value}`);
  return value;
}

export const find: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "find");
  const ns = namespaceOf(ctx.db, ctx.body["find"], "find");
  const filter = args.document("filter") ?? {};
  const sort = parseSort(ctx.body["sort"]);
  const projection = compileProjection(ctx.body["projection"], filter);
  const skip = nonNegative(args.integer("skip"), "skip");
  let limit = args.integer("limit") ?? 0;
  let singleBatch = args.boolean("singleBatch") ?? false;
  if (limit < 0) {
    limit = -limit;
    singleBatch = true;
  }
  const batchSize = batchSizeOf(args.integer("batchSize"));
  // Options that would change the answer are refused rather than ignored.
  for (const option of ["tailable", "awaitData", "returnKey", "showRecordId"]) {
    if (args.boolean(option) === true) throw commandError("BadValue", `find option '${option}' is not supported by the embedded server`);
  }
  for (const option of ["min", "max"]) {
    if (args.has(option)) throw commandError("BadValue", `find option '${option}' is not supported by the embedded server`);
  }
  const variables = args.document("let");
  validateHint(ctx.server.engine, ns, ctx.body["hint"]);
  const collation = parseCollation(ctx.body["collation"]);
  // With a sort and a limit, an index walked in the sort's order stops at skip + limit (keyset pages).
  const order =
    sort?.kind === "fields" && limit > 0
      ? { sort: sort.fields.map(([segments, direction]) => [segments.join("."), direction] as const), limit: skip + limit }
      : undefined;
  const matched = ctx.scope.read((tx) => tx.find(ns, filter, { variables, collation, order }));
  let results = sortDocuments(matched, sort, collation);
  if (skip > 0 || limit > 0) results = results.slice(skip, limit > 0 ? skip + limit : undefined);
  const effectiveBatch = limit > 0 && (batchSize === undefined || batchSize > limit) ? limit : batchSize;
  return firstBatchReply(ctx.server.cursors, ns, results, { batchSize: effectiveBatch, singleBatch, transform: projection });
};

export const getMore: CommandHandler = async (ctx) => {
  const args = commandArgs(ctx.body, "getMore");
  const id = int64Value(ctx.body["getMore"]);
  if (id === undefined) throw commandError("TypeMismatch", "BSON field 'getMore.getMore' is the wrong type, expected type 'long'");
  // Database-level cursors live in `<db>.$cmd.aggregate` / `<db>.$cmd.listCollections`.
  const ns = `${ctx.db}.${args.requireString("collection")}`;
  const entry = ctx.server.cursors.get(id);
  if (entry === undefined) throw commandError("CursorNotFound", `cursor id ${id} not found`);
  if (entry.ns !== ns) {
    throw commandError("Unauthorized", `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${entry.ns}`);
  }
  const batchSize = batchSizeOf(args.integer("batchSize"));
  // failGetMoreAfterCursorCheckout: the getMore fails once it holds the cursor, which dies with it.
  const failure = ctx.server.failPoints?.failGetMore();
  if (failure !== undefined) {
    ctx.server.cursors.kill(id);
    throw new EngineError(failure, codeNameFor(failure), "Failing getMore via 'failGetMoreAfterCursorCheckout' failpoint");
  }
  if (entry.cursor.kind === "changeStream") {
    return changeStreamGetMore(ctx, entry, batchSize, args.integer("maxTimeMS"));
  }
  const cursor = entry.cursor;
  const batch = takeBatch(
    cursor.docs,
    cursor.position,
    batchSize === undefined || batchSize === 0 ? Number.MAX_SAFE_INTEGER : batchSize,
    cursor.transform,
  );
  cursor.position += batch.length;
  let replyId = Long.fromBigInt(id);
  if (cursor.position >= cursor.docs.length) {
    ctx.server.cursors.kill(id);
    replyId = Long.ZERO;
  }
  return cursorReply(entry.ns, "nextBatch", batch, replyId);
};

export const killCursors: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "killCursors");
  if (typeof ctx.body["killCursors"] !== "string") throw commandError("InvalidNamespace", "killCursors needs a collection name");
  const killed: Long[] = [];
  const notFound: Long[] = [];
  for (const raw of args.requireArray("cursors")) {
    const id = int64Value(raw);
    if (id === undefined) throw commandError("TypeMismatch", "BSON field 'killCursors.cursors' must be an array of longs");
    (ctx.server.cursors.kill(id) ? killed : notFound).push(Long.fromBigInt(id));
  }
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
};

export const count: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "count");
  const ns = namespaceOf(ctx.db, ctx.body["count"], "count");
  const query = args.document("query") ?? {};
  const skip = nonNegative(args.integer("skip"), "skip");
  const limit = Math.abs(args.integer("limit") ?? 0);
  validateHint(ctx.server.engine, ns, ctx.body["hint"]);
  const collation = parseCollation(ctx.body["collation"]);
  const matched = ctx.scope.read((tx) => tx.find(ns, query, { collation })).length;
  let n = Math.max(0, matched - skip);
  if (limit > 0) n = Math.min(n, limit);
  return { n, ok: 1 };
};

/** Distinct values in MongoDB order (array fields contribute their elements). */
export function distinctValues(docs: readonly Document[], key: string): unknown[] {
  const all: unknown[] = [];
  for (const doc of docs) {
    for (const value of collectPathValues(doc, key.split("."))) {
      if (Array.isArray(value)) all.push(...(value as unknown[]));
      else all.push(value);
    }
  }
  all.sort(compareValues);
  const out: unknown[] = [];
  for (const value of all) {
    if (out.length === 0 || compareValues(out[out.length - 1], value) !== 0) out.push(value);
  }
  return out;
}

export const distinct: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "distinct");
  const ns = namespaceOf(ctx.db, ctx.body["distinct"], "distinct");
  const key = args.requireString("key");
  const query = args.document("query") ?? {};
  validateHint(ctx.server.engine, ns, ctx.body["hint"]);
  const collation = parseCollation(ctx.body["collation"]);
  const docs = ctx.scope.read((tx) => tx.find(ns, query, { collation }));
  return { values: distinctValues(docs, key), ok: 1 };
};
