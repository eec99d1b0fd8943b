/**
 * Multi-document transactions through the driver's session API: isolation,
 * commit, abort, snapshot reads, write conflicts and withTransaction retries.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MongoClient, type ClientSession, type Collection, type Document } from "mongodb";
import { clientOptions, expectServerError, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("txn");
const externalDeployment = Boolean(process.env["MONGODB_URI"]);
let counter = 0;
let coll: Collection<TestDoc>;
const sessions: ClientSession[] = [];

function startSession(client: MongoClient = ctx().client): ClientSession {
  const session = client.startSession();
  sessions.push(session);
  return session;
}

beforeEach(async () => {
  counter += 1;
  // Created up front: older servers cannot create collections inside a transaction.
  coll = await ctx().db.createCollection<TestDoc>(`txn_${counter}`);
  await coll.insertMany([
    { _id: 1, v: 1 },
    { _id: 2, v: 2 },
  ]);
});

afterEach(async () => {
  await Promise.allSettled(sessions.splice(0).map((s) => s.endSession()));
});

async function snapshotOf(target: Collection<TestDoc> = coll): Promise<Document[]> {
  return target.find().sort({ _id: 1 }).toArray();
}

describe("commit and abort", () => {
  it("withTransaction commits every write together", async () => {
    const session = startSession();
    const other = ctx().db.collection<TestDoc>(`txn_other_${counter}`);
    await ctx().db.createCollection<TestDoc>(other.collectionName);
    await session.withTransaction(async () => {
      await coll.insertOne({ _id: 3, v: 3 }, { session });
      await coll.updateOne({ _id: 1 }, { $inc: { v: 10 } }, { session });
      await coll.deleteOne({ _id: 2 }, { session });
      await other.insertOne({ _id: "x" }, { session });
    });
    expect(await snapshotOf()).toEqual([
      { _id: 1, v: 11 },
      { _id: 3, v: 3 },
    ]);
    expect(await snapshotOf(other)).toEqual([{ _id: "x" }]);
  });

  it("writes are invisible outside the transaction until commit, visible inside", async () => {
    const session = startSession();
    const outsider = await ctx().newClient();
    const outsiderColl = outsider.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);
    const otherSession = startSession();
    const before = await snapshotOf();

    session.startTransaction();
    await coll.insertOne({ _id: 3, v: 3 }, { session });
    await coll.updateOne({ _id: 1 }, { $set: { v: 100 } }, { session });
    await coll.deleteOne({ _id: 2 }, { session });

    const inside = await coll.find({}, { session }).sort({ _id: 1 }).toArray();
    expect(inside).toEqual([
      { _id: 1, v: 100 },
      { _id: 3, v: 3 },
    ]);
    expect(await coll.countDocuments({}, { session })).toBe(2);

    expect(await snapshotOf()).toEqual(before);
    expect(await outsiderColl.find().sort({ _id: 1 }).toArray()).toEqual(before);
    expect(await coll.find({}, { session: otherSession }).sort({ _id: 1 }).toArray()).toEqual(before);
    expect(await outsiderColl.findOne({ _id: 3 })).toBeNull();

    await session.commitTransaction();
    const after = [
      { _id: 1, v: 100 },
      { _id: 3, v: 3 },
    ];
    expect(await snapshotOf()).toEqual(after);
    expect(await outsiderColl.find().sort({ _id: 1 }).toArray()).toEqual(after);
  });

  it("cursors and aggregations inside a transaction page through getMore and see its own writes", async () => {
    const session = startSession();
    session.startTransaction();
    await coll.insertMany(
      Array.from({ length: 10 }, (_, i) => ({ _id: 100 + i, v: i })),
      { session },
    );
    const found = await coll.find({}, { session, batchSize: 3 }).sort({ _id: 1 }).toArray();
    expect(found.map((d) => d._id)).toEqual([1, 2, ...Array.from({ length: 10 }, (_, i) => 100 + i)]);
    const [sum] = await coll.aggregate([{ $group: { _id: null, total: { $sum: "$v" } } }], { session }).toArray();
    expect(sum).toEqual({ _id: null, total: 1 + 2 + 45 });
    await session.commitTransaction();
    expect(await coll.countDocuments()).toBe(12);
  });

  it("abortTransaction discards every write", async () => {
    const session = startSession();
    const before = await snapshotOf();
    session.startTransaction();
    await coll.insertOne({ _id: 3, v: 3 }, { session });
    await coll.updateOne({ _id: 1 }, { $set: { v: 100 } }, { session });
    await coll.deleteOne({ _id: 2 }, { session });
    await session.abortTransaction();
    expect(await snapshotOf()).toEqual(before);

    // The aborted writes leave no write intents behind: the same documents can be written again.
    await coll.updateOne({ _id: 1 }, { $set: { v: 5 } });
    await coll.insertOne({ _id: 3, v: 30 });
    expect(await snapshotOf()).toEqual([
      { _id: 1, v: 5 },
      { _id: 2, v: 2 },
      { _id: 3, v: 30 },
    ]);
  });

  it("an error thrown by the withTransaction callback aborts", async () => {
    const session = startSession();
    const failure = new Error("callback failed");
    await expect(
      session.withTransaction(async () => {
        await coll.insertOne({ _id: 3 }, { session });
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await coll.findOne({ _id: 3 })).toBeNull();
  });

  it("commitTransaction can be repeated after a successful commit", async () => {
    const session = startSession();
    session.startTransaction();
    await coll.insertOne({ _id: 3, v: 3 }, { session });
    await session.commitTransaction();
    await session.commitTransaction();
    expect(await coll.countDocuments({ _id: 3 })).toBe(1);
  });

  it("a duplicate key inside a transaction fails the statement", async () => {
    const session = startSession();
    session.startTransaction();
    const error = await expectServerError(coll.insertOne({ _id: 1 }, { session }));
    expect(error.code).toBe(11000);
    await session.abortTransaction();
    expect(await snapshotOf()).toEqual([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
    ]);
  });
});

describe("snapshot isolation", () => {
  it("reads inside a transaction see one snapshot, not later commits", async () => {
    const session = startSession();
    session.startTransaction({ readConcern: { level: "snapshot" } });
    expect(await coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1, v: 1 });

    await coll.updateOne({ _id: 1 }, { $set: { v: 50 } });
    await coll.insertOne({ _id: 3, v: 3 });
    await coll.deleteOne({ _id: 2 });

    expect(await coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1, v: 1 });
    expect(await coll.find({}, { session }).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
    ]);
    expect(await coll.countDocuments({}, { session })).toBe(2);
    await session.commitTransaction();

    expect(await snapshotOf()).toEqual([
      { _id: 1, v: 50 },
      { _id: 3, v: 3 },
    ]);
  });

  it("index lookups inside a transaction use the snapshot's index entries", async () => {
    await coll.createIndex({ tag: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { tag: "a" } });
    const session = startSession();
    session.startTransaction({ readConcern: { level: "snapshot" } });
    expect((await coll.find({ tag: "a" }, { session }).toArray()).map((d) => d._id)).toEqual([1]);

    await coll.updateOne({ _id: 1 }, { $set: { tag: "z" } });
    await coll.insertOne({ _id: 3, tag: "a" });

    expect((await coll.find({ tag: "a" }, { session }).toArray()).map((d) => d._id)).toEqual([1]);
    expect(await coll.find({ tag: "z" }, { session }).toArray()).toEqual([]);
    await session.commitTransaction();
    expect((await coll.find({ tag: "a" }).toArray()).map((d) => d._id)).toEqual([3]);
  });
});

describe("write conflicts", () => {
  it("the second of two transactions writing one document gets WriteConflict (112), labelled transient", async () => {
    const first = startSession();
    const secondClient = await ctx().newClient();
    const second = startSession(secondClient);
    const secondColl = secondClient.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);

    first.startTransaction();
    second.startTransaction();
    await coll.updateOne({ _id: 1 }, { $set: { v: "first" } }, { session: first });
    const error = await expectServerError(secondColl.updateOne({ _id: 1 }, { $set: { v: "second" } }, { session: second }));
    expect(error.code).toBe(112);
    expect(error.codeName).toBe("WriteConflict");
    expect(error.hasErrorLabel("TransientTransactionError")).toBe(true);

    await second.abortTransaction();
    await first.commitTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, v: "first" });
  });

  it("a transaction writing a document changed outside it after its snapshot gets WriteConflict (112)", async () => {
    const session = startSession();
    session.startTransaction();
    expect(await coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1, v: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { v: "outside" } });
    const error = await expectServerError(coll.updateOne({ _id: 1 }, { $set: { v: "inside" } }, { session }));
    expect(error.code).toBe(112);
    expect(error.hasErrorLabel("TransientTransactionError")).toBe(true);
    await session.abortTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, v: "outside" });
  });

  it("a write outside any transaction waits for the transaction holding the document, then applies", async () => {
    const session = startSession();
    session.startTransaction();
    await coll.updateOne({ _id: 1 }, { $inc: { v: 10 } }, { session });
    let settled = false;
    const outside = coll.updateOne({ _id: 1 }, { $inc: { v: 100 } }).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    await session.commitTransaction();
    expect((await outside).modifiedCount).toBe(1);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, v: 111 });
  });

  it("two transactions inserting the same unique key never both commit", async () => {
    // Sparse: the fixture's documents have no email.
    await coll.createIndex({ email: 1 }, { unique: true, sparse: true }, undefined);
    const first = startSession();
    const second = startSession();
    first.startTransaction();
    second.startTransaction();
    await coll.insertOne({ _id: 10, email: "same@x" }, { session: first });
    // MongoDB rejects the second insert at once (WriteConflict or DuplicateKey); a server
    // that defers the check must then refuse the second commit instead.
    let secondFailedEarly = false;
    try {
      await coll.insertOne({ _id: 11, email: "same@x" }, { session: second });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      expect([112, 11000]).toContain(code);
      secondFailedEarly = true;
    }
    await first.commitTransaction();
    if (secondFailedEarly) await second.abortTransaction();
    else expect([112, 11000, 251]).toContain((await expectServerError(second.commitTransaction())).code);
    expect((await coll.find({ email: "same@x" }).toArray()).map((d) => d._id)).toEqual([10]);
  });

  it("withTransaction retries a conflicted attempt until it commits", async () => {
    const session = startSession();
    const blocker = startSession();
    blocker.startTransaction();
    await coll.updateOne({ _id: 1 }, { $set: { blocker: true } }, { session: blocker });

    let attempts = 0;
    await session.withTransaction(async () => {
      attempts += 1;
      try {
        await coll.updateOne({ _id: 1 }, { $inc: { v: 1 } }, { session });
      } finally {
        // Lets the retry through: the conflicting transaction is gone after the first attempt.
        if (attempts === 1) await blocker.commitTransaction();
      }
    });

    expect(attempts).toBeGreaterThan(1);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, v: 2, blocker: true });
  });
});

/** The same URI with one topology option set and the other removed. */
function withTopologyOption(uri: string, option: "directConnection" | "replicaSet", value: string): string {
  const url = new URL(uri);
  url.searchParams.delete("directConnection");
  url.searchParams.delete("replicaSet");
  url.searchParams.set(option, value);
  return url.toString();
}

describe("connection string topologies", () => {
  const variants = [
    ["directConnection", "true"],
    ["replicaSet", "rs0"],
  ] as const;

  for (const [option, value] of variants) {
    it.skipIf(externalDeployment)(
      `${option}=${value} runs a transaction (embedded only: with MONGODB_URI the given URI decides the topology)`,
      async () => {
        const client = new MongoClient(withTopologyOption(ctx().mongo.uri, option, value), clientOptions);
        try {
          await client.connect();
          const target = client.db(ctx().db.databaseName).collection<TestDoc>(coll.collectionName);
          const session = client.startSession();
          try {
            await session.withTransaction(async () => {
              await target.insertOne({ _id: 10, via: option }, { session });
              await target.updateOne({ _id: 1 }, { $set: { via: option } }, { session });
            });
          } finally {
            await session.endSession();
          }
          expect(await coll.find({ via: option }).sort({ _id: 1 }).toArray()).toEqual([
            { _id: 1, v: 1, via: option },
            { _id: 10, via: option },
          ]);
        } finally {
          await client.close();
        }
      },
    );
  }
});
