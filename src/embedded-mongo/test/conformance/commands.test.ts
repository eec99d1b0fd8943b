/**
 * Catalog and administrative commands (indexes, collections, databases, ping,
 * buildInfo) and how the server rejects what it does not know.
 */
import { describe, expect, it } from "vitest";
import type { Document } from "mongodb";
import { uniqueDbName } from "../../testing.ts";
import { expectServerError, useConformanceDb, listIndexes, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("commands");

describe("indexes", () => {
  it("createIndex / createIndexes / listIndexes / dropIndex / dropIndexes", async () => {
    const coll = ctx().db.collection<TestDoc>("idx");
    await coll.insertOne({ a: 1, b: 2, c: 3, d: 4, e: 5 });

    expect(await coll.createIndex({ a: 1 })).toBe("a_1");
    expect(await coll.createIndex({ b: -1, c: 1 }, { name: "bc" }, undefined)).toBe("bc");
    expect(
      await coll.createIndexes([
        { key: { d: 1 }, unique: true },
        { key: { e: 1 }, sparse: true },
      ]),
    ).toEqual(["d_1", "e_1"]);
    // An identical index again is a no-op, not an error.
    expect(await coll.createIndex({ a: 1 })).toBe("a_1");

    const indexes = await listIndexes(coll);
    const byName = new Map(indexes.map((ix) => [ix["name"] as string, ix]));
    expect([...byName.keys()].sort()).toEqual(["_id_", "a_1", "bc", "d_1", "e_1"]);
    expect(byName.get("_id_")?.["key"]).toEqual({ _id: 1 });
    const bc = byName.get("bc")?.["key"] as Document;
    expect(Object.entries(bc)).toEqual([
      ["b", -1],
      ["c", 1],
    ]);
    expect(byName.get("d_1")?.["unique"]).toBe(true);
    expect(byName.get("e_1")?.["sparse"]).toBe(true);
    expect(byName.get("a_1")?.["unique"]).toBeUndefined();
    expect(await coll.indexExists("bc")).toBe(true);

    await coll.dropIndex("a_1");
    expect(await coll.indexExists("a_1")).toBe(false);
    await coll.dropIndexes();
    expect((await listIndexes(coll)).map((ix) => ix["name"] as string)).toEqual(["_id_"]);
    // Documents survive dropping indexes.
    expect(await coll.countDocuments()).toBe(1);
  });

  it("rejects dropping a missing index (27) and the _id index (72)", async () => {
    const coll = ctx().db.collection<TestDoc>("idx_errors");
    await coll.insertOne({ a: 1 });
    const missing = await expectServerError(coll.dropIndex("nope_1"));
    expect(missing.code).toBe(27);
    expect(missing.codeName).toBe("IndexNotFound");
    const idIndex = await expectServerError(coll.dropIndex("_id_"));
    expect(idIndex.code).toBe(72);
    expect(idIndex.codeName).toBe("InvalidOptions");
  });

  it("rejects a different key under an existing index name (86)", async () => {
    const coll = ctx().db.collection<TestDoc>("idx_conflict");
    await coll.createIndex({ a: 1 }, { name: "same" }, undefined);
    const error = await expectServerError(coll.createIndex({ b: 1 }, { name: "same" }, undefined));
    expect(error.code).toBe(86);
    expect(error.codeName).toBe("IndexKeySpecsConflict");
  });

  it("listIndexes on a missing collection fails with NamespaceNotFound (26)", async () => {
    const error = await expectServerError(listIndexes(ctx().db.collection<TestDoc>("idx_missing")));
    expect(error.code).toBe(26);
  });
});

describe("collections and databases", () => {
  it("createCollection, implicit creation and listCollections", async () => {
    const { db } = ctx();
    await db.createCollection<TestDoc>("made_explicitly");
    await db.collection<TestDoc>("made_by_insert").insertOne({ x: 1 });

    const all = await db.listCollections().toArray();
    const names = all.map((c) => c.name);
    expect(names).toContain("made_explicitly");
    expect(names).toContain("made_by_insert");
    const explicit = all.find((c) => c.name === "made_explicitly");
    expect(explicit).toMatchObject({ name: "made_explicitly", type: "collection", options: {} });

    const filtered = await db.listCollections({ name: "made_by_insert" }, { nameOnly: true }).toArray();
    expect(filtered).toEqual([expect.objectContaining({ name: "made_by_insert", type: "collection" })]);
    expect(await db.listCollections({ name: "no_such_collection" }).toArray()).toEqual([]);
  });

  it("drop removes a collection with its documents and indexes", async () => {
    const { db } = ctx();
    const coll = db.collection<TestDoc>("to_drop");
    await coll.insertMany([{ a: 1 }, { a: 2 }]);
    await coll.createIndex({ a: 1 }, { unique: true }, undefined);
    expect(await coll.drop()).toBe(true);
    expect(await db.listCollections({ name: "to_drop" }).toArray()).toEqual([]);
    expect(await coll.countDocuments()).toBe(0);
    // Recreated implicitly without the old unique index.
    await coll.insertMany([{ a: 1 }, { a: 1 }]);
    expect((await listIndexes(coll)).map((ix) => ix["name"] as string)).toEqual(["_id_"]);
  });

  it("dropCollection of a missing collection does not throw", async () => {
    const { db, mongo } = ctx();
    const dropped = await db.dropCollection("never_existed");
    // MongoDB before 7.0 answers NamespaceNotFound (the driver returns false);
    // 7.0+ treats it as a no-op success (true). The embedded server is specified
    // to answer NamespaceNotFound, as the issue asks.
    expect(typeof dropped).toBe("boolean");
    if (mongo.embedded) expect(dropped).toBe(false);
  });

  it("dropDatabase removes every collection of that database only", async () => {
    const { client, db } = ctx();
    const other = client.db(uniqueDbName("commands_dropdb"));
    await other.collection<TestDoc>("a").insertOne({ x: 1 });
    await other.collection<TestDoc>("b").insertOne({ x: 2 });
    await db.collection<TestDoc>("survivor").insertOne({ x: 3 });
    expect(await other.dropDatabase()).toBe(true);
    expect(await other.listCollections().toArray()).toEqual([]);
    expect(await other.collection<TestDoc>("a").countDocuments()).toBe(0);
    expect(await db.collection<TestDoc>("survivor").countDocuments()).toBe(1);
  });
});

describe("server commands", () => {
  it("ping answers ok", async () => {
    const { client, db } = ctx();
    expect(await db.command({ ping: 1 })).toMatchObject({ ok: 1 });
    expect(await client.db("admin").admin().ping()).toMatchObject({ ok: 1 });
  });

  it("buildInfo reports a version string and matching versionArray", async () => {
    const info = await ctx().client.db("admin").admin().buildInfo();
    expect(info["version"]).toMatch(/^\d+\.\d+\.\d+/);
    const versionArray = info["versionArray"] as number[];
    expect(Array.isArray(versionArray)).toBe(true);
    const [major, minor] = (info["version"] as string).split(".").map(Number);
    expect(versionArray.slice(0, 2)).toEqual([major, minor]);
  });

  it("an unknown command fails with CommandNotFound (59)", async () => {
    const error = await expectServerError(ctx().db.command({ rosterNoSuchCommand: 1 }));
    expect(error.code).toBe(59);
    expect(error.codeName).toBe("CommandNotFound");
  });
});

describe("rejecting unknown operators", () => {
  it("an unknown query operator fails with BadValue (2)", async () => {
    const coll = ctx().db.collection<TestDoc>("unknown_ops");
    await coll.insertOne({ a: 1 });
    const fieldLevel = await expectServerError(coll.find({ a: { $roster: 1 } }).toArray());
    expect(fieldLevel.code).toBe(2);
    expect(fieldLevel.codeName).toBe("BadValue");
    const topLevel = await expectServerError(coll.find({ $roster: 1 }).toArray());
    expect(topLevel.code).toBe(2);
  });

  it("an unknown update operator fails with FailedToParse (9) and changes nothing", async () => {
    const coll = ctx().db.collection<TestDoc>("unknown_update");
    await coll.insertOne({ _id: 1, a: 1 });
    const error = await expectServerError(coll.updateOne({ _id: 1 }, { $roster: { a: 2 } }));
    expect(error.code).toBe(9);
    expect(error.codeName).toBe("FailedToParse");
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, a: 1 });
  });

  it("an unknown pipeline stage fails with 40324", async () => {
    const coll = ctx().db.collection<TestDoc>("unknown_stage");
    await coll.insertOne({ a: 1 });
    const error = await expectServerError(coll.aggregate([{ $roster: {} }]).toArray());
    expect(error.code).toBe(40324);
  });
});
