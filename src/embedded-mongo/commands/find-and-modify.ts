/**
 * findAndModify: one document, chosen by `query` and `sort`, updated,
 * replaced or removed atomically; returns it before or after (`new`).
 * Failures are command errors (ok:0), as mongod reports them.
 */
import { parseCollation } from "../bson-values.ts";
import { commandError } from "../errors.ts";
import { compileProjection } from "../query/project-document.ts";
import { parseSort, sortDocuments } from "../query/sort-documents.ts";
import { commandArgs, namespaceOf } from "./command-args.ts";
import type { CommandHandler } from "./command-context.ts";
import { documentCheck } from "./document-validation.ts";
import { validateHint } from "./index-hint.ts";
import { applyUpdateStatement, parseUpdateStatement } from "./write-commands.ts";

export const findAndModify: CommandHandler = async (ctx) => {
  const args = commandArgs(ctx.body, "findAndModify");
  const ns = namespaceOf(ctx.db, ctx.body[ctx.name] ?? ctx.body["findandmodify"], "findAndModify");
  const query = args.document("query") ?? {};
  const sort = parseSort(ctx.body["sort"]);
  const remove = args.boolean("remove") ?? false;
  const returnNew = args.boolean("new") ?? false;
  const upsert = args.boolean("upsert") ?? false;
  const hasUpdate = args.has("update");
  const projection = compileProjection(ctx.body["fields"], query);
  const variables = args.document("let");
  const collation = parseCollation(ctx.body["collation"]);
  const check = documentCheck(ctx, ns);
  validateHint(ctx.server.engine, ns, ctx.body["hint"]);
  if (remove && hasUpdate) throw commandError("FailedToParse", "Cannot specify both an update and remove=true");
  if (!remove && !hasUpdate) throw commandError("FailedToParse", "Either an update or remove=true must be specified");
  if (remove && upsert) throw commandError("FailedToParse", "Cannot specify both upsert=true and remove=true ");
  if (remove && returnNew)
    throw commandError("FailedToParse", "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
  const stmt = hasUpdate
    ? parseUpdateStatement({
        q: query,
        u: ctx.body["update"] as unknown,
        upsert,
        multi: false,
        arrayFilters: ctx.body["arrayFilters"] as unknown,
      })
    : undefined;

  const result = await ctx.scope.write((tx) => {
    const target = sortDocuments(tx.find(ns, query, { variables, collation }), sort, collation)[0];
    if (stmt === undefined) {
      if (target !== undefined) tx.delete(ns, target["_id"]);
      return { lastErrorObject: { n: target === undefined ? 0 : 1 }, value: target ?? null };
    }
    const outcome = applyUpdateStatement(tx, ns, stmt, target === undefined ? [] : [target], { variables, check });
    if (outcome.upsertedId !== undefined) {
      return {
        lastErrorObject: { n: 1, updatedExisting: false, upserted: outcome.upsertedId },
        value: returnNew ? (outcome.after ?? null) : null,
      };
    }
    if (outcome.matched === 0) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null };
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: (returnNew ? outcome.after : outcome.before) ?? null };
  });
  const value = result.value !== null && projection !== undefined ? projection(result.value) : result.value;
  return { lastErrorObject: result.lastErrorObject, value, ok: 1 };
};
