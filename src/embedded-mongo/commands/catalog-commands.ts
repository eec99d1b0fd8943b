/**
 * Catalog commands: create, collMod, drop, renameCollection, dropDatabase, listCollections,
 * listDatabases, createIndexes, listIndexes, dropIndexes. create and
 * createIndexes also run inside a transaction (MongoDB 4.4+), on the
 * transaction's own new collections, and take effect with its commit.
 */
import { Int32, Long, type Document } from "bson";
import type { IndexSpec } from "../engine/types.ts";
import { collationDocument, matches, parseCollation } from "../bson-values.ts";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";
import { validatePartialFilter } from "../query/partial-filter.ts";
import { commandArgs, genericCommandFields, namespaceOf } from "./command-args.ts";
import { collModOptions, validationOptions } from "./document-validation.ts";
import type { CommandHandler } from "./command-context.ts";
import { batchSizeOf, firstBatchReply } from "./cursor-replies.ts";

/**
 * `changeStreamPreAndPostImages: {enabled: <bool>}`, checked as mongod does;
 * `enabled: false` is the same as not setting it.
 */
function withPreAndPostImages(options: Document, command: string): Document {
  const value: unknown = options["changeStreamPreAndPostImages"];
  if (value === undefined) return options;
  if (!isPlainObject(value) || typeof value["enabled"] !== "boolean" || Object.keys(value).length !== 1) {
    throw commandError(
      "TypeMismatch",
      `BSON field '${command}.changeStreamPreAndPostImages' must be {enabled: <bool>}, got ${describeValue(value)}`,
    );
  }
  if (value["enabled"]) return options;
  const rest = { ...options };
  delete rest["changeStreamPreAndPostImages"];
  return rest;
}

export const create: CommandHandler = async (ctx) => {
  const ns = namespaceOf(ctx.db, ctx.body["create"], "create");
  const options: Document = {};
  for (const [key, value] of Object.entries(ctx.body) as [string, unknown][])
    if (key !== "create" && !genericCommandFields.has(key)) options[key] = value;
  if (options["capped"] === true) throw commandError("BadValue", "capped collections are not supported by the embedded server");
  if (options["viewOn"] !== undefined) throw commandError("BadValue", "views are not supported by the embedded server");
  if (options["timeseries"] !== undefined)
    throw commandError("BadValue", "time-series collections are not supported by the embedded server");
  if (options["collation"] !== undefined) {
    throw commandError(
      "BadValue",
      "a collection default collation is not supported by the embedded server: give 'collation' to each index and operation instead",
    );
  }
  const stored = validationOptions(withPreAndPostImages(options, "create"));
  if (ctx.scope.inTransaction) {
    await ctx.scope.write((tx) => {
      tx.createCollection(ns, stored);
    });
    return { ok: 1 };
  }
  const created = await ctx.server.engine.createCollection(ns, stored);
  if (!created) throw commandError("NamespaceExists", `Collection ${ns} already exists.`);
  return { ok: 1 };
};

/**
 * collMod: the validator, validationLevel, validationAction and
 * changeStreamPreAndPostImages (an empty collMod changes nothing but is still
 * a `modify` event); other changes are refused by name.
 */
export const collMod: CommandHandler = async (ctx) => {
  const ns = namespaceOf(ctx.db, ctx.body["collMod"], "collMod");
  const current = ctx.server.engine.collectionOptions(ns);
  if (current === null) throw commandError("NamespaceNotFound", `ns does not exist: ${ns}`);
  await ctx.server.engine.setCollectionOptions(ns, withPreAndPostImages(collModOptions(current, ctx.body), "collMod"));
  return { ok: 1 };
};

export const drop: CommandHandler = async (ctx) => {
  const ns = namespaceOf(ctx.db, ctx.body["drop"], "drop");
  const dropped = await ctx.server.engine.dropCollection(ns);
  if (dropped === null) throw commandError("NamespaceNotFound", "ns not found");
  return { ns, nIndexesWas: dropped.nIndexesWas, ok: 1 };
};

/** A full namespace argument (`db.coll`), validated as namespaceOf validates its parts. */
function fullNamespace(value: unknown, field: string): string {
  if (typeof value !== "string")
    throw commandError("TypeMismatch", `BSON field 'renameCollection.${field}' is the wrong type, expected type 'string'`);
  const dot = value.indexOf(".");
  if (dot <= 0) throw commandError("InvalidNamespace", `Invalid ${field} namespace: ${value}`);
  return namespaceOf(value.slice(0, dot), value.slice(dot + 1), "renameCollection");
}

/** renameCollection (run against admin): moves a collection, also into another database. */
export const renameCollection: CommandHandler = async (ctx) => {
  if (ctx.db !== "admin") throw commandError("Unauthorized", "renameCollection may only be run against the admin database.");
  const from = fullNamespace(ctx.body["renameCollection"], "renameCollection");
  const to = fullNamespace(ctx.body["to"], "to");
  const dropTarget = commandArgs(ctx.body, "renameCollection").boolean("dropTarget") ?? false;
  await ctx.server.engine.renameCollection(from, to, dropTarget);
  return { ok: 1 };
};

export const dropDatabase: CommandHandler = async (ctx) => {
  await ctx.server.engine.dropDatabase(ctx.db);
  return { dropped: ctx.db, ok: 1 };
};

/** An index as listIndexes (and change events) report it. */
export function indexDocument(spec: IndexSpec): Document {
  const key: Document = {};
  for (const [field, direction] of spec.key) key[field] = new Int32(direction);
  const doc: Document = { v: new Int32(2), key, name: spec.name };
  if (spec.unique === true) doc["unique"] = true;
  if (spec.sparse === true) doc["sparse"] = true;
  if (spec.partialFilterExpression !== undefined) doc["partialFilterExpression"] = spec.partialFilterExpression;
  if (spec.collation !== undefined) doc["collation"] = spec.collation;
  return doc;
}

export const listCollections: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "listCollections");
  const filter = args.document("filter") ?? {};
  const nameOnly = args.boolean("nameOnly") ?? false;
  const batchSize = batchSizeOf(
    args.document("cursor") === undefined
      ? undefined
      : commandArgs(args.requireDocument("cursor"), "listCollections.cursor").integer("batchSize"),
  );
  const infos = ctx.server.engine.listCollections(ctx.db);
  const docs: Document[] = [];
  for (const info of infos) {
    const idIndex = info.indexes.find((i) => i.name === "_id_");
    const full: Document = {
      name: info.name,
      type: "collection",
      options: info.options,
      info: { readOnly: false },
      idIndex: idIndex === undefined ? { v: new Int32(2), key: { _id: new Int32(1) }, name: "_id_" } : indexDocument(idIndex),
    };
    if (!matches(full, filter)) continue;
    docs.push(nameOnly ? { name: info.name, type: "collection" } : full);
  }
  docs.sort((a, b) => String(a["name"]).localeCompare(String(b["name"])));
  return firstBatchReply(ctx.server.cursors, `${ctx.db}.$cmd.listCollections`, docs, { batchSize, singleBatch: false });
};

export const listDatabases: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "listDatabases");
  const nameOnly = args.boolean("nameOnly") ?? false;
  const filter = args.document("filter") ?? {};
  const databases = ctx.server.engine
    .listDatabases()
    .map((name) => (nameOnly ? { name } : { name, sizeOnDisk: Long.fromNumber(0), empty: false }))
    .filter((doc) => matches(doc, filter));
  const reply: Document = { databases };
  if (!nameOnly) reply["totalSize"] = Long.fromNumber(0);
  reply["ok"] = 1;
  return reply;
};

/** The default index name MongoDB derives from a key: `a_1_b_-1`. */
export function defaultIndexName(key: readonly (readonly [string, number])[]): string {
  return key.map(([field, direction]) => `${field}_${direction}`).join("_");
}

function parseIndexSpec(raw: unknown): IndexSpec {
  if (!isPlainObject(raw)) throw commandError("TypeMismatch", "each index specification must be an object");
  const keyDoc: unknown = raw["key"];
  if (!isPlainObject(keyDoc) || Object.keys(keyDoc).length === 0) throw commandError("BadValue", "Index keys cannot be empty.");
  const key: [string, 1 | -1][] = [];
  for (const [field, value] of Object.entries(keyDoc)) {
    const direction = toNumber(value);
    if (direction !== 1 && direction !== -1) {
      throw commandError(
        "BadValue",
        `Index key '${field}: ${describeValue(value)}' is not supported by the embedded server (only ascending 1 and descending -1 keys)`,
      );
    }
    key.push([field, direction]);
  }
  const name: unknown = raw["name"] ?? defaultIndexName(key);
  if (typeof name !== "string" || name === "") throw commandError("BadValue", "index name must be a non-empty string");
  const spec: { -readonly [K in keyof IndexSpec]: IndexSpec[K] } = { name, key };
  if (raw["unique"] === true || toNumber(raw["unique"]) === 1) spec.unique = true;
  if (raw["sparse"] === true || toNumber(raw["sparse"]) === 1) spec.sparse = true;
  if (raw["partialFilterExpression"] !== undefined) {
    if (!isPlainObject(raw["partialFilterExpression"])) throw commandError("TypeMismatch", "partialFilterExpression must be an object");
    validatePartialFilter(raw["partialFilterExpression"]);
    spec.partialFilterExpression = raw["partialFilterExpression"];
  }
  const collation = parseCollation(raw["collation"]);
  if (collation !== undefined) spec.collation = collationDocument(collation);
  if (raw["expireAfterSeconds"] !== undefined)
    throw commandError("BadValue", "TTL indexes (expireAfterSeconds) are not supported by the embedded server");
  return spec;
}

export const createIndexes: CommandHandler = async (ctx) => {
  const args = commandArgs(ctx.body, "createIndexes");
  const ns = namespaceOf(ctx.db, ctx.body["createIndexes"], "createIndexes");
  const specs = args.requireArray("indexes").map(parseIndexSpec);
  if (specs.length === 0) throw commandError("BadValue", "Must specify at least one index to create");
  const existed = ctx.server.engine.listIndexes(ns) !== null;
  const { before, after } = ctx.scope.inTransaction
    ? await ctx.scope.write((tx) => tx.createIndexes(ns, specs))
    : await ctx.server.engine.createIndexes(ns, specs);
  const reply: Document = { numIndexesBefore: before, numIndexesAfter: after, createdCollectionAutomatically: !existed };
  if (before === after) reply["note"] = "all indexes already exist";
  reply["ok"] = 1;
  return reply;
};

export const listIndexes: CommandHandler = (ctx) => {
  const args = commandArgs(ctx.body, "listIndexes");
  const ns = namespaceOf(ctx.db, ctx.body["listIndexes"], "listIndexes");
  const cursor = args.document("cursor");
  const batchSize = batchSizeOf(cursor === undefined ? undefined : commandArgs(cursor, "listIndexes.cursor").integer("batchSize"));
  const indexes = ctx.server.engine.listIndexes(ns);
  if (indexes === null) throw commandError("NamespaceNotFound", `ns does not exist: ${ns}`);
  return firstBatchReply(ctx.server.cursors, ns, indexes.map(indexDocument), { batchSize, singleBatch: false });
};

export const dropIndexes: CommandHandler = async (ctx) => {
  const ns = namespaceOf(ctx.db, ctx.body["dropIndexes"], "dropIndexes");
  const index: unknown = ctx.body["index"];
  let names: string[] | "*";
  if (index === "*") names = "*";
  else if (typeof index === "string") names = [index];
  else if (Array.isArray(index) && index.every((n) => typeof n === "string")) names = index;
  else if (isPlainObject(index)) {
    const key = Object.entries(index).map(([field, value]): [string, number] => [field, toNumber(value) ?? 0]);
    const existing = ctx.server.engine.listIndexes(ns);
    if (existing === null) throw commandError("NamespaceNotFound", `ns not found ${ns}`);
    const found = existing.find(
      (spec) => spec.key.length === key.length && spec.key.every(([f, d], i) => key[i]?.[0] === f && key[i][1] === d),
    );
    if (found === undefined) throw commandError("IndexNotFound", `can't find index with key: ${describeValue(index)}`);
    names = [found.name];
  } else {
    throw commandError("TypeMismatch", "dropIndexes.index must be a string, an array of strings or a key pattern");
  }
  if (ctx.server.engine.listIndexes(ns) === null) throw commandError("NamespaceNotFound", `ns not found ${ns}`);
  const nIndexesWas = await ctx.server.engine.dropIndexes(ns, names);
  return { nIndexesWas, ok: 1 };
};
