import { Double, Int32, Long, MongoClient, MongoServerError, type Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../index.ts";
import { expectPlainOk } from "../fixtures/expect-reply.ts";

/** Test documents: numeric ids, any other fields (including operators the driver types refuse). */
interface Loose {
  _id: number;
  [field: string]: unknown;
}

type Num = number | Int32 | Long | Double;
interface Numbers {
  _id: number;
  i: Num;
  l: Num;
  d: Num;
  small: Num;
}

let server: EmbeddedMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  server = await startEmbeddedMongo({ port: 0 });
  client = new MongoClient(server.uri, { maxPoolSize: 1 });
  db = client.db("edges");
});
afterAll(async () => {
  await client.close();
  await server.stop();
});

async function serverError(promise: Promise<unknown>): Promise<MongoServerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof MongoServerError) return err;
    throw err;
  }
  throw new Error("expected a MongoServerError");
}

describe("protocol edges through the driver", () => {
  it("keeps a single pooled connection in step after an unacknowledged (w:0) write", async () => {
    const coll = db.collection<Loose>("w0");
    const result = await coll.insertOne({ _id: 1, v: "quiet" }, { writeConcern: { w: 0 } });
    expect(result.acknowledged).toBe(false);
    // The next command shares the connection; a stray reply would be read as its answer.
    expectPlainOk(await db.command({ ping: 1 }));
    expect(await coll.countDocuments({ _id: 1 })).toBe(1);
  });

  it("closes a client with ended sessions (endSessions is w:0) without disturbing the server", async () => {
    const other = new MongoClient(server.uri);
    const session = other.startSession();
    await other.db("edges").collection("sessions").insertOne({ a: 1 }, { session });
    await session.endSession();
    await other.close();
    expectPlainOk(await db.command({ ping: 1 }));
  });

  it("answers unknown commands with CommandNotFound", async () => {
    const err = await serverError(db.command({ nosuch: 1 }));
    expect(err.code).toBe(59);
    expect(err.codeName).toBe("CommandNotFound");
    expect(err.message).toBe("no such command: 'nosuch'");
  });

  it("names an unknown update operator (FailedToParse)", async () => {
    const coll = db.collection<Loose>("ops");
    await coll.insertOne({ _id: 1, a: 1 });
    const err = await serverError(coll.updateOne({ _id: 1 }, { $frobnicate: { a: 2 } }));
    expect(err.code).toBe(9);
    expect(err.message).toContain("Unknown modifier: $frobnicate");
  });

  it("names an unknown query operator", async () => {
    const err = await serverError(
      db
        .collection<Loose>("ops")
        .find({ a: { $frobnicate: 1 } })
        .toArray(),
    );
    expect(err.code).toBe(2);
    expect(err.message).toContain("$frobnicate");
  });

  it("names an unknown aggregation stage (40324)", async () => {
    const err = await serverError(
      db
        .collection<Loose>("ops")
        .aggregate([{ $match: {} }, { $frobnicate: {} }])
        .toArray(),
    );
    expect(err.code).toBe(40324);
    expect(err.message).toBe("Unrecognized pipeline stage name: '$frobnicate'");
  });

  it("applies pipeline-style updates, keeping the BSON types of untouched values", async () => {
    const coll = db.collection<Loose>("pipeline");
    await coll.insertOne({ _id: 1, count: Long.fromNumber(7), ratio: new Double(2), name: "ada", nested: { keep: new Int32(1), drop: 1 } });
    await coll.updateOne({ _id: 1 }, [
      { $set: { upper: { $toUpper: "$name" }, total: { $add: ["$count", 1] } } },
      { $unset: "nested.drop" },
    ]);
    const doc = await coll.findOne({ _id: 1 }, { promoteValues: false });
    expect(doc).toEqual({
      _id: new Int32(1),
      count: Long.fromNumber(7),
      ratio: new Double(2),
      name: "ada",
      nested: { keep: new Int32(1) },
      upper: "ADA",
      total: expect.anything() as unknown,
    });
    expect(Number(doc?.["total"])).toBe(8);
    const upserted = await coll.updateOne({ _id: 2 }, [{ $set: { made: { $literal: true } } }], { upsert: true });
    expect(upserted.upsertedId).toBe(2);
    expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, made: true });
    const err = await serverError(coll.updateOne({ _id: 1 }, [{ $group: { _id: null } }]));
    expect(err.code).toBe(72);
    expect(err.message).toBe("$group is not allowed to be used within an update");
    const immutable = await serverError(coll.updateOne({ _id: 1 }, [{ $set: { _id: 5 } }]));
    expect(immutable.code).toBe(66);
  });

  it("passes aggregate `let` variables to $match/$expr and expressions", async () => {
    const coll = db.collection<Loose>("let");
    await coll.insertMany([
      { _id: 1, qty: 5 },
      { _id: 2, qty: 15 },
    ]);
    const result = await coll
      .aggregate([{ $match: { $expr: { $gt: ["$qty", "$$limit"] } } }, { $project: { over: { $subtract: ["$qty", "$$limit"] } } }], {
        let: { limit: 10 },
      })
      .toArray();
    expect(result).toEqual([{ _id: 2, over: 5 }]);
  });

  it("keeps numeric BSON types through $inc and $mul", async () => {
    const coll = db.collection<Numbers>("numbers");
    await coll.insertOne({ _id: 1, i: new Int32(2147483646), l: Long.fromNumber(5), d: new Double(1.5), small: new Int32(3) });
    await coll.updateOne({ _id: 1 }, { $inc: { i: new Int32(1), l: new Int32(1), d: new Int32(1), small: new Int32(1) } });
    let doc = await coll.findOne({ _id: 1 }, { promoteValues: false });
    expect(doc?.["i"]).toEqual(new Int32(2147483647));
    expect(doc?.["l"]).toEqual(Long.fromNumber(6));
    expect(doc?.["d"]).toEqual(new Double(2.5));
    expect(doc?.["small"]).toEqual(new Int32(4));
    await coll.updateOne({ _id: 1 }, { $inc: { i: new Int32(1) }, $mul: { small: new Double(0.5) } });
    doc = await coll.findOne({ _id: 1 }, { promoteValues: false });
    expect(doc?.["i"]).toEqual(Long.fromNumber(2147483648));
    expect(doc?.["small"]).toEqual(new Double(2));
  });

  it("rejects changing _id with ImmutableField (66)", async () => {
    const coll = db.collection<Loose>("ids");
    await coll.insertOne({ _id: 1, a: 1 });
    const err = await serverError(coll.updateOne({ _id: 1 }, { $set: { _id: 2 } }));
    expect(err.code).toBe(66);
    const replaced = await serverError(coll.replaceOne({ _id: 1 }, { _id: 3, a: 2 }));
    expect(replaced.code).toBe(66);
  });

  it("pages a cursor with getMore and the driver's batchSize", async () => {
    const coll = db.collection<{ _id: number }>("paging");
    await coll.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i })));
    const ids = (await coll.find({}).sort({ _id: 1 }).batchSize(7).toArray()).map((d) => d._id);
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => i));
    const reply = await db.command({ find: "paging", filter: {} });
    expect((reply["cursor"] as { firstBatch: unknown[] }).firstBatch).toHaveLength(101);
  });
});

describe("large payloads", () => {
  it("round-trips more than 16 MiB of documents (batched inserts, size-capped batches)", async () => {
    const coll = db.collection<{ _id: number; blob: string }>("large");
    const blob = "x".repeat(1024 * 1024);
    await coll.insertMany(Array.from({ length: 24 }, (_, i) => ({ _id: i, blob })));
    const reply = await db.command({ find: "large", filter: {}, batchSize: 1000 });
    const first = (reply["cursor"] as { firstBatch: unknown[] }).firstBatch;
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(24);
    await db.command({ killCursors: "large", cursors: [(reply["cursor"] as { id: unknown }).id] });
    const all = await coll.find({}, { projection: { _id: 1 } }).toArray();
    expect(all).toHaveLength(24);
    const docs = await coll.find({}).toArray();
    expect(docs.every((d) => d.blob.length === blob.length)).toBe(true);
  });
});

describe("cursor lifetime", () => {
  it("closes cursors left idle past the timeout", async () => {
    const shortLived = await startEmbeddedMongo({ port: 0, cursorTimeoutMs: 200 });
    const c = new MongoClient(shortLived.uri);
    try {
      const coll = c.db("lifetime").collection<{ _id: number }>("idle");
      await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
      const reply = await c.db("lifetime").command({ find: "idle", batchSize: 2 });
      const id = (reply["cursor"] as { id: unknown }).id;
      const more = await c.db("lifetime").command({ getMore: id, collection: "idle", batchSize: 2 });
      expect((more["cursor"] as { nextBatch: unknown[] }).nextBatch).toEqual([{ _id: 2 }, { _id: 3 }]);
      await new Promise((r) => setTimeout(r, 600));
      await expect(c.db("lifetime").command({ getMore: id, collection: "idle" })).rejects.toMatchObject({
        code: 43,
        codeName: "CursorNotFound",
      });
    } finally {
      await c.close();
      await shortLived.stop();
    }
  });
});
