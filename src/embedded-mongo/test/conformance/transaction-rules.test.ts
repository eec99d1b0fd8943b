/**
 * Transactions as MongoDB 7 defines them beyond reads and writes: DDL inside a
 * transaction (a new collection and its indexes, visible only with the
 * commit), the commands and options a transaction refuses, a plain write
 * blocked by a transaction's uncommitted key, and write concerns the
 * deployment cannot satisfy (reported, with the write applied).
 */
import { afterEach, describe, expect, it } from "vitest";
import { MongoWriteConcernError, WriteConcern, type ClientSession, type Document } from "mongodb";
import { expectServerError, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("txnrules");
const sessions: ClientSession[] = [];
let counter = 0;

afterEach(async () => {
  await Promise.allSettled(sessions.splice(0).map((s) => s.endSession()));
});

function startSession(): ClientSession {
  const session = ctx().client.startSession();
  sessions.push(session);
  return session;
}

function freshName(): string {
  counter += 1;
  return `rules_${counter}`;
}

async function collectionNames(): Promise<string[]> {
  return (await ctx().db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
}

async function indexNames(name: string): Promise<string[]> {
  const indexes: unknown[] = await ctx().db.collection(name).listIndexes().toArray();
  return indexes.map((i) => String((i as Document)["name"])).sort();
}

/** Resolves `promise`, or reports that it is still pending after `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return settled;
}

describe("DDL inside a transaction", () => {
  it("createCollection is invisible until commit and gone after abort", async () => {
    const committed = freshName();
    const aborted = freshName();
    const session = startSession();
    session.startTransaction();
    await ctx().db.createCollection(committed, { session });
    await ctx().db.collection<TestDoc>(committed).insertOne({ _id: 1 }, { session });
    expect(await collectionNames()).not.toContain(committed);
    await session.commitTransaction();
    expect(await collectionNames()).toContain(committed);
    expect(await ctx().db.collection<TestDoc>(committed).find().toArray()).toEqual([{ _id: 1 }]);

    session.startTransaction();
    await ctx().db.createCollection(aborted, { session });
    await session.abortTransaction();
    expect(await collectionNames()).not.toContain(aborted);
  });

  it("createIndex on a collection the transaction creates takes effect with the commit, and not after abort", async () => {
    const committed = freshName();
    const aborted = freshName();
    const session = startSession();
    session.startTransaction();
    await ctx().db.collection<TestDoc>(committed).createIndex({ k: 1 }, { session, unique: true, name: "k_1" }, undefined);
    await ctx().db.collection<TestDoc>(committed).insertOne({ _id: 1, k: "a" }, { session });
    expect(await collectionNames()).not.toContain(committed);
    await session.commitTransaction();
    expect(await indexNames(committed)).toEqual(["_id_", "k_1"]);
    expect((await expectServerError(ctx().db.collection<TestDoc>(committed).insertOne({ _id: 2, k: "a" }))).code).toBe(11000);

    session.startTransaction();
    await ctx().db.createCollection(aborted, { session });
    await ctx().db.collection<TestDoc>(aborted).createIndex({ k: 1 }, { session, name: "k_1" }, undefined);
    await session.abortTransaction();
    expect(await collectionNames()).not.toContain(aborted);
    await ctx().db.collection<TestDoc>(aborted).insertOne({ _id: 1 });
    expect(await indexNames(aborted)).toEqual(["_id_"]);
  });

  it("refuses createIndex on an existing collection and drop (OperationNotSupportedInTransaction, 263)", async () => {
    const existing = freshName();
    await ctx().db.createCollection(existing);
    const session = startSession();
    session.startTransaction();
    await ctx().db.collection<TestDoc>(existing).insertOne({ _id: 1 }, { session });
    const index = await expectServerError(ctx().db.collection<TestDoc>(existing).createIndex({ k: 1 }, { session }, undefined));
    expect([index.code, index.codeName]).toEqual([263, "OperationNotSupportedInTransaction"]);
    expect(index.message).toBe(
      `Cannot create new indexes on existing collection ${ctx().db.databaseName}.${existing} in a multi-document transaction.`,
    );
    await session.abortTransaction();

    session.startTransaction();
    await ctx().db.collection<TestDoc>(existing).insertOne({ _id: 2 }, { session });
    const drop = await expectServerError(ctx().db.command({ drop: existing }, { session }));
    expect([drop.code, drop.message]).toEqual([263, "Cannot run 'drop' in a multi-document transaction."]);
    await session.abortTransaction();
    expect(await collectionNames()).toContain(existing);
  });
});

describe("what a transaction refuses", () => {
  it("count (263, pointing to the alternative)", async () => {
    const name = freshName();
    await ctx().db.createCollection(name);
    const session = startSession();
    session.startTransaction();
    await ctx().db.collection<TestDoc>(name).insertOne({ _id: 1 }, { session });
    const error = await expectServerError(ctx().db.command({ count: name }, { session }));
    expect([error.code, error.codeName]).toEqual([263, "OperationNotSupportedInTransaction"]);
    expect(error.message).toBe(
      "Cannot run 'count' in a multi-document transaction. Please see http://dochub.mongodb.org/core/transaction-count for a recommended alternative.",
    );
    await session.abortTransaction();
  });

  it("a writeConcern on a statement (InvalidOptions, 72)", async () => {
    const name = freshName();
    await ctx().db.createCollection(name);
    const session = startSession();
    session.startTransaction();
    await ctx().db.collection<TestDoc>(name).insertOne({ _id: 1 }, { session });
    const error = await expectServerError(ctx().db.command({ insert: name, documents: [{ _id: 2 }], writeConcern: { w: 1 } }, { session }));
    expect([error.code, error.message]).toEqual([72, "writeConcern is not allowed within a multi-statement transaction"]);
    await session.abortTransaction();
    expect(await ctx().db.collection<TestDoc>(name).countDocuments()).toBe(0);
  });
});

describe("a write blocked by a transaction's uncommitted key", () => {
  it("waits for the transaction, then fails with 11000 when it committed the key", async () => {
    const name = freshName();
    const coll = await ctx().db.createCollection<TestDoc>(name);
    const session = startSession();
    session.startTransaction();
    await coll.insertOne({ _id: "k", by: "transaction" }, { session });
    const outside = coll.insertOne({ _id: "k", by: "outside" });
    expect(await settledWithin(outside, 300)).toBe(false);
    await session.commitTransaction();
    expect((await expectServerError(outside)).code).toBe(11000);
    expect(await coll.find().toArray()).toEqual([{ _id: "k", by: "transaction" }]);
  });

  it("waits for the transaction, then succeeds when it aborted", async () => {
    const name = freshName();
    const coll = await ctx().db.createCollection<TestDoc>(name);
    await coll.createIndex({ email: 1 }, { unique: true }, undefined);
    const session = startSession();
    session.startTransaction();
    await coll.insertOne({ _id: 1, email: "a@x" }, { session });
    const outside = coll.insertOne({ _id: 2, email: "a@x" });
    expect(await settledWithin(outside, 300)).toBe(false);
    await session.abortTransaction();
    await outside;
    expect(await coll.find().toArray()).toEqual([{ _id: 2, email: "a@x" }]);
  });

  it("gives up at its maxTimeMS with MaxTimeMSExpired (50)", async () => {
    const name = freshName();
    const coll = await ctx().db.createCollection<TestDoc>(name);
    const session = startSession();
    session.startTransaction();
    await coll.insertOne({ _id: "k" }, { session });
    const error = await expectServerError(ctx().db.command({ insert: name, documents: [{ _id: "k" }], maxTimeMS: 200 }));
    expect(error.code).toBe(50);
    await session.abortTransaction();
    expect(await coll.countDocuments()).toBe(0);
  });
});

describe("write concerns the deployment cannot satisfy", () => {
  // w: 50 (the largest legal w) cannot be met by any test deployment; a one-member set refuses w: 2 and up alike.
  it("an unsatisfiable w is reported as writeConcernError UnsatisfiableWriteConcern (100), with the write applied", async () => {
    const coll = await ctx().db.createCollection<TestDoc>(freshName());
    const error = await coll.insertOne({ _id: 1 }, { writeConcern: { w: 50 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    const wce = error as MongoWriteConcernError;
    expect([wce.code, wce.codeName]).toEqual([100, "UnsatisfiableWriteConcern"]);
    expect(wce.errInfo?.["writeConcern"]).toMatchObject({ w: 50 });
    expect(await coll.find().toArray()).toEqual([{ _id: 1 }]);
  });

  it("an unknown tag is reported as writeConcernError UnknownReplWriteConcern (79), with the write applied", async () => {
    const coll = await ctx().db.createCollection<TestDoc>(freshName());
    // The driver's types know only numbers and "majority"; a tag goes through a plain command.
    const error = await ctx()
      .db.command({ insert: coll.collectionName, documents: [{ _id: 1 }], writeConcern: { w: "noSuchTag" } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    const wce = error as MongoWriteConcernError;
    expect([wce.code, wce.codeName, wce.message]).toEqual([
      79,
      "UnknownReplWriteConcern",
      "No write concern mode named 'noSuchTag' found in replica set configuration",
    ]);
    expect(await coll.find().toArray()).toEqual([{ _id: 1 }]);
  });

  it("a commit with an unsatisfiable write concern commits and reports it", async () => {
    const coll = await ctx().db.createCollection<TestDoc>(freshName());
    const session = ctx().client.startSession({ defaultTransactionOptions: { writeConcern: new WriteConcern(50) } });
    sessions.push(session);
    session.startTransaction();
    await coll.insertOne({ _id: 1 }, { session });
    const error = await session.commitTransaction().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MongoWriteConcernError);
    expect((error as MongoWriteConcernError).code).toBe(100);
    expect(await coll.find().toArray()).toEqual([{ _id: 1 }]);
  });
});
