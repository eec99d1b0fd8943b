/**
 * Find projections on unpromoted documents: inclusion, exclusion, `_id`,
 * dotted paths (through arrays of sub-documents), `$slice`, `$elemMatch` and
 * the positional `field.$` (the first element the query matched). As in
 * MongoDB, `$elemMatch` and `field.$` are inclusions, and `$elemMatch` fields
 * come after the other included fields.
 * Projections with aggregation expressions are evaluated by mingo on the
 * promoted document (values keep their numbers but not their BSON number type).
 */
import type { Document } from "bson";
import { demoteDocument, matches, promoteDocument } from "../bson-values.ts";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";
import { matchedArrayIndex } from "../update/update-paths.ts";
import { createAggregator } from "./mingo-options.ts";

type Leaf =
  | { readonly kind: "include" }
  | { readonly kind: "exclude" }
  | { readonly kind: "slice"; readonly skip: number | undefined; readonly limit: number }
  | { readonly kind: "elemMatch"; readonly filter: Document }
  | { readonly kind: "positional" };

interface Tree {
  [field: string]: Tree | Leaf;
}

function isLeaf(node: Tree | Leaf): node is Leaf {
  // Tree values are always objects; only leaves carry a string `kind`.
  return typeof (node as { kind?: unknown }).kind === "string";
}

export type Projection = (doc: Document) => Document;

function parseLeaf(field: string, value: unknown): Leaf | "expression" {
  if (typeof value === "boolean") return { kind: value ? "include" : "exclude" };
  const n = toNumber(value);
  if (n !== undefined) return { kind: n === 0 ? "exclude" : "include" };
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$slice") {
      const arg: unknown = value["$slice"];
      if (Array.isArray(arg)) {
        const skip = toNumber(arg[0]);
        const limit = toNumber(arg[1]);
        if (arg.length !== 2 || skip === undefined || limit === undefined || limit <= 0) {
          throw commandError("BadValue", `$slice for '${field}' takes a number or [skip, positive limit], got ${describeValue(arg)}`);
        }
        return { kind: "slice", skip, limit };
      }
      const limit = toNumber(arg);
      if (limit === undefined)
        throw commandError("BadValue", `$slice for '${field}' takes a number or [skip, limit], got ${describeValue(arg)}`);
      return { kind: "slice", skip: undefined, limit };
    }
    if (keys.length === 1 && keys[0] === "$elemMatch") {
      const filter: unknown = value["$elemMatch"];
      if (!isPlainObject(filter)) throw commandError("BadValue", "$elemMatch needs an Object");
      return { kind: "elemMatch", filter };
    }
  }
  return "expression";
}

function applySlice(value: unknown, leaf: Extract<Leaf, { kind: "slice" }>): unknown {
  if (!Array.isArray(value)) return value;
  if (leaf.skip === undefined) {
    return leaf.limit >= 0 ? value.slice(0, leaf.limit) : value.slice(Math.max(0, value.length + leaf.limit));
  }
  const start = leaf.skip >= 0 ? leaf.skip : Math.max(0, value.length + leaf.skip);
  return value.slice(start, start + leaf.limit);
}

/** The first element of `item` matching an `$elemMatch` projection, as a one-element array. */
function elemMatchOf(item: unknown, filter: Document): unknown[] | undefined {
  const hit = Array.isArray(item) ? (item as unknown[]).find((el) => isPlainObject(el) && matches(el, filter)) : undefined;
  return hit === undefined ? undefined : [hit];
}

/** `positional`: the index of the array element the query matched, for a `field.$` leaf. */
function includeTree(value: unknown, tree: Tree, positional: number | undefined): unknown {
  if (Array.isArray(value)) {
    return value.filter((item) => isPlainObject(item) || Array.isArray(item)).map((item) => includeTree(item, tree, positional));
  }
  if (!isPlainObject(value)) return undefined;
  const out: Document = {};
  const last: [string, unknown][] = [];
  for (const [key, item] of Object.entries(value) as [string, unknown][]) {
    const node = tree[key];
    if (node === undefined) continue;
    if (!isLeaf(node)) {
      const sub = includeTree(item, node, positional);
      if (sub !== undefined) out[key] = sub;
      continue;
    }
    if (node.kind === "include") out[key] = item;
    else if (node.kind === "slice") out[key] = applySlice(item, node);
    else if (node.kind === "positional") {
      if (Array.isArray(item) && positional !== undefined && positional < item.length) out[key] = [item[positional]];
    } else if (node.kind === "elemMatch") {
      const hit = elemMatchOf(item, node.filter);
      if (hit !== undefined) last.push([key, hit]);
    }
  }
  for (const [key, hit] of last) out[key] = hit;
  return out;
}

function excludeTree(value: unknown, tree: Tree): unknown {
  if (Array.isArray(value))
    return (value as unknown[]).map((item) => (isPlainObject(item) || Array.isArray(item) ? excludeTree(item, tree) : item));
  if (!isPlainObject(value)) return value;
  const out: Document = {};
  for (const [key, item] of Object.entries(value) as [string, unknown][]) {
    const node = tree[key];
    if (node === undefined) {
      out[key] = item;
      continue;
    }
    if (!isLeaf(node)) {
      out[key] = excludeTree(item, node);
      continue;
    }
    if (node.kind === "exclude") continue;
    if (node.kind === "slice") out[key] = applySlice(item, node);
    else if (node.kind === "elemMatch") {
      const hit = elemMatchOf(item, node.filter);
      if (hit !== undefined) out[key] = hit;
    } else out[key] = item;
  }
  return out;
}

function insertLeaf(tree: Tree, path: string, leaf: Leaf): void {
  const parts = path.split(".");
  let node: Tree = tree;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    if (i === parts.length - 1) {
      if (node[part] !== undefined) throw commandError("BadValue", `Path collision at ${path}`);
      node[part] = leaf;
      return;
    }
    const next = node[part];
    if (next === undefined) {
      const child: Tree = {};
      node[part] = child;
      node = child;
    } else if (isLeaf(next)) {
      throw commandError("BadValue", `Path collision at ${path} remaining portion ${parts.slice(i + 1).join(".")}`);
    } else {
      node = next;
    }
  }
}

function mingoProjection(spec: Document): Projection {
  const aggregator = createAggregator([{ $project: promoteDocument(spec) }]);
  return (doc) => {
    const [out] = aggregator.run([promoteDocument(doc)]);
    return demoteDocument(out ?? {});
  };
}

/**
 * Compiles a find projection; undefined or `{}` means the whole document.
 * `query` is the command's filter, which a positional `field.$` refers to.
 */
export function compileProjection(spec: unknown, query: Document = {}): Projection | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec))
    throw commandError("TypeMismatch", `Expected field projection to be of type object, got ${describeValue(spec)}`);
  if (Object.keys(spec).length === 0) return undefined;
  const tree: Tree = {};
  let mode: "include" | "exclude" | undefined;
  let idMode: "include" | "exclude" | undefined;
  let positionalPath: string | undefined;
  for (const [specPath, value] of Object.entries(spec)) {
    let path = specPath;
    if (path === "$" || path.startsWith("$"))
      throw commandError("BadValue", `FieldPath field names may not start with '$'. Given: '${path}'`);
    if (path.endsWith(".$")) {
      if (positionalPath !== undefined) throw commandError("BadValue", "Cannot specify more than one positional projection per query.");
      const positional = parseLeaf(path, value);
      if (positional !== "expression" && positional.kind === "exclude") {
        throw commandError("BadValue", `positional projection cannot be used with exclusion: '${path}'`);
      }
      path = path.slice(0, -2);
      positionalPath = path;
      if (mode === "exclude") throw commandError("Location31253", `Cannot do inclusion on field ${specPath} in exclusion projection`);
      mode = "include";
      insertLeaf(tree, path, { kind: "positional" });
      continue;
    }
    const leaf = parseLeaf(path, value);
    if (leaf === "expression") return mingoProjection(spec);
    if (path === "_id" && (leaf.kind === "include" || leaf.kind === "exclude")) {
      idMode = leaf.kind;
      continue;
    }
    if (leaf.kind === "include" || leaf.kind === "exclude") {
      if (mode !== undefined && mode !== leaf.kind) {
        throw leaf.kind === "exclude"
          ? commandError("Location31254", `Cannot do exclusion on field ${path} in inclusion projection`)
          : commandError("Location31253", `Cannot do inclusion on field ${path} in exclusion projection`);
      }
      mode = leaf.kind;
    }
    insertLeaf(tree, path, leaf);
  }
  if (mode === undefined && idMode === "include" && Object.keys(tree).length === 0) mode = "include";
  // An $elemMatch projection is an inclusion (MongoDB returns only _id and the matched fields).
  if (mode === undefined && Object.values(tree).some((node) => isLeaf(node) && node.kind === "elemMatch")) mode = "include";
  if (mode === "include") {
    if (idMode !== "exclude") tree["_id"] ??= { kind: "include" };
    const path = positionalPath;
    if (path === undefined) return (doc) => includeTree(doc, tree, undefined) as Document;
    return (doc) => {
      const index = matchedArrayIndex(doc, path, query);
      if (index === undefined) {
        throw commandError("BadValue", `positional operator '${path}.$' couldn't find a matching element in the array`);
      }
      return includeTree(doc, tree, index) as Document;
    };
  }
  if (idMode === "exclude") tree["_id"] = { kind: "exclude" };
  return (doc) => excludeTree(doc, tree) as Document;
}
