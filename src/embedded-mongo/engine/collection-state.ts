/**
 * The committed state of one collection, multi-versioned: each document is a
 * chain of versions stamped with the change-log position that committed them,
 * kept while an open transaction's snapshot may still read them. Index entries
 * point at documents and may be stale (they cover every retained version), so
 * readers always re-check the version they can see.
 */
import { UUID } from "bson";
import type { Document, ObjectId } from "bson";
import { bsonTag, compareKeys, keyString, NUMBER_RANK, numericValue, typeRank } from "./compare.ts";
import { compileIndex, duplicateKeyError, indexKeys, tupleKeyString } from "./index-keys.ts";
import type { IndexDef } from "./index-keys.ts";
import { toPromoted } from "./promote.ts";
import { createSortedList } from "./sorted-list.ts";
import type { SortedList } from "./sorted-list.ts";
import type { IndexSpec, Namespace, StoredDoc } from "./types.ts";

/** One committed state of a document; `doc` null is a deletion. */
export interface Version {
  readonly seq: bigint;
  readonly doc: StoredDoc | null;
  /** The promoted view, computed on first use (documents are immutable). */
  promoted?: unknown;
}

export interface Chain {
  readonly id: unknown;
  readonly idk: string;
  /** Oldest first. */
  versions: Version[];
}

export interface IndexEntry {
  readonly key: readonly unknown[];
  readonly idk: string;
  /**
   * A JS number or string whose native order is MongoDB's order of keys of the
   * same `fastKind`, so most comparisons skip `compareKeys`: for one-field keys
   * a number, a string without surrogates, or an ObjectId's hex; for compound
   * keys an order-preserving encoding of the whole tuple (see `tupleFastKey`).
   */
  readonly fast: number | string | undefined;
  /** What `fast` holds: 0 nothing, then one kind per encoding (entries of different kinds use `compareKeys`). */
  readonly fastKind: number;
}

const SURROGATE = /[\uD800-\uDFFF]/;

const KIND_NUMBER = 1;
const KIND_STRING = 2;
const KIND_OBJECT_ID = 3;
const KIND_TUPLE = 4;

const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);
/** Which of the two 32-bit words holds the sign and exponent. */
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW = 1 - HIGH;

/**
 * 16 hex digits whose string order is the numeric order of doubles (NaN lowest,
 * -0 equal to 0), as `compareValues` orders numbers and dates.
 */
function orderedDoubleHex(n: number): string {
  if (Number.isNaN(n)) return "0000000000000000";
  float[0] = n === 0 ? 0 : n;
  let hi = words[HIGH] as number;
  let lo = words[LOW] as number;
  if (hi >>> 31 === 1) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

/**
 * One key component as a string that sorts like `compareValues` among encoded
 * components: a type-rank character, then a fixed-width payload, or for strings
 * the string and a NUL terminator (so a prefix sorts first). Undefined for
 * values without such an encoding (they make the tuple use `compareKeys`).
 */
function componentFastKey(v: unknown): string | undefined {
  if (v === null || v === undefined) return "\u0006";
  switch (typeof v) {
    case "string":
      // No surrogates (UTF-16 order would differ from MongoDB's) and no NUL (the terminator).
      return SURROGATE.test(v) || v.includes("\u0000") ? undefined : `\u0010${v}\u0000`;
    case "number":
      return `\u000b${orderedDoubleHex(v)}`;
    case "boolean":
      return v ? "\u00291" : "\u00290";
    case "object":
      break;
    default:
      return undefined;
  }
  if (v instanceof Date) return `\u002e${orderedDoubleHex(v.getTime())}`;
  const rank = typeRank(v);
  if (rank === NUMBER_RANK) {
    const n = numericValue(v);
    return typeof n === "number" ? `\u000b${orderedDoubleHex(n)}` : undefined;
  }
  if (bsonTag(v) === "ObjectId") return `\u0024${(v as ObjectId).toHexString()}`;
  return undefined;
}

/** A compound key's encoding: its components' encodings in order (each self-delimiting). */
function tupleFastKey(key: readonly unknown[]): string | undefined {
  let out = "";
  for (const v of key) {
    const part = componentFastKey(v);
    if (part === undefined) return undefined;
    out += part;
  }
  return out;
}

/** An index entry (always built here, so `fast` and `fastKind` are consistent). */
export function indexEntry(key: readonly unknown[], idk: string): IndexEntry {
  if (key.length !== 1) {
    const fast = tupleFastKey(key);
    return { key, idk, fast, fastKind: fast === undefined ? 0 : KIND_TUPLE };
  }
  const v = key[0];
  if (typeof v === "string") {
    return SURROGATE.test(v) ? { key, idk, fast: undefined, fastKind: 0 } : { key, idk, fast: v, fastKind: KIND_STRING };
  }
  const rank = typeRank(v);
  if (rank === NUMBER_RANK) {
    const n = numericValue(v);
    return typeof n === "number" && !Number.isNaN(n)
      ? { key, idk, fast: n, fastKind: KIND_NUMBER }
      : { key, idk, fast: undefined, fastKind: 0 };
  }
  // Fixed-length lowercase hex sorts like the bytes.
  if (bsonTag(v) === "ObjectId") return { key, idk, fast: (v as ObjectId).toHexString(), fastKind: KIND_OBJECT_ID };
  return { key, idk, fast: undefined, fastKind: 0 };
}

/** Anything that can hold write intents (an active transaction). */
export interface IntentHolder {
  readonly state: "active" | "committed" | "aborted";
  /** Settles when the holder commits or aborts (what a blocked writer waits for). */
  readonly ended: Promise<void>;
}

export interface IndexState {
  readonly def: IndexDef;
  readonly entries: SortedList<IndexEntry>;
  /** Unique indexes only: uncommitted keys claimed by active transactions. */
  readonly intents: Map<string, IntentHolder>;
  /**
   * Set once any document (committed or not) had an array in an indexed field;
   * then two bounds on one field cannot be intersected (different elements may
   * satisfy each), as in MongoDB. Never reset: conservative.
   */
  multikey: boolean;
}

export interface CollectionState {
  readonly ns: Namespace;
  /** Fixed at creation, kept across restarts (listCollections `info.uuid`, change events' `collectionUUID`). */
  readonly uuid: UUID;
  options: Document;
  indexes: IndexState[];
  readonly chains: Map<string, Chain>;
  /** Documents with an uncommitted write, by `_id` key string. */
  readonly docIntents: Map<string, IntentHolder>;
  /** Bumped by index DDL; transactions that wrote under an older one cannot commit. */
  version: number;
  /** False while the collection exists only because an uncommitted insert created it. */
  durable: boolean;
  /** False once dropped. */
  live: boolean;
}

export const ID_INDEX: IndexSpec = { name: "_id_", key: [["_id", 1]] };

export function compareEntries(a: IndexEntry, b: IndexEntry): number {
  let c: number;
  // Same kind: the fast values' native order is MongoDB's order (numbers, plain strings, ObjectId hex, encoded tuples).
  if (a.fastKind !== 0 && a.fastKind === b.fastKind) {
    const fa = a.fast as number | string;
    const fb = b.fast as number | string;
    c = fa < fb ? -1 : fa > fb ? 1 : 0;
  } else {
    c = compareKeys(a.key, b.key);
  }
  return c || (a.idk < b.idk ? -1 : a.idk > b.idk ? 1 : 0);
}

export function createIndexState(spec: IndexSpec): IndexState {
  return { def: compileIndex(spec), entries: createSortedList(compareEntries), intents: new Map(), multikey: false };
}

export function createCollectionState(ns: Namespace, options: Document, durable: boolean, uuid: UUID = new UUID()): CollectionState {
  return {
    ns,
    uuid,
    options,
    indexes: [createIndexState(ID_INDEX)],
    chains: new Map(),
    docIntents: new Map(),
    version: 0,
    durable,
    live: true,
  };
}

/** The version a snapshot at `seq` sees, if any. */
export function visibleVersion(chain: Chain | undefined, seq: bigint): Version | undefined {
  if (chain === undefined) return undefined;
  for (let i = chain.versions.length - 1; i >= 0; i--) {
    const v = chain.versions[i] as Version;
    if (v.seq <= seq) return v;
  }
  return undefined;
}

export function latestVersion(chain: Chain | undefined): Version | undefined {
  return chain?.versions[chain.versions.length - 1];
}

export function promotedOf(version: Version): unknown {
  if (version.promoted === undefined) version.promoted = toPromoted(version.doc);
  return version.promoted;
}

/** Appends a committed version and indexes it. */
export function publishVersion(coll: CollectionState, id: unknown, idk: string, seq: bigint, doc: StoredDoc | null): void {
  let chain = coll.chains.get(idk);
  if (chain === undefined) {
    if (doc === null) return;
    chain = { id, idk, versions: [] };
    coll.chains.set(idk, chain);
  }
  chain.versions.push({ seq, doc });
  if (doc === null) return;
  for (const index of coll.indexes) {
    const keys = indexKeys(index.def, doc, coll.ns, index);
    if (keys !== null) for (const key of keys) index.entries.add(indexEntry(key, idk));
  }
}

function keysOfVersions(index: IndexState, versions: readonly Version[], ns: Namespace): Map<string, readonly unknown[]> {
  const out = new Map<string, readonly unknown[]>();
  for (const v of versions) {
    if (v.doc === null) continue;
    const keys = indexKeys(index.def, v.doc, ns);
    if (keys !== null) for (const key of keys) out.set(tupleKeyString(key), key);
  }
  return out;
}

/**
 * Drops the versions of a document that no snapshot at or after `horizon` can
 * see, and the index entries only they needed. Removes the whole chain once
 * its newest version is a deletion nobody can see past.
 */
export function pruneChain(coll: CollectionState, idk: string, horizon: bigint): void {
  const chain = coll.chains.get(idk);
  if (chain === undefined) return;
  const versions = chain.versions;
  let keepFrom = 0;
  for (let i = versions.length - 1; i >= 0; i--) {
    if ((versions[i] as Version).seq <= horizon) {
      keepFrom = i;
      break;
    }
  }
  let kept = versions.slice(keepFrom);
  const first = kept[0];
  if (kept.length === 1 && first !== undefined && first.doc === null && first.seq <= horizon) kept = [];
  if (kept.length === versions.length) return;
  const removed = versions.slice(0, versions.length - kept.length);
  for (const index of coll.indexes) {
    const gone = keysOfVersions(index, removed, coll.ns);
    if (gone.size === 0) continue;
    const still = keysOfVersions(index, kept, coll.ns);
    for (const [k, key] of gone) if (!still.has(k)) index.entries.remove(indexEntry(key, idk));
  }
  if (kept.length === 0) coll.chains.delete(idk);
  else chain.versions = kept;
}

/**
 * Builds an index over every retained version. For a unique index, the newest
 * committed documents must not collide (throws 11000 and builds nothing).
 */
export function buildIndex(coll: CollectionState, spec: IndexSpec): IndexState {
  const index = createIndexState(spec);
  const seen = new Map<string, string>();
  for (const chain of coll.chains.values()) {
    const latest = latestVersion(chain);
    for (const v of chain.versions) {
      if (v.doc === null) continue;
      const keys = indexKeys(index.def, v.doc, coll.ns, index);
      if (keys === null) continue;
      for (const key of keys) {
        index.entries.add(indexEntry(key, chain.idk));
        if (index.def.unique && v === latest) {
          const k = tupleKeyString(key);
          const owner = seen.get(k);
          if (owner !== undefined && owner !== chain.idk) throw duplicateKeyError(coll.ns, index.def, key);
          seen.set(k, chain.idk);
        }
      }
    }
  }
  return index;
}

/** Whether the collection records pre- and post-images for change streams (`changeStreamPreAndPostImages`). */
export function recordsImages(coll: CollectionState): boolean {
  const setting: unknown = coll.options["changeStreamPreAndPostImages"];
  return typeof setting === "object" && setting !== null && (setting as Document)["enabled"] === true;
}

/** The `_id` key string used to address documents. */
export function idKey(id: unknown): string {
  return keyString(id);
}
