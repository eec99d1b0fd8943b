/**
 * Aggregation stages and the counting helpers (countDocuments,
 * estimatedDocumentCount, distinct) through the official driver.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Collection, Document } from "mongodb";
import { useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("aggregate");

const orders = [
  { _id: 1, cust: "a", items: ["x", "y"], total: 10, status: "paid", ship: { city: "oslo", zip: "0150" } },
  { _id: 2, cust: "b", items: ["x"], total: 20, status: "paid", ship: { city: "rome", zip: "00100" } },
  { _id: 3, cust: "a", items: [], total: 5, status: "open", ship: { city: "oslo", zip: "0151" } },
  { _id: 4, cust: "c", total: 40, status: "paid", ship: { city: "lima", zip: "15001" } },
  { _id: 5, cust: "b", items: ["z"], total: 25, status: "open", ship: { city: "rome", zip: "00118" } },
];
const customers = [
  { _id: "a", name: "Ann" },
  { _id: "b", name: "Bob" },
];
const employees = [
  { _id: 1, name: "ceo" },
  { _id: 2, name: "vp", boss: "ceo" },
  { _id: 3, name: "mgr", boss: "vp" },
  { _id: 4, name: "dev", boss: "mgr" },
];

let ordersColl: Collection<TestDoc>;

beforeAll(async () => {
  const { db } = ctx();
  ordersColl = db.collection<TestDoc>("orders");
  await ordersColl.insertMany(orders);
  await db.collection<TestDoc>("customers").insertMany(customers);
  await db.collection<TestDoc>("employees").insertMany(employees);
});

function run(pipeline: Document[]): Promise<Document[]> {
  return ordersColl.aggregate(pipeline).toArray();
}

describe("aggregate stages", () => {
  it("$match, $sort, $skip and $limit", async () => {
    expect(await run([{ $match: { status: "paid" } }, { $sort: { total: -1 } }, { $project: { _id: 1 } }])).toEqual([
      { _id: 4 },
      { _id: 2 },
      { _id: 1 },
    ]);
    expect(await run([{ $sort: { total: -1 } }, { $skip: 1 }, { $limit: 2 }, { $project: { total: 1 } }])).toEqual([
      { _id: 5, total: 25 },
      { _id: 2, total: 20 },
    ]);
  });

  it("$project with inclusion, exclusion and computed fields", async () => {
    expect(
      await run([
        { $sort: { _id: 1 } },
        { $limit: 2 },
        {
          $project: {
            _id: 0,
            cust: 1,
            doubled: { $multiply: ["$total", 2] },
            label: { $concat: ["$cust", "-", "$status"] },
            city: "$ship.city",
          },
        },
      ]),
    ).toEqual([
      { cust: "a", doubled: 20, label: "a-paid", city: "oslo" },
      { cust: "b", doubled: 40, label: "b-paid", city: "rome" },
    ]);
    expect(await run([{ $match: { _id: 4 } }, { $project: { ship: 0, status: 0 } }])).toEqual([{ _id: 4, cust: "c", total: 40 }]);
  });

  it("$strLenBytes counts UTF-8 bytes and $strLenCP code points, for characters of one to four bytes", async () => {
    const text = ctx().db.collection<TestDoc>("text");
    await text.insertMany([
      { _id: 1, s: "" },
      { _id: 2, s: "abc" },
      { _id: 3, s: "é€😀" },
      { _id: 4, s: "x".repeat(70_000) },
    ]);
    expect(
      await text.aggregate([{ $sort: { _id: 1 } }, { $project: { bytes: { $strLenBytes: "$s" }, points: { $strLenCP: "$s" } } }]).toArray(),
    ).toEqual([
      { _id: 1, bytes: 0, points: 0 },
      { _id: 2, bytes: 3, points: 3 },
      { _id: 3, bytes: 9, points: 3 },
      { _id: 4, bytes: 70_000, points: 70_000 },
    ]);
  });

  it("$addFields, $set and $unset", async () => {
    expect(
      await run([
        { $match: { _id: { $in: [1, 4] } } },
        { $sort: { _id: 1 } },
        { $addFields: { big: { $gte: ["$total", 20] } } },
        { $set: { nItems: { $size: { $ifNull: ["$items", []] } }, "ship.country": "?" } },
        { $unset: ["items", "status", "ship.zip"] },
      ]),
    ).toEqual([
      { _id: 1, cust: "a", total: 10, ship: { city: "oslo", country: "?" }, big: false, nItems: 2 },
      { _id: 4, cust: "c", total: 40, ship: { city: "lima", country: "?" }, big: true, nItems: 0 },
    ]);
    expect(await run([{ $match: { _id: 2 } }, { $unset: "ship" }, { $project: { ship: 1 } }])).toEqual([{ _id: 2 }]);
  });

  it("$group with accumulators", async () => {
    const groups = await run([
      { $sort: { _id: 1 } },
      {
        $group: {
          _id: "$cust",
          sum: { $sum: "$total" },
          n: { $sum: 1 },
          avg: { $avg: "$total" },
          min: { $min: "$total" },
          max: { $max: "$total" },
          totals: { $push: "$total" },
          statuses: { $addToSet: "$status" },
          first: { $first: "$_id" },
          last: { $last: "$_id" },
        },
      },
      { $sort: { _id: 1 } },
    ]);
    const normalised = groups.map((g) => ({ ...g, statuses: [...(g["statuses"] as string[])].sort() }));
    expect(normalised).toEqual([
      { _id: "a", sum: 15, n: 2, avg: 7.5, min: 5, max: 10, totals: [10, 5], statuses: ["open", "paid"], first: 1, last: 3 },
      { _id: "b", sum: 45, n: 2, avg: 22.5, min: 20, max: 25, totals: [20, 25], statuses: ["open", "paid"], first: 2, last: 5 },
      { _id: "c", sum: 40, n: 1, avg: 40, min: 40, max: 40, totals: [40], statuses: ["paid"], first: 4, last: 4 },
    ]);
    expect(await run([{ $group: { _id: null, total: { $sum: "$total" } } }])).toEqual([{ _id: null, total: 100 }]);
    expect(
      await run([{ $group: { _id: { s: "$status", c: "$ship.city" }, n: { $sum: 1 } } }, { $sort: { "_id.s": 1, "_id.c": 1 } }]),
    ).toEqual([
      { _id: { s: "open", c: "oslo" }, n: 1 },
      { _id: { s: "open", c: "rome" }, n: 1 },
      { _id: { s: "paid", c: "lima" }, n: 1 },
      { _id: { s: "paid", c: "oslo" }, n: 1 },
      { _id: { s: "paid", c: "rome" }, n: 1 },
    ]);
  });

  it("$count", async () => {
    expect(await run([{ $match: { status: "paid" } }, { $count: "paid" }])).toEqual([{ paid: 3 }]);
    expect(await run([{ $match: { status: "void" } }, { $count: "n" }])).toEqual([]);
  });

  it("$unwind, plain and with includeArrayIndex / preserveNullAndEmptyArrays", async () => {
    expect(await run([{ $unwind: "$items" }, { $sort: { _id: 1, items: 1 } }, { $project: { items: 1 } }])).toEqual([
      { _id: 1, items: "x" },
      { _id: 1, items: "y" },
      { _id: 2, items: "x" },
      { _id: 5, items: "z" },
    ]);
    expect(
      await run([
        { $unwind: { path: "$items", includeArrayIndex: "idx", preserveNullAndEmptyArrays: true } },
        { $sort: { _id: 1, idx: 1 } },
        { $project: { items: 1, idx: 1 } },
      ]),
    ).toEqual([
      { _id: 1, items: "x", idx: 0 },
      { _id: 1, items: "y", idx: 1 },
      { _id: 2, items: "x", idx: 0 },
      { _id: 3, idx: null },
      { _id: 4, idx: null },
      { _id: 5, items: "z", idx: 0 },
    ]);
  });

  it("$lookup by localField/foreignField", async () => {
    expect(
      await run([
        { $match: { _id: { $in: [1, 4] } } },
        { $sort: { _id: 1 } },
        { $lookup: { from: "customers", localField: "cust", foreignField: "_id", as: "customer" } },
        { $project: { customer: 1 } },
      ]),
    ).toEqual([
      { _id: 1, customer: [{ _id: "a", name: "Ann" }] },
      { _id: 4, customer: [] },
    ]);
  });

  it("$lookup with an array localField matches any element", async () => {
    const products = ctx().db.collection<TestDoc>("products");
    await products.insertMany([
      { _id: "x", price: 1 },
      { _id: "y", price: 2 },
      { _id: "z", price: 3 },
    ]);
    const [order] = await run([
      { $match: { _id: 1 } },
      { $lookup: { from: "products", localField: "items", foreignField: "_id", as: "products" } },
      { $project: { products: 1 } },
    ]);
    const found = (order?.["products"] as Document[]).map((p) => p["_id"] as string).sort();
    expect(found).toEqual(["x", "y"]);
  });

  it("$lookup with let and a pipeline", async () => {
    expect(
      await run([
        { $match: { _id: 2 } },
        {
          $lookup: {
            from: "customers",
            let: { c: "$cust" },
            pipeline: [{ $match: { $expr: { $eq: ["$_id", "$$c"] } } }, { $project: { _id: 0, name: 1 } }],
            as: "who",
          },
        },
        { $project: { who: 1 } },
      ]),
    ).toEqual([{ _id: 2, who: [{ name: "Bob" }] }]);
  });

  it("$graphLookup follows the chain with depthField and maxDepth", async () => {
    const employeesColl = ctx().db.collection<TestDoc>("employees");
    const graph = (maxDepth?: number): Document => ({
      $graphLookup: {
        from: "employees",
        startWith: "$boss",
        connectFromField: "boss",
        connectToField: "name",
        as: "chain",
        depthField: "depth",
        ...(maxDepth === undefined ? {} : { maxDepth }),
      },
    });
    const chainOf = async (maxDepth?: number): Promise<unknown[]> => {
      const [dev] = await employeesColl.aggregate([{ $match: { name: "dev" } }, graph(maxDepth)]).toArray();
      const chain = (dev?.["chain"] ?? []) as Document[];
      return chain.map((e): unknown[] => [e["name"], e["depth"]]).sort((a, b) => Number(a[1]) - Number(b[1]));
    };
    expect(await chainOf()).toEqual([
      ["mgr", 0],
      ["vp", 1],
      ["ceo", 2],
    ]);
    expect(await chainOf(1)).toEqual([
      ["mgr", 0],
      ["vp", 1],
    ]);
  });

  it("$facet runs sub-pipelines over the same input", async () => {
    expect(
      await run([
        {
          $facet: {
            byStatus: [{ $group: { _id: "$status", n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
            top: [{ $sort: { total: -1 } }, { $limit: 2 }, { $project: { _id: 1 } }],
          },
        },
      ]),
    ).toEqual([
      {
        byStatus: [
          { _id: "open", n: 2 },
          { _id: "paid", n: 3 },
        ],
        top: [{ _id: 4 }, { _id: 5 }],
      },
    ]);
  });

  it("$replaceRoot with a field and with an expression", async () => {
    expect(await run([{ $match: { _id: 1 } }, { $replaceRoot: { newRoot: "$ship" } }])).toEqual([{ city: "oslo", zip: "0150" }]);
    expect(await run([{ $match: { _id: 1 } }, { $replaceRoot: { newRoot: { id: "$_id", c: "$cust" } } }])).toEqual([{ id: 1, c: "a" }]);
  });

  it("pages a large aggregate result through getMore", async () => {
    const big = ctx().db.collection<TestDoc>("agg_big");
    await big.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, odd: i % 2 === 1 })));
    const result = await big.aggregate([{ $match: { odd: true } }, { $sort: { _id: -1 } }], { batchSize: 10 }).toArray();
    expect(result.map((d): unknown => d._id)).toEqual(Array.from({ length: 125 }, (_, i) => 249 - 2 * i));
  });
});

describe("counting helpers", () => {
  it("countDocuments with filter, skip and limit", async () => {
    expect(await ordersColl.countDocuments()).toBe(5);
    expect(await ordersColl.countDocuments({ status: "paid" })).toBe(3);
    expect(await ordersColl.countDocuments({ status: "paid" }, { skip: 1, limit: 1 })).toBe(1);
    expect(await ordersColl.countDocuments({}, { limit: 2 })).toBe(2);
    expect(await ordersColl.countDocuments({ status: "void" })).toBe(0);
    expect(await ctx().db.collection<TestDoc>("never_created").countDocuments()).toBe(0);
  });

  it("estimatedDocumentCount", async () => {
    expect(await ordersColl.estimatedDocumentCount()).toBe(5);
    expect(await ctx().db.collection<TestDoc>("never_created").estimatedDocumentCount()).toBe(0);
  });

  it("distinct flattens arrays and honours the filter", async () => {
    expect((await ordersColl.distinct("cust")).sort()).toEqual(["a", "b", "c"]);
    expect((await ordersColl.distinct("items")).sort()).toEqual(["x", "y", "z"]);
    expect((await ordersColl.distinct("cust", { status: "open" })).sort()).toEqual(["a", "b"]);
    expect((await ordersColl.distinct("ship.city")).sort()).toEqual(["lima", "oslo", "rome"]);
    expect(await ctx().db.collection<TestDoc>("never_created").distinct("x")).toEqual([]);
  });
});
