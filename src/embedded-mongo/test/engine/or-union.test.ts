/**
 * `$or` index union: an `$or` whose every branch can use an index (with the
 * predicates and-ed around it pushed into each branch) is answered from the
 * union of the branches' index scans, so its cost follows what the branches
 * select, not the collection; an `$or` with an unindexed branch falls back.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Document } from "bson";
import { createEngine } from "../../engine/index.ts";
import type { Engine, FindStats } from "../../engine/index.ts";
import { idOf, insertAll } from "../fixtures/engine-reads-and-errors.ts";

const NS = "db.groups";
const N = 20_000;
let engine: Engine;

/** Roster's groups, reduced to the fields of the ListGroups visibility query. */
function group(i: number): Document {
  return {
    _id: `g${i.toString().padStart(5, "0")}`,
    state: i % 10 === 9 ? "DELETED" : "ACTIVE",
    visibility: i % 1000 === 0 ? "AUTHENTICATED" : "PRIVATE",
    sortName: `name ${(N - i).toString().padStart(5, "0")}`,
    acl:
      i % 500 === 1
        ? [
            { principal: "user:alice", permission: "READ" },
            { principal: `user:u${i}`, permission: "MANAGE" },
          ]
        : [],
    ancestorIds: i % 700 === 2 ? ["g00002"] : [],
    note: i % 3,
  };
}

beforeAll(async () => {
  engine = await createEngine({});
  await engine.createIndexes(NS, [
    { name: "ancestors", key: [["ancestorIds", 1]] },
    { name: "acl_principal", key: [["acl.principal", 1]] },
    {
      name: "state_sortname_id",
      key: [
        ["state", 1],
        ["sortName", 1],
        ["_id", 1],
      ],
    },
    {
      name: "visibility_state",
      key: [
        ["visibility", 1],
        ["state", 1],
      ],
    },
  ]);
  const docs = Array.from({ length: N }, (_, i) => group(i));
  for (let start = 0; start < N; start += 5000) await insertAll(engine, NS, docs.slice(start, start + 5000));
});

function find(filter: Document): { ids: unknown[]; stats: FindStats | undefined } {
  const txn = engine.begin();
  try {
    const ids = txn.find(NS, filter).map(idOf).sort();
    return { ids, stats: txn.lastFind };
  } finally {
    txn.abort();
  }
}

/** The same answer by a full scan: a filter the planner cannot use ($where-free, but through $nor). */
function scanned(filter: Document): unknown[] {
  return find({ $nor: [{ $nor: [filter] }] }).ids;
}

const visibility = (members: string[]): Document => ({
  $and: [
    {
      state: "ACTIVE",
      $or: [
        { _id: { $in: members } },
        { "acl.principal": { $in: ["user:alice", "group:g00100"] } },
        { ancestorIds: { $in: ["g00002"] } },
        { visibility: "AUTHENTICATED" },
      ],
    },
  ],
});

describe("$or index union", () => {
  it("plans an index scan per branch with the outer predicates pushed down, and examines only what the branches select", () => {
    const filter = visibility(["g00010", "g00011", "g00019"]);
    const { ids, stats } = find(filter);
    expect(ids).toEqual(scanned(filter));
    expect(ids.length).toBeGreaterThan(50);
    expect(stats?.index).toBe("$or(_id_, acl_principal, ancestors, visibility_state)");
    // Each branch's keys, not the 18,000 live groups the state prefix alone would walk.
    expect(stats?.keysExamined).toBeLessThan(200);
    expect(stats?.docsExamined).toBeLessThan(200);
  });

  it("uses the index an $elemMatch on an array of documents names", () => {
    const filter = { acl: { $elemMatch: { principal: { $in: ["user:u501", "user:u1001"] }, permission: "MANAGE" } }, state: "ACTIVE" };
    const { ids, stats } = find(filter);
    expect(ids).toEqual(["g00501", "g01001"]);
    expect(stats).toEqual({ index: "acl_principal", keysExamined: 2, docsExamined: 2 });
  });

  it("unions nested $ors (the deleted-groups scope) branch by branch", () => {
    const filter = {
      $or: [
        { state: "ACTIVE", $or: [{ _id: { $in: ["g00010"] } }, { visibility: "AUTHENTICATED" }] },
        { state: "DELETED", $or: [{ _id: { $in: ["g00019"] } }, { ancestorIds: "g00002" }] },
      ],
    };
    const { ids, stats } = find(filter);
    expect(ids).toEqual(scanned(filter));
    expect(stats?.index).toBe("$or($or(_id_, visibility_state), $or(_id_, ancestors))");
    expect(stats?.keysExamined).toBeLessThan(100);
  });

  it("falls back when a branch has no usable index, with the same answer", () => {
    const filter = { $or: [{ visibility: "AUTHENTICATED" }, { note: 1 }] };
    const { ids, stats } = find(filter);
    expect(ids).toEqual(scanned(filter));
    expect(stats).toEqual({ index: null, keysExamined: N, docsExamined: N });
    const withPrefix = { state: "DELETED", $or: [{ visibility: "AUTHENTICATED" }, { note: 1 }] };
    expect(find(withPrefix).ids).toEqual(scanned(withPrefix));
    expect(find(withPrefix).stats?.index).toBe("state_sortname_id");
  });

  it("keeps a single index when it is cheaper than the union", () => {
    const filter = { _id: "g00010", $or: [{ state: "ACTIVE" }, { visibility: "PRIVATE" }] };
    expect(find(filter)).toEqual({ ids: ["g00010"], stats: { index: "_id_", keysExamined: 1, docsExamined: 1 } });
  });

  it("with a sort and limit, races the index walked in sort order against the union (the ListGroups page)", () => {
    const order = {
      sort: [
        ["sortName", 1],
        ["_id", 1],
      ] as const,
      limit: 51,
    };
    const txn = engine.begin();
    // Few visible groups: the sorted walk would pass 18,000 live groups to find 51; the union answers.
    const few = txn.find(NS, visibility(["g00010", "g00011"]), { order });
    expect(few.map(idOf).sort()).toEqual(find(visibility(["g00010", "g00011"])).ids);
    expect(txn.lastFind?.index).toBe("$or(_id_, acl_principal, ancestors, visibility_state)");
    expect(txn.lastFind?.ordered).toBeUndefined();
    // Most live groups match: the walk in sort order finds its 51 within the union's cost, and stops.
    const many = { state: "ACTIVE", $or: [{ visibility: "PRIVATE" }, { _id: { $in: ["g00010"] } }] };
    const page = txn.find(NS, many, { order });
    expect(page).toHaveLength(51);
    expect(txn.lastFind).toMatchObject({ index: "state_sortname_id", ordered: true });
    expect(txn.lastFind?.keysExamined).toBeLessThan(60);
    txn.abort();
  });

  it("sees the transaction's own writes in every branch", () => {
    const txn = engine.begin();
    txn.insert(NS, { ...group(N + 1), _id: "new-authenticated", visibility: "AUTHENTICATED", state: "ACTIVE" });
    txn.replace(NS, "g00010", { ...group(10), state: "DELETED" }, "update");
    const ids = txn.find(NS, visibility(["g00010", "g00011"])).map(idOf);
    expect(ids).toContain("new-authenticated");
    expect(ids).not.toContain("g00010");
    expect(ids).toContain("g00011");
    expect(txn.lastFind?.index).toBe("$or(_id_, acl_principal, ancestors, visibility_state)");
    txn.abort();
  });
});
