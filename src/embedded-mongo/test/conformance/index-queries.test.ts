/**
 * Indexes must never change answers: the same queries over an indexed
 * collection and over an identical unindexed twin return the same documents,
 * before and after updates and deletes move values around in the indexes.
 * Values mix numeric types, strings, null, missing fields and arrays, the
 * cases where an index can silently disagree with a collection scan.
 * Also covers keyset pagination over a compound index.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Double, Long, type Collection, type Document } from "mongodb";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("indexq");
let indexed: Collection<TestDoc>;
let plain: Collection<TestDoc>;

/** Deterministic value mix for field `a`; index i decides the type. */
function valueFor(i: number): unknown {
  switch (i % 9) {
    case 0:
      return i % 10;
    case 1:
      return new Double((i % 10) + 0.5);
    case 2:
      return Long.fromNumber(i % 10);
    case 3:
      return `x${i % 7}`;
    case 4:
      return null;
    case 5:
      return [i % 10, (i + 3) % 10];
    case 6:
      return new Double(i % 10);
    case 7:
      return undefined;
    default:
      return `m${i % 5}`;
  }
}

function makeDoc(i: number): TestDoc {
  const doc: TestDoc = { _id: i, b: i % 4, c: (i * 7) % 23, u: `u${i}` };
  const a = valueFor(i);
  if (a !== undefined) doc["a"] = a;
  return doc;
}

const queries: Document[] = [
  { a: 5 },
  { a: Long.fromNumber(3) },
  { a: 5.5 },
  { a: { $gt: 3 } },
  { a: { $gte: 2, $lt: 7 } },
  { a: { $lte: 4.5 } },
  { a: { $in: [1, "x3", null] } },
  { a: { $in: [2, 7] } },
  { a: null },
  { a: { $exists: false } },
  { a: { $exists: true } },
  { a: { $ne: 5 } },
  { a: { $nin: [1, 2, null] } },
  { a: { $lt: "x" } },
  { a: { $gte: "m", $lt: "x3" } },
  { a: { $type: "string" } },
  { a: { $regex: "^x[0-3]" } },
  { a: [5, 8] },
  { a: { $elemMatch: { $gt: 7 } } },
  { a: { $all: [1, 4] } },
  { b: 2, c: { $gt: 10 } },
  { b: { $in: [1, 3] }, c: { $lte: 5 } },
  { b: 0, a: { $gt: 2 } },
  { $or: [{ a: 1 }, { b: 3, c: { $lt: 4 } }] },
  // $or queries the store answers by index union (every branch indexed), also with predicates around them.
  { $or: [{ a: { $in: [2, 7] } }, { u: { $in: ["u1", "u5"] } }] },
  { b: 1, $or: [{ a: { $gt: 6 } }, { u: "u9" }] },
  { $and: [{ $or: [{ a: null }, { u: { $lt: "u2" } }] }, { $or: [{ b: 2 }, { c: 3 }] }] },
  { $or: [{ a: 5 }, { $or: [{ u: "u7" }, { b: 3, c: { $gt: 20 } }] }] },
  { $or: [{ a: { $type: "string" } }, { u: "u3" }] },
  { $and: [{ a: { $gt: 1 } }, { a: { $lt: 6 } }] },
  { u: "u42" },
  { u: { $in: ["u1", "u2", "nope"] } },
  { u: { $gt: "u95" } },
];

async function answer(coll: Collection<TestDoc>, filter: Document): Promise<unknown[]> {
  return (await coll.find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);
}

/** Every query and sort whose indexed answer differs from the scan, with both answers. */
async function mismatches(): Promise<string[]> {
  const found: string[] = [];
  const compare = (what: string, got: unknown[], expected: unknown[]): void => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      const missing = expected.filter((id) => !got.includes(id));
      const extra = got.filter((id) => !expected.includes(id));
      found.push(
        `${what}: indexed answer lacks ${JSON.stringify(missing)}, has extra ${JSON.stringify(extra)}${missing.length + extra.length === 0 ? " (order differs)" : ""}`,
      );
    }
  };
  for (const filter of queries) {
    compare(`filter ${JSON.stringify(filter)}`, await answer(indexed, filter), await answer(plain, filter));
  }
  for (const sort of [
    { a: 1, _id: 1 },
    { a: -1, _id: 1 },
    { b: 1, c: -1, _id: 1 },
  ] as Document[]) {
    const expected = (await plain.find({}).sort(sort).limit(40).toArray()).map((d) => d._id);
    const got = (await indexed.find({}).sort(sort).limit(40).toArray()).map((d) => d._id);
    compare(`sort ${JSON.stringify(sort)} limit 40`, got, expected);
  }
  const union = { b: { $in: [0, 1] }, $or: [{ a: { $gte: 3 } }, { u: { $in: ["u1", "u4", "u8", "u12"] } }] };
  for (const [sort, skip] of [
    [{ c: -1, _id: 1 }, 0],
    [{ a: 1, _id: -1 }, 5],
  ] as [Document, number][]) {
    const expected = (await plain.find(union).sort(sort).skip(skip).limit(7).toArray()).map((d) => d._id);
    const got = (await indexed.find(union).sort(sort).skip(skip).limit(7).toArray()).map((d) => d._id);
    compare(`$or ${JSON.stringify(union)} sort ${JSON.stringify(sort)} skip ${skip} limit 7`, got, expected);
  }
  return found;
}

beforeAll(async () => {
  const { db } = ctx();
  indexed = db.collection<TestDoc>("indexed");
  plain = db.collection<TestDoc>("plain");
  await indexed.createIndex({ a: 1 });
  await indexed.createIndex({ b: 1, c: -1 });
  await indexed.createIndex({ u: 1 }, { unique: true }, undefined);
  const docs = Array.from({ length: 300 }, (_, i) => makeDoc(i));
  await indexed.insertMany(docs.map((d) => ({ ...d })));
  await plain.insertMany(docs.map((d) => ({ ...d })));
});

describe("indexes never change answers", () => {
  it("the sanity of the fixture: queries select non-trivial subsets", async () => {
    const sizes = await Promise.all(queries.map(async (q) => (await answer(plain, q)).length));
    expect(sizes.filter((n) => n > 0 && n < 300).length).toBeGreaterThan(queries.length - 4);
  });

  it("gives the same results as a collection scan", async () => {
    expect(await mismatches()).toEqual([]);
  });

  it("still does after updates and deletes move values in and out of the indexes", async () => {
    const changes = async (coll: Collection<TestDoc>): Promise<void> => {
      await coll.updateMany({ b: 1 }, { $inc: { c: 5 } });
      await coll.updateMany({ a: { $type: "string" } }, { $set: { a: 42 } });
      await coll.updateMany({ a: null, b: 2 }, { $set: { a: [1, "x1"] } });
      await coll.updateMany({ b: 3, a: { $exists: true } }, { $unset: { a: "" } });
      await coll.deleteMany({ c: { $in: [0, 1, 2] } });
      await coll.replaceOne({ _id: 10 }, { b: 9, c: 9, u: "u10", a: "x3" });
      await coll.updateOne({ u: "u11" }, { $set: { u: "u11-renamed" } });
    };
    await changes(indexed);
    await changes(plain);
    expect(await indexed.countDocuments()).toBe(await plain.countDocuments());
    expect(await mismatches()).toEqual([]);
  });
});

describe("keyset pagination over a compound index", () => {
  it("visits every document exactly once in (name, _id) order", async () => {
    const coll = ctx().db.collection<TestDoc>("keyset");
    await coll.createIndex({ name: 1, _id: 1 });
    await coll.insertMany(Array.from({ length: 25 }, (_, i) => ({ _id: i, name: `n${i % 6}` })));
    const seen: unknown[] = [];
    let last: TestDoc | undefined;
    for (let page = 0; page < 20; page += 1) {
      const filter: Document =
        last === undefined
          ? {}
          : { $or: [{ name: { $gt: last["name"] as string } }, { name: last["name"] as string, _id: { $gt: last._id } }] };
      const batch = await coll.find(filter).sort({ name: 1, _id: 1 }).limit(4).toArray();
      if (batch.length === 0) break;
      seen.push(...batch.map((d) => d._id));
      last = batch[batch.length - 1];
    }
    const expected = (await coll.find().sort({ name: 1, _id: 1 }).toArray()).map((d) => d._id);
    expect(expected).toHaveLength(25);
    expect(seen).toEqual(expected);
  });
});
