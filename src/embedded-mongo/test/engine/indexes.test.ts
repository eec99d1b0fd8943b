import { Double, Int32, Long, ObjectId } from "bson";
import { beforeEach, describe, expect, it } from "vitest";
import { createEngine } from "../../engine/index.ts";
import type { Engine } from "../../engine/index.ts";
import { engineError, engineRejection, idOf, insertAll, plain, read } from "../fixtures/engine-reads-and-errors.ts";
import { compileIndex, indexKeys } from "../../engine/index-keys.ts";

const NS = "db.people";
let engine: Engine;

beforeEach(async () => {
  engine = await createEngine({});
});

describe("the _id index", () => {
  it("rejects a second document with an equal _id, whatever the numeric width", async () => {
    await insertAll(engine, NS, [{ _id: new Int32(5), name: "a" }]);
    const txn = engine.begin();
    const error = engineError(() => {
      txn.insert(NS, { _id: Long.fromNumber(5), name: "b" });
    });
    expect(error.code).toBe(11000);
    expect(error.codeName).toBe("DuplicateKey");
    expect(error.message).toBe("E11000 duplicate key error collection: db.people index: _id_ dup key: { _id: 5 }");
    expect(error.extra).toEqual({ keyPattern: { _id: 1 }, keyValue: { _id: Long.fromNumber(5) } });
    txn.abort();
  });

  it("cannot be dropped", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    const error = await engineRejection(engine.dropIndexes(NS, ["_id_"]));
    expect(error.code).toBe(72);
  });
});

describe("unique indexes", () => {
  beforeEach(async () => {
    await engine.createIndexes(NS, [{ name: "email_1", key: [["email", 1]], unique: true }]);
  });

  it("reject a duplicate on insert with keyPattern and keyValue", async () => {
    await insertAll(engine, NS, [{ _id: 1, email: "a@x" }]);
    const txn = engine.begin();
    const error = engineError(() => {
      txn.insert(NS, { _id: 2, email: "a@x" });
    });
    expect(error.code).toBe(11000);
    expect(error.message).toBe('E11000 duplicate key error collection: db.people index: email_1 dup key: { email: "a@x" }');
    expect(error.extra).toEqual({ keyPattern: { email: 1 }, keyValue: { email: "a@x" } });
    txn.abort();
  });

  it("reject a duplicate on replace, and allow replacing a document with its own key", async () => {
    await insertAll(engine, NS, [
      { _id: 1, email: "a@x" },
      { _id: 2, email: "b@x" },
    ]);
    const txn = engine.begin();
    txn.replace(NS, 1, { _id: 1, email: "a@x", n: 1 }, "update");
    expect(
      engineError(() => {
        txn.replace(NS, 2, { _id: 2, email: "a@x" }, "replace");
      }).code,
    ).toBe(11000);
    await txn.commit();
    expect(read(engine, NS, { _id: 1 })).toEqual([{ _id: 1, email: "a@x", n: 1 }]);
  });

  it("see the transaction's own writes: a key freed by the transaction can be reused", async () => {
    await insertAll(engine, NS, [{ _id: 1, email: "a@x" }]);
    const txn = engine.begin();
    txn.delete(NS, 1);
    txn.insert(NS, { _id: 2, email: "a@x" });
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 3, email: "a@x" });
      }).code,
    ).toBe(11000);
    await txn.commit();
    expect(read(engine, NS).map(idOf)).toEqual([2]);
  });

  it("treat a missing field as null, so only one document may lack it", async () => {
    await insertAll(engine, NS, [{ _id: 1 }]);
    const txn = engine.begin();
    const error = engineError(() => {
      txn.insert(NS, { _id: 2, email: null });
    });
    expect(error.code).toBe(11000);
    expect(error.extra).toEqual({ keyPattern: { email: 1 }, keyValue: { email: null } });
    txn.abort();
  });

  it("collide on equal numbers of different widths", async () => {
    await engine.createIndexes(NS, [{ name: "n_1", key: [["n", 1]], unique: true }]);
    await insertAll(engine, NS, [{ _id: 1, email: "a", n: new Int32(5) }]);
    const txn = engine.begin();
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 2, email: "b", n: new Double(5) });
      }).code,
    ).toBe(11000);
    txn.abort();
  });

  it("index every element of an array (multikey)", async () => {
    await engine.createIndexes(NS, [{ name: "tags_1", key: [["tags", 1]], unique: true }]);
    await insertAll(engine, NS, [{ _id: 1, email: "a", tags: ["x", "y"] }]);
    const txn = engine.begin();
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 2, email: "b", tags: ["z", "y"] });
      }).code,
    ).toBe(11000);
    txn.insert(NS, { _id: 3, email: "c", tags: ["z"] });
    expect(txn.find(NS, { tags: "y" }).map(idOf)).toEqual([1]);
    expect(txn.lastFind?.index).toBe("tags_1");
    await txn.commit();
  });

  it("cannot be created over existing duplicates, and then nothing is created", async () => {
    await insertAll(engine, NS, [
      { _id: 1, email: "a", k: 1 },
      { _id: 2, email: "b", k: 1 },
    ]);
    const error = await engineRejection(
      engine.createIndexes(NS, [
        { name: "j_1", key: [["j", 1]] },
        { name: "k_1", key: [["k", 1]], unique: true },
      ]),
    );
    expect(error.code).toBe(11000);
    expect(engine.listIndexes(NS)?.map((s) => s.name)).toEqual(["_id_", "email_1"]);
  });
});

describe("compound indexes", () => {
  it("enforce uniqueness of the combination only", async () => {
    await engine.createIndexes(NS, [
      {
        name: "g_1_u_1",
        key: [
          ["g", 1],
          ["u", 1],
        ],
        unique: true,
      },
    ]);
    await insertAll(engine, NS, [
      { _id: 1, g: "a", u: 1 },
      { _id: 2, g: "a", u: 2 },
      { _id: 3, g: "b", u: 1 },
    ]);
    const txn = engine.begin();
    const error = engineError(() => {
      txn.insert(NS, { _id: 4, g: "a", u: 2 });
    });
    expect(error.message).toBe('E11000 duplicate key error collection: db.people index: g_1_u_1 dup key: { g: "a", u: 2 }');
    expect(error.extra).toEqual({ keyPattern: { g: 1, u: 1 }, keyValue: { g: "a", u: new Int32(2) } });
    expect(txn.find(NS, { g: "a", u: 2 }).map(idOf)).toEqual([2]);
    expect(txn.lastFind).toEqual({ index: "g_1_u_1", keysExamined: 1, docsExamined: 1 });
    expect(txn.find(NS, { g: "a" }).map(idOf)).toEqual([1, 2]);
    expect(txn.lastFind).toEqual({ index: "g_1_u_1", keysExamined: 2, docsExamined: 2 });
    txn.abort();
  });

  it("reject documents with two array fields (parallel arrays)", async () => {
    await engine.createIndexes(NS, [
      {
        name: "a_1_b_1",
        key: [
          ["a", 1],
          ["b", 1],
        ],
      },
    ]);
    const txn = engine.begin();
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 1, a: [1, 2], b: [3, 4] });
      }).code,
    ).toBe(171);
    txn.abort();
  });
});

describe("sparse and partial indexes", () => {
  it("sparse unique indexes ignore documents without the field", async () => {
    await engine.createIndexes(NS, [{ name: "nick_1", key: [["nick", 1]], unique: true, sparse: true }]);
    await insertAll(engine, NS, [{ _id: 1 }, { _id: 2 }, { _id: 3, nick: "z" }]);
    const txn = engine.begin();
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 4, nick: "z" });
      }).code,
    ).toBe(11000);
    // A sparse index cannot answer a null query (it lacks the missing ones): still correct.
    expect(txn.find(NS, { nick: null }).map(idOf)).toEqual([1, 2]);
    txn.abort();
  });

  it("partial unique indexes only enforce on documents matching the filter", async () => {
    await engine.createIndexes(NS, [
      {
        name: "email_active",
        key: [["email", 1]],
        unique: true,
        partialFilterExpression: { active: true },
      },
    ]);
    await insertAll(engine, NS, [
      { _id: 1, email: "a", active: true },
      { _id: 2, email: "a", active: false },
      { _id: 3, email: "a" },
    ]);
    const txn = engine.begin();
    expect(
      engineError(() => {
        txn.insert(NS, { _id: 4, email: "a", active: true });
      }).code,
    ).toBe(11000);
    // Becoming active makes the document subject to the index.
    expect(
      engineError(() => {
        txn.replace(NS, 2, { _id: 2, email: "a", active: true }, "update");
      }).code,
    ).toBe(11000);
    txn.abort();
  });
});

describe("a partial index on {field: {$exists: true}}", () => {
  beforeEach(async () => {
    await engine.createIndexes(NS, [
      { name: "expire_time", key: [["expireTime", 1]], partialFilterExpression: { expireTime: { $exists: true } } },
    ]);
    // 1,000 documents without the field, 10 with it (the expiring memberships among all).
    await insertAll(engine, NS, [
      ...Array.from({ length: 1000 }, (_, i) => ({ _id: i })),
      ...Array.from({ length: 10 }, (_, i) => ({ _id: 1000 + i, expireTime: new Date(i * 1000) })),
    ]);
  });

  it("answers a bound or a non-null equality on the field, which imply it exists", () => {
    const txn = engine.begin();
    expect(txn.find(NS, { expireTime: { $lte: new Date(4000) } }).map(idOf)).toEqual([1000, 1001, 1002, 1003, 1004]);
    expect(txn.lastFind).toEqual({ index: "expire_time", keysExamined: 5, docsExamined: 5 });
    expect(txn.find(NS, { expireTime: { $gt: new Date(7000) } }).map(idOf)).toEqual([1008, 1009]);
    expect(txn.lastFind?.index).toBe("expire_time");
    expect(txn.find(NS, { expireTime: { $in: [new Date(0), new Date(9000)] } }).map(idOf)).toEqual([1000, 1009]);
    expect(txn.lastFind?.index).toBe("expire_time");
    txn.abort();
  });

  it("is not used where documents without the field may match", () => {
    const txn = engine.begin();
    expect(txn.find(NS, { expireTime: { $in: [null, new Date(0)] } })).toHaveLength(1001);
    expect(txn.lastFind?.index).toBeNull();
    expect(txn.find(NS, { expireTime: { $not: { $lte: new Date(8000) } } })).toHaveLength(1001);
    expect(txn.lastFind?.index).toBeNull();
    txn.abort();
  });
});

describe("index use", () => {
  const N = 2000;

  beforeEach(async () => {
    await engine.createIndexes(NS, [{ name: "age_1", key: [["age", 1]] }]);
    await insertAll(
      engine,
      NS,
      Array.from({ length: N }, (_, i) => ({ _id: i, age: new Int32(i % 100), name: `n${i}` })),
    );
  });

  it("point lookups on _id examine one document", () => {
    const txn = engine.begin();
    expect(txn.find(NS, { _id: 1234 })).toEqual([{ _id: new Int32(1234), age: new Int32(34), name: "n1234" }]);
    expect(txn.lastFind).toEqual({ index: "_id_", keysExamined: 1, docsExamined: 1 });
    txn.abort();
  });

  it("equality, $in and ranges on an indexed field only scan the matching keys", () => {
    const txn = engine.begin();
    expect(txn.find(NS, { age: 7 })).toHaveLength(N / 100);
    expect(txn.lastFind).toEqual({ index: "age_1", keysExamined: N / 100, docsExamined: N / 100 });
    expect(txn.find(NS, { age: { $in: [1, 2, 3] } })).toHaveLength((3 * N) / 100);
    expect(txn.lastFind?.docsExamined).toBe((3 * N) / 100);
    expect(txn.find(NS, { age: { $gte: 10, $lt: 12 } })).toHaveLength((2 * N) / 100);
    expect(txn.lastFind?.docsExamined).toBe((2 * N) / 100);
    expect(txn.find(NS, { age: { $gt: 97 } })).toHaveLength((2 * N) / 100);
    expect(txn.lastFind?.docsExamined).toBe((2 * N) / 100);
    // Type bracketing: a string bound never scans the numbers.
    expect(txn.find(NS, { age: { $gt: "a" } })).toHaveLength(0);
    expect(txn.lastFind?.docsExamined).toBe(0);
    // The whole filter still applies to index candidates.
    expect(plain(txn.find(NS, { age: 7, name: "n7" }))).toEqual([{ _id: 7, age: 7, name: "n7" }]);
    txn.abort();
  });

  it("a compound $in longer than a thousand values still uses the index points, not the whole prefix", async () => {
    await engine.createIndexes("db.m", [
      {
        name: "g_m",
        key: [
          ["g", 1],
          ["m", 1],
        ],
        unique: true,
      },
    ]);
    await insertAll(
      engine,
      "db.m",
      Array.from({ length: 6000 }, (_, i) => ({ _id: i, g: "G", m: `m${i}` })),
    );
    const wanted = Array.from({ length: 2500 }, (_, i) => `m${i * 2}`);
    const txn = engine.begin();
    const found = txn.find("db.m", { g: "G", m: { $in: [...wanted, "absent"] } });
    expect(found.map((d) => d["m"] as string).sort()).toEqual([...wanted].sort());
    expect(txn.lastFind).toEqual({ index: "g_m", keysExamined: 2500, docsExamined: 2500 });
    txn.abort();
  });

  it("falls back to a shorter prefix when several $in lists multiply past the bound", async () => {
    await engine.createIndexes("db.p", [
      {
        name: "a_b",
        key: [
          ["a", 1],
          ["b", 1],
        ],
      },
    ]);
    await insertAll(
      engine,
      "db.p",
      Array.from({ length: 400 }, (_, i) => ({ _id: i, a: i % 4, b: i })),
    );
    const as = Array.from({ length: 400 }, (_, i) => i);
    const bs = Array.from({ length: 400 }, (_, i) => i);
    const txn = engine.begin();
    expect(txn.find("db.p", { a: { $in: as }, b: { $in: bs } })).toHaveLength(400);
    // 400 × 400 points exceed the bound: only `a` is used (400 intervals), every key of them examined once.
    expect(txn.lastFind).toEqual({ index: "a_b", keysExamined: 400, docsExamined: 400 });
    txn.abort();
  });

  it("falls back to a full scan when nothing is indexable, with the same answer", () => {
    const txn = engine.begin();
    expect(txn.find(NS, { name: "n7" })).toHaveLength(1);
    expect(txn.lastFind).toEqual({ index: null, keysExamined: N, docsExamined: N });
    expect(txn.find(NS, { $or: [{ age: 1 }, { age: 2 }] })).toHaveLength((2 * N) / 100);
    txn.abort();
  });

  it("finds documents through their current key after an update, not a stale one", async () => {
    const txn = engine.begin();
    txn.replace(NS, 5, { _id: 5, age: new Int32(500), name: "n5" }, "update");
    expect(txn.find(NS, { age: 500 }).map(idOf)).toEqual([5]);
    expect(txn.find(NS, { age: 5 }).map(idOf)).not.toContain(5);
    await txn.commit();
    expect(read(engine, NS, { age: 500 }).map(idOf)).toEqual([5]);
    expect(read(engine, NS, { age: 5 }).map(idOf)).not.toContain(5);
  });

  it("walks a compound index in sort order and stops at the limit: a keyset page costs its length", async () => {
    await engine.createIndexes("db.k", [
      {
        name: "g_m",
        key: [
          ["g", 1],
          ["m", 1],
        ],
        unique: true,
      },
    ]);
    await insertAll(
      engine,
      "db.k",
      Array.from({ length: 5000 }, (_, i) => ({ _id: i, g: i % 2 === 0 ? "G" : "H", m: `m${String(i).padStart(5, "0")}`, r: i % 3 })),
    );
    const txn = engine.begin();
    const order = { sort: [["m", 1]] as const, limit: 10 };
    const page = txn.find("db.k", { g: "G", m: { $gt: "m03000" } }, { order });
    expect(page.map((d) => d["m"] as string)).toEqual(Array.from({ length: 10 }, (_, i) => `m${String(3002 + 2 * i).padStart(5, "0")}`));
    expect(txn.lastFind).toEqual({ index: "g_m", keysExamined: 10, docsExamined: 10, ordered: true });
    // The rest of the filter still applies; non-matching documents are walked past.
    expect(txn.find("db.k", { g: "G", m: { $gt: "m03000" }, r: 0 }, { order }).map((d) => d["m"] as string)[0]).toBe("m03006");
    expect(txn.lastFind?.ordered).toBe(true);
    // A sort field in the equality prefix is constant: still the index order.
    txn.find(
      "db.k",
      { g: "G" },
      {
        order: {
          sort: [
            ["g", 1],
            ["m", 1],
          ],
          limit: 3,
        },
      },
    );
    expect(txn.lastFind).toEqual({ index: "g_m", keysExamined: 3, docsExamined: 3, ordered: true });
    // Orders the index cannot give: every match, as without an order (the caller sorts).
    for (const sort of [
      [["m", -1]],
      [["r", 1]],
      [
        ["m", 1],
        ["r", 1],
      ],
    ] as const) {
      expect(txn.find("db.k", { g: "G", m: { $gt: "m04000" } }, { order: { sort, limit: 3 } })).toHaveLength(499);
      expect(txn.lastFind?.ordered).toBeUndefined();
    }
    expect(txn.find("db.k", { g: { $in: ["G", "H"] }, m: { $gt: "m04990" } }, { order })).toHaveLength(9);
    expect(txn.lastFind?.ordered).toBeUndefined();
    txn.abort();
  });

  it("puts a document whose key changed after the snapshot at the key the snapshot sees, once", async () => {
    await engine.createIndexes("db.s", [
      {
        name: "g_m",
        key: [
          ["g", 1],
          ["m", 1],
        ],
      },
    ]);
    await insertAll(
      engine,
      "db.s",
      ["b", "d", "f"].map((m, i) => ({ _id: i, g: "G", m })),
    );
    const reader = engine.begin();
    const writer = engine.begin();
    writer.replace("db.s", 0, { _id: 0, g: "G", m: "e" }, "update");
    await writer.commit();
    const order = { sort: [["m", 1]] as const, limit: 10 };
    expect(reader.find("db.s", { g: "G" }, { order }).map((d) => d["m"] as string)).toEqual(["b", "d", "f"]);
    reader.abort();
    expect(
      read(engine, "db.s", { g: "G" })
        .map((d) => d["m"] as string)
        .sort(),
    ).toEqual(["d", "e", "f"]);
    const fresh = engine.begin();
    expect(fresh.find("db.s", { g: "G" }, { order }).map((d) => d["m"] as string)).toEqual(["d", "e", "f"]);
    fresh.abort();
  });

  it("keeps the unordered answer inside a transaction that wrote to the collection", async () => {
    await engine.createIndexes("db.w", [
      {
        name: "g_m",
        key: [
          ["g", 1],
          ["m", 1],
        ],
      },
    ]);
    await insertAll(
      engine,
      "db.w",
      ["b", "d"].map((m, i) => ({ _id: i, g: "G", m })),
    );
    const txn = engine.begin();
    txn.insert("db.w", { _id: 9, g: "G", m: "a" });
    expect(
      txn
        .find("db.w", { g: "G" }, { order: { sort: [["m", 1]], limit: 1 } })
        .map((d) => d["m"] as string)
        .sort(),
    ).toEqual(["a", "b", "d"]);
    expect(txn.lastFind?.ordered).toBeUndefined();
    txn.abort();
  });

  it("uses the index for ObjectId keys too", async () => {
    const ids = [new ObjectId(), new ObjectId()];
    await insertAll(
      engine,
      "db.o",
      ids.map((_id, i) => ({ _id, i })),
    );
    const txn = engine.begin();
    expect(plain(txn.find("db.o", { _id: ids[1] }))).toEqual([{ _id: ids[1], i: 1 }]);
    expect(txn.lastFind?.docsExamined).toBe(1);
    txn.abort();
  });
});

describe("index DDL", () => {
  it("creating an identical index is a no-op; a different one with the same name conflicts", async () => {
    const spec = { name: "a_1", key: [["a", 1]] as const };
    expect(await engine.createIndexes(NS, [spec])).toEqual({ before: 1, after: 2 });
    expect(await engine.createIndexes(NS, [spec])).toEqual({ before: 2, after: 2 });
    expect((await engineRejection(engine.createIndexes(NS, [{ name: "a_1", key: [["b", 1]] }]))).code).toBe(86);
  });

  it("dropIndexes reports the count before and rejects unknown names", async () => {
    await engine.createIndexes(NS, [
      { name: "a_1", key: [["a", 1]] },
      { name: "b_1", key: [["b", 1]] },
    ]);
    expect((await engineRejection(engine.dropIndexes(NS, ["nope"]))).code).toBe(27);
    expect(await engine.dropIndexes(NS, ["a_1"])).toBe(3);
    expect(await engine.dropIndexes(NS, "*")).toBe(2);
    expect(engine.listIndexes(NS)?.map((s) => s.name)).toEqual(["_id_"]);
    expect(engine.listIndexes("db.none")).toBeNull();
  });
});

describe("indexKeys on top-level fields (the walk-free path)", () => {
  const def = compileIndex({
    name: "a_b",
    key: [
      ["a", 1],
      ["b", 1],
    ],
  });
  const sparse = compileIndex({
    name: "a_b_sparse",
    key: [
      ["a", 1],
      ["b", 1],
    ],
    sparse: true,
  });

  it("gives one key per document, a missing field as null, and arrays fan out as before", () => {
    expect(indexKeys(def, { _id: 1, a: 1, b: "x" }, NS)).toEqual([[1, "x"]]);
    expect(indexKeys(def, { _id: 1, b: "x" }, NS)).toEqual([[null, "x"]]);
    expect(indexKeys(def, { _id: 1, a: { c: 1 }, b: null }, NS)).toEqual([[{ c: 1 }, null]]);
    expect(indexKeys(def, { _id: 1, a: [1, 2], b: "x" }, NS)).toEqual([
      [1, "x"],
      [2, "x"],
    ]);
    expect(indexKeys(def, { _id: 1, a: [], b: "x" }, NS)).toEqual([[null, "x"]]);
  });

  it("leaves a sparse index without the document only when every field is missing", () => {
    expect(indexKeys(sparse, { _id: 1 }, NS)).toBeNull();
    expect(indexKeys(sparse, { _id: 1, b: null }, NS)).toEqual([[null, null]]);
    expect(indexKeys(sparse, { _id: 1, a: 2 }, NS)).toEqual([[2, null]]);
  });

  it("marks the index multikey only for arrays", () => {
    const seen = { multikey: false };
    indexKeys(def, { _id: 1, a: 1, b: 2 }, NS, seen);
    expect(seen.multikey).toBe(false);
    indexKeys(def, { _id: 2, a: [1], b: 2 }, NS, seen);
    expect(seen.multikey).toBe(true);
  });
});
