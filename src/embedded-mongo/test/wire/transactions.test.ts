import { Binary, Long } from "bson";
import { MongoClient, MongoServerError, type Db } from "mongodb";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../index.ts";
import { opMsg, rawConnect, type RawConnection } from "../fixtures/raw-wire-client.ts";

let server: EmbeddedMongo;
let client: MongoClient;
let db: Db;
const raws: RawConnection[] = [];

beforeAll(async () => {
  server = await startEmbeddedMongo({ port: 0 });
  client = new MongoClient(server.uri);
  db = client.db("txn");
});
afterAll(async () => {
  for (const r of raws) r.close();
  await client.close();
  await server.stop();
});

interface Counter {
  _id: string;
  n: number;
}

function lsid(): { id: Binary } {
  return { id: new Binary(Buffer.from(randomUUID().replaceAll("-", ""), "hex"), 4) };
}

async function raw(): Promise<RawConnection> {
  const r = await rawConnect(server.port);
  raws.push(r);
  return r;
}

async function rawCommand(r: RawConnection, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  r.send(opMsg({ body }));
  return (await r.next()).doc;
}

describe("transactions", () => {
  it("isolates uncommitted writes and publishes them on commit", async () => {
    const coll = db.collection<Counter>("isolation");
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: "a", n: 1 }, { session });
      expect(await coll.findOne({ _id: "a" }, { session })).toEqual({ _id: "a", n: 1 });
      expect(await coll.findOne({ _id: "a" })).toBeNull();
      await session.commitTransaction();
      expect(await coll.findOne({ _id: "a" })).toEqual({ _id: "a", n: 1 });
    } finally {
      await session.endSession();
    }
  });

  it("discards writes on abort", async () => {
    const coll = db.collection<Counter>("aborted");
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: "x", n: 1 }, { session });
      await session.abortTransaction();
      expect(await coll.countDocuments()).toBe(0);
    } finally {
      await session.endSession();
    }
  });

  it("serves getMore of a cursor opened inside the transaction from the transaction", async () => {
    const coll = db.collection<Counter>("txn-cursor");
    const session = client.startSession();
    try {
      await session.withTransaction(async () => {
        await coll.insertMany(
          Array.from({ length: 5 }, (_, i) => ({ _id: `k${i}`, n: i })),
          { session },
        );
        const seen = await coll.find({}, { session, batchSize: 2 }).toArray();
        expect(seen.map((d) => d.n)).toEqual([0, 1, 2, 3, 4]);
      });
    } finally {
      await session.endSession();
    }
  });

  it("makes an autocommit write wait for a conflicting transaction instead of failing", async () => {
    const coll = db.collection<Counter>("autocommit-wait");
    await coll.insertOne({ _id: "c", n: 0 });
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.updateOne({ _id: "c" }, { $inc: { n: 1 } }, { session });
      let settled = false;
      const outside = coll.updateOne({ _id: "c" }, { $inc: { n: 10 } }).finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(settled).toBe(false);
      await session.commitTransaction();
      expect((await outside).modifiedCount).toBe(1);
      expect(await coll.findOne({ _id: "c" })).toEqual({ _id: "c", n: 11 });
    } finally {
      await session.endSession();
    }
  });

  it("reports MaxTimeMSExpired when a conflicting autocommit write outlasts its maxTimeMS", async () => {
    const coll = db.collection<Counter>("autocommit-timeout");
    await coll.insertOne({ _id: "c", n: 0 });
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.updateOne({ _id: "c" }, { $inc: { n: 1 } }, { session });
      const started = Date.now();
      await expect(coll.updateOne({ _id: "c" }, { $inc: { n: 10 } }, { maxTimeMS: 200 })).rejects.toMatchObject({
        code: 50,
        codeName: "MaxTimeMSExpired",
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      await session.abortTransaction();
      expect(await coll.findOne({ _id: "c" })).toEqual({ _id: "c", n: 0 });
    } finally {
      await session.endSession();
    }
  });

  it("reports WriteConflict with TransientTransactionError so withTransaction retries", async () => {
    const coll = db.collection<Counter>("conflict");
    await coll.insertOne({ _id: "c", n: 0 });
    const holder = client.startSession();
    const contender = client.startSession();
    try {
      holder.startTransaction();
      await coll.updateOne({ _id: "c" }, { $inc: { n: 1 } }, { session: holder });

      contender.startTransaction();
      const err = await coll.updateOne({ _id: "c" }, { $inc: { n: 100 } }, { session: contender }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(112);
      expect((err as MongoServerError).codeName).toBe("WriteConflict");
      expect((err as MongoServerError).hasErrorLabel("TransientTransactionError")).toBe(true);
      await contender.abortTransaction();

      let attempts = 0;
      const retried = contender.withTransaction(async () => {
        attempts++;
        await coll.updateOne({ _id: "c" }, { $inc: { n: 100 } }, { session: contender });
      });
      await new Promise((r) => setTimeout(r, 100));
      await holder.commitTransaction();
      await retried;
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(await coll.findOne({ _id: "c" })).toEqual({ _id: "c", n: 101 });
    } finally {
      await holder.endSession();
      await contender.endSession();
    }
  });

  it("answers NoSuchTransaction (251, transient) for an unknown txnNumber and repeats a commit idempotently", async () => {
    const r = await raw();
    const session = lsid();
    const unknown = await rawCommand(r, {
      find: "nst",
      filter: {},
      lsid: session,
      txnNumber: Long.fromNumber(7),
      autocommit: false,
      $db: "txn",
    });
    expect(unknown).toMatchObject({ ok: 0, code: 251, codeName: "NoSuchTransaction", errorLabels: ["TransientTransactionError"] });

    const start = await rawCommand(r, {
      insert: "nst",
      documents: [{ _id: 1 }],
      lsid: session,
      txnNumber: Long.fromNumber(8),
      autocommit: false,
      startTransaction: true,
      $db: "txn",
    });
    expect(start).toMatchObject({ ok: 1, n: 1 });
    const commit = { commitTransaction: 1, lsid: session, txnNumber: Long.fromNumber(8), autocommit: false, $db: "admin" };
    expect(await rawCommand(r, commit)).toMatchObject({ ok: 1 });
    expect(await rawCommand(r, commit)).toMatchObject({ ok: 1 });
    expect(await rawCommand(r, { count: "nst", $db: "txn" })).toMatchObject({ ok: 1, n: 1 });

    // A newer txnNumber aborts the older, still-open transaction.
    await rawCommand(r, {
      insert: "nst",
      documents: [{ _id: 2 }],
      lsid: session,
      txnNumber: Long.fromNumber(9),
      autocommit: false,
      startTransaction: true,
      $db: "txn",
    });
    await rawCommand(r, {
      insert: "nst",
      documents: [{ _id: 3 }],
      lsid: session,
      txnNumber: Long.fromNumber(10),
      autocommit: false,
      startTransaction: true,
      $db: "txn",
    });
    const stale = await rawCommand(r, {
      commitTransaction: 1,
      lsid: session,
      txnNumber: Long.fromNumber(9),
      autocommit: false,
      $db: "admin",
    });
    expect(stale).toMatchObject({ ok: 0, code: 251 });
    expect(
      await rawCommand(r, { commitTransaction: 1, lsid: session, txnNumber: Long.fromNumber(10), autocommit: false, $db: "admin" }),
    ).toMatchObject({ ok: 1 });
    const ids = await rawCommand(r, { distinct: "nst", key: "_id", $db: "txn" });
    expect(ids["values"]).toEqual([1, 3]);
  });

  it("aborts the transaction when a statement fails, so the commit reports NoSuchTransaction", async () => {
    const coll = db.collection<Counter>("failed-statement");
    await coll.insertOne({ _id: "dup", n: 0 });
    const session = client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: "fresh", n: 1 }, { session });
      await expect(coll.insertOne({ _id: "dup", n: 1 }, { session })).rejects.toMatchObject({ code: 11000 });
      await expect(session.commitTransaction()).rejects.toMatchObject({ code: 251 });
      expect(await coll.findOne({ _id: "fresh" })).toBeNull();
    } finally {
      await session.endSession();
    }
  });
});

describe("retryable writes", () => {
  it("applies a retried write (same lsid and txnNumber) only once and replays its reply", async () => {
    const r = await raw();
    const session = lsid();
    await rawCommand(r, { insert: "retry", documents: [{ _id: "r", n: 0 }], $db: "txn" });
    const write = {
      update: "retry",
      updates: [{ q: { _id: "r" }, u: { $inc: { n: 1 } } }],
      lsid: session,
      txnNumber: Long.fromNumber(1),
      $db: "txn",
    };
    const first = await rawCommand(r, write);
    const second = await rawCommand(r, write);
    expect(first).toMatchObject({ ok: 1, n: 1, nModified: 1 });
    // The write's result is replayed; the reply's cluster time is the clock now, which an idle
    // tick of the store (as mongod's periodic no-op writer) may have advanced in between.
    const { $clusterTime: firstClock, operationTime: firstTime, ...firstResult } = first;
    const { $clusterTime: secondClock, operationTime: secondTime, ...secondResult } = second;
    expect(secondResult).toEqual(firstResult);
    const clockOf = (clock: unknown): bigint => BigInt((clock as { clusterTime: { toString(): string } }).clusterTime.toString());
    expect(clockOf(secondClock)).toBeGreaterThanOrEqual(clockOf(firstClock));
    expect(BigInt(String(secondTime))).toBeGreaterThanOrEqual(BigInt(String(firstTime)));
    const found = await rawCommand(r, { find: "retry", filter: { _id: "r" }, $db: "txn" });
    expect((found["cursor"] as { firstBatch: unknown[] }).firstBatch).toEqual([{ _id: "r", n: 1 }]);

    const next = await rawCommand(r, { ...write, txnNumber: Long.fromNumber(2) });
    expect(next).toMatchObject({ ok: 1, nModified: 1 });
    const old = await rawCommand(r, write);
    expect(old).toMatchObject({ ok: 0, code: 225, codeName: "TransactionTooOld" });
  });

  it("lets the driver's retryable writes through on a replica-set URI", async () => {
    const rs = new MongoClient(server.uri.replace("directConnection=true", "replicaSet=rs0"), { retryWrites: true });
    try {
      const coll = rs.db("txn").collection<Counter>("rs-retry");
      await coll.insertOne({ _id: "a", n: 1 });
      await coll.updateOne({ _id: "a" }, { $inc: { n: 1 } });
      expect(await coll.findOneAndUpdate({ _id: "a" }, { $inc: { n: 1 } }, { returnDocument: "after" })).toEqual({ _id: "a", n: 3 });
    } finally {
      await rs.close();
    }
  });
});

describe("abandoned transactions", () => {
  it("are aborted after the transaction lifetime, releasing their documents", async () => {
    const shortLived = await startEmbeddedMongo({ port: 0, transactionLifetimeMs: 200 });
    const c = new MongoClient(shortLived.uri);
    const session = c.startSession();
    try {
      const coll = c.db("txn").collection<Counter>("abandoned");
      await coll.insertOne({ _id: "c", n: 0 });
      session.startTransaction();
      await coll.updateOne({ _id: "c" }, { $inc: { n: 1 } }, { session });
      await new Promise((r) => setTimeout(r, 600));
      // No longer blocked by the abandoned write intent.
      const started = Date.now();
      await coll.updateOne({ _id: "c" }, { $inc: { n: 10 } }, { maxTimeMS: 2000 });
      expect(Date.now() - started).toBeLessThan(1000);
      await expect(session.commitTransaction()).rejects.toMatchObject({ code: 251 });
      expect(await coll.findOne({ _id: "c" })).toEqual({ _id: "c", n: 10 });
    } finally {
      await session.endSession();
      await c.close();
      await shortLived.stop();
    }
  });
});
