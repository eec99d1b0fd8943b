/**
 * What the read model's parts cost in memory and time, measured in the
 * bench's own process (run it with `node --expose-gc`) from the store the
 * service reads: the heap after a full collection, before and after each
 * part is built, so the figure is what the part retains, not what building
 * it allocated on the way.
 *
 * - the group graph (groups and group edges) as a service loads it at
 *   start-up (`loadGraphSnapshot` + `createGroupGraph`), and its group edges'
 *   share of it (the graph built again without them);
 * - the bounded cache of users' and services' direct memberships
 *   (`createPrincipalMemberships`, ROSTER_READ_MODEL_CACHED_MEMBERSHIPS): a
 *   principal's first read (cold: one indexed query) against a held one (warm);
 * - every user's and service's membership held at once in the same
 *   structure, the alternative to the bounded cache the issue asks about.
 */
import { performance } from "node:perf_hooks";
import { createGroupGraph, type GroupGraph } from "../../src/app/read-model/group-graph.ts";
import { createPrincipalMemberships, type MembershipLoader } from "../../src/app/read-model/principal-memberships.ts";
import { groupIdOfPrincipal } from "../../src/domain/principal.ts";
import type { Database } from "../../src/storage/database.ts";
import {
  collectionNames,
  storedMembershipFromDoc,
  type GroupNode,
  type MembershipDoc,
  type StoredMembership,
} from "../../src/storage/documents.ts";
import { loadGraphSnapshot } from "../../src/storage/graph-snapshot.ts";
import { createMembershipStore } from "../../src/storage/membership-store.ts";
import { median } from "./measure.ts";

/** The heap in use after full collections (the process must run with --expose-gc). */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:scale does)");
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/**
 * Builds a graph, lets `release` drop what only the building needed, and
 * weighs what is retained beyond `before` (the snapshot's group list, which
 * the caller keeps, included); the graph is garbage once this returns.
 */
function weigh(before: number, build: () => GroupGraph, release: () => void): { groupCount: number; bytes: number; buildEndedAt: number } {
  const graph = build();
  const buildEndedAt = performance.now();
  release();
  const bytes = heapAfterGc() - before;
  return { groupCount: graph.groupCount, bytes, buildEndedAt };
}

export interface GraphFigures {
  readonly groups: number;
  readonly edges: number;
  /** Snapshot read and graph built, as at a service's start-up. */
  readonly loadMs: number;
  /** What the graph retains. */
  readonly bytes: number;
  /** What the group edges add to it (the graph with them less the graph without). */
  readonly edgeBytes: number;
}

/** Loads the graph as a service does and weighs it (see the module comment). */
export async function measureGraph(database: Database): Promise<GraphFigures> {
  const before = heapAfterGc();
  const started = performance.now();
  const snapshot: { groups: GroupNode[]; groupEdges: StoredMembership[] | undefined } = await loadGraphSnapshot(database);
  const { groups } = snapshot;
  const edges = snapshot.groupEdges?.length ?? 0;
  const loaded = weigh(
    before,
    () => createGroupGraph(groups, snapshot.groupEdges ?? []),
    () => {
      snapshot.groupEdges = undefined;
    },
  );
  const loadMs = loaded.buildEndedAt - started;
  // The same group nodes without the edges (the snapshot's list of them is gone too): only their share is gone.
  const edgeless = weigh(
    before,
    () => createGroupGraph(groups, []),
    () => undefined,
  );
  if (loaded.groupCount !== groups.length || edgeless.groupCount !== groups.length) throw new Error("the graph lost groups");
  return { groups: groups.length, edges, loadMs, bytes: loaded.bytes, edgeBytes: loaded.bytes - edgeless.bytes };
}

export interface MembershipFigures {
  /** Users' and services' memberships in the store. */
  readonly memberships: number;
  readonly principals: number;
  /** Every one of them held at once, in the cache's own structure. */
  readonly allBytes: number;
  /** Reading them all (one pass over the collection) and holding them. */
  readonly allLoadMs: number;
  /** One principal with many memberships held alone, per membership: what a membership costs beyond its principal. */
  readonly bytesPerMembershipOfOne: number;
  /** A principal's first `get` (one indexed query), median. */
  readonly coldMs: number;
  /** The same principal's next `get`, median. */
  readonly warmMs: number;
}

/**
 * Holds every user's and service's membership (an unbounded cache filled
 * from one pass over the collection) and weighs it; then times cold and warm
 * `get`s of `sample` principals on a fresh bounded cache over the store.
 */
export async function measureMemberships(database: Database, sample: readonly string[], many: string): Promise<MembershipFigures> {
  const store = createMembershipStore(database);
  const bytesPerMembershipOfOne = await weighOne(store, many);
  const before = heapAfterGc();
  const started = performance.now();
  const byMember = new Map<string, StoredMembership[]>();
  let memberships = 0;
  const cursor = database.db.collection<MembershipDoc>(collectionNames.memberships).find({}, { batchSize: 10_000 });
  for await (const doc of cursor) {
    if (groupIdOfPrincipal(doc.member) !== undefined) continue;
    const membership = storedMembershipFromDoc(doc);
    let list = byMember.get(membership.member);
    if (list === undefined) byMember.set(membership.member, (list = []));
    list.push(membership);
    memberships += 1;
  }
  const fromMemory: MembershipLoader = (members) =>
    Promise.resolve({ time: 1n, memberships: members.flatMap((member) => byMember.get(member) ?? []) });
  const all = createPrincipalMemberships(fromMemory, Number.MAX_SAFE_INTEGER);
  const principals = [...byMember.keys()];
  for (let i = 0; i < principals.length; i += 1_000) await all.get(principals.slice(i, i + 1_000), {});
  const allLoadMs = performance.now() - started;
  // The cache holds them now: the list read from the store is released before weighing.
  byMember.clear();
  const allBytes = heapAfterGc() - before;
  if (all.membershipCount !== memberships) throw new Error(`held ${all.membershipCount} of ${memberships} memberships`);

  const cache = createPrincipalMemberships((members, call) => store.membershipsOfMembers(members, call), 1_000_000);
  const cold: number[] = [];
  const warm: number[] = [];
  for (const principal of sample) {
    const t0 = performance.now();
    await cache.get([principal], {});
    const t1 = performance.now();
    await cache.get([principal], {});
    cold.push(t1 - t0);
    warm.push(performance.now() - t1);
  }
  return {
    memberships,
    principals: principals.length,
    allBytes,
    allLoadMs,
    bytesPerMembershipOfOne,
    coldMs: median(cold),
    warmMs: median(warm),
  };
}

/** Bytes per membership of `principal` held alone in a cache (read from the store, as a cold `get` reads it). */
async function weighOne(store: ReturnType<typeof createMembershipStore>, principal: string): Promise<number> {
  const before = heapAfterGc();
  const read = await store.membershipsOfMembers([principal], {});
  const cache = createPrincipalMemberships(() => Promise.resolve(read), Number.MAX_SAFE_INTEGER);
  await cache.get([principal], {});
  read.memberships = [];
  const bytes = heapAfterGc() - before;
  if (cache.membershipCount === 0) throw new Error(`${principal} has no memberships`);
  return bytes / cache.membershipCount;
}
