import { MongoClient, MongoServerError, Timestamp, type ChangeStreamDocument, type Db, type Document, type ResumeToken } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../index.ts";

let server: EmbeddedMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  server = await startEmbeddedMongo({ port: 0, changeLogRetention: 50 });
  client = new MongoClient(server.uri);
  db = client.db("streams");
});
afterAll(async () => {
  await client.close();
  await server.stop();
});

interface Item {
  _id: number;
  v: number;
}

describe("change streams", () => {
  it("delivers insert, update (with updateLookup), replace and delete events", async () => {
    const coll = db.collection<Item>("events");
    const stream = coll.watch([], { fullDocument: "updateLookup", maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext(); // opens the cursor before the writes
      await coll.insertOne({ _id: 1, v: 1 });
      await coll.updateOne({ _id: 1 }, { $set: { v: 2 } });
      await coll.replaceOne({ _id: 1 }, { v: 3 });
      await coll.deleteOne({ _id: 1 });
      const events: ChangeStreamDocument<Item>[] = [];
      for (let i = 0; i < 4; i++) events.push(await stream.next());
      expect(events.map((e) => e.operationType)).toEqual(["insert", "update", "replace", "delete"]);
      const [insert, update, replace, remove] = events;
      expect(insert).toMatchObject({ ns: { db: "streams", coll: "events" }, documentKey: { _id: 1 }, fullDocument: { _id: 1, v: 1 } });
      expect(update).toMatchObject({ updateDescription: { updatedFields: { v: 2 }, removedFields: [] } });
      // updateLookup reads the current document when the event is sent; by then it is gone or replaced.
      expect(update && "fullDocument" in update).toBe(true);
      expect(replace).toMatchObject({ fullDocument: { _id: 1, v: 3 } });
      expect(remove).toMatchObject({ documentKey: { _id: 1 } });
      expect(typeof (insert?._id as { _data: unknown })._data).toBe("string");
    } finally {
      await stream.close();
    }
  });

  it("applies further stages such as $match on operationType", async () => {
    const coll = db.collection<Item>("filtered");
    const stream = coll.watch([{ $match: { operationType: "delete" } }], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await coll.insertOne({ _id: 1, v: 1 });
      await coll.deleteOne({ _id: 1 });
      const event = await stream.next();
      expect(event.operationType).toBe("delete");
    } finally {
      await stream.close();
    }
  });

  it("resumes after a token, skipping what was already seen", async () => {
    const coll = db.collection<Item>("resume");
    const stream = coll.watch([], { maxAwaitTimeMS: 200 });
    let token: ResumeToken;
    try {
      await stream.tryNext();
      await coll.insertMany([
        { _id: 1, v: 1 },
        { _id: 2, v: 2 },
      ]);
      const first = await stream.next();
      token = first._id;
    } finally {
      await stream.close();
    }
    await coll.insertOne({ _id: 3, v: 3 });
    const resumed = coll.watch([], { resumeAfter: token, maxAwaitTimeMS: 200 });
    try {
      const keys: unknown[] = [];
      for (let i = 0; i < 2; i++) {
        const event = await resumed.next();
        if (event.operationType === "insert") keys.push(event.documentKey._id);
      }
      expect(keys).toEqual([2, 3]);
    } finally {
      await resumed.close();
    }
  });

  it("watches a whole database", async () => {
    const stream = db.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await db.collection<Item>("db-a").insertOne({ _id: 1, v: 1 });
      await db.collection<Item>("db-b").insertOne({ _id: 2, v: 2 });
      const a = await stream.next();
      const b = await stream.next();
      expect([a, b].map((e) => ("ns" in e ? e.ns : undefined))).toEqual([
        { db: "streams", coll: "db-a" },
        { db: "streams", coll: "db-b" },
      ]);
    } finally {
      await stream.close();
    }
  });

  it("ends a collection stream with drop and invalidate", async () => {
    const coll = db.collection<Item>("dropped");
    await coll.insertOne({ _id: 1, v: 1 });
    const stream = coll.watch([], { maxAwaitTimeMS: 200 });
    try {
      await stream.tryNext();
      await coll.drop();
      expect((await stream.next()).operationType).toBe("drop");
      expect((await stream.next()).operationType).toBe("invalidate");
    } finally {
      await stream.close();
    }
  });

  it("answers getMore after maxTimeMS with an empty batch and a postBatchResumeToken", async () => {
    const opened = await db.command({ aggregate: "quiet", pipeline: [{ $changeStream: {} }], cursor: {} });
    const cursor = opened["cursor"] as { id: unknown; ns: string; postBatchResumeToken: unknown };
    expect(cursor.ns).toBe("streams.quiet");
    expect(cursor.postBatchResumeToken).toMatchObject({ _data: expect.any(String) as unknown });
    const started = Date.now();
    const more = await db.command({ getMore: cursor.id, collection: "quiet", maxTimeMS: 150 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(more["cursor"]).toMatchObject({ nextBatch: [], postBatchResumeToken: { _data: expect.any(String) as unknown } });
    await db.command({ killCursors: "quiet", cursors: [cursor.id] });
  });

  it("reports ChangeStreamHistoryLost (286) for a token older than the retained log", async () => {
    const coll = db.collection<Item>("history");
    const stream = coll.watch([], { maxAwaitTimeMS: 100 });
    let token: ResumeToken;
    try {
      await stream.tryNext();
      await coll.insertOne({ _id: 0, v: 0 });
      token = (await stream.next())._id;
    } finally {
      await stream.close();
    }
    await coll.insertMany(Array.from({ length: 120 }, (_, i) => ({ _id: i + 1, v: i })));
    const err = await db.command({ aggregate: "history", pipeline: [{ $changeStream: { resumeAfter: token } }], cursor: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(286);
    expect((err as MongoServerError).codeName).toBe("ChangeStreamHistoryLost");
  });
});

describe("the change-log window and foreign tokens", () => {
  async function withServer<T>(options: Parameters<typeof startEmbeddedMongo>[0], fn: (db: Db) => Promise<T>): Promise<T> {
    const own = await startEmbeddedMongo({ port: 0, ...options });
    const c = new MongoClient(own.uri);
    try {
      return await fn(c.db("window"));
    } finally {
      await c.close();
      await own.stop();
    }
  }

  async function openError(own: Db, spec: Document): Promise<MongoServerError> {
    const err = await own.command({ aggregate: "w", pipeline: [{ $changeStream: spec }], cursor: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof MongoServerError)) throw new Error(`expected a server error, got ${String(err)}`);
    return err;
  }

  it("startAtOperationTime before the window is ChangeStreamHistoryLost (286)", async () => {
    await withServer({ changeLogRetention: 5 }, async (own) => {
      const first = await own.command({ insert: "w", documents: [{ _id: 0 }] });
      for (let i = 0; i < 10; i++) await own.command({ insert: "w", documents: [{ _id: 100 + i }] });
      const err = await openError(own, { startAtOperationTime: first["operationTime"] as Timestamp });
      expect([err.code, err.codeName]).toEqual([286, "ChangeStreamHistoryLost"]);
    });
  });

  it("events older than the age limit are gone: resuming before them is ChangeStreamHistoryLost", async () => {
    await withServer({ changeLogRetentionMs: 300 }, async (own) => {
      const stream = own.collection("w").watch([], { maxAwaitTimeMS: 50 });
      let token: ResumeToken;
      try {
        await stream.tryNext();
        await own.command({ insert: "w", documents: [{ _id: 1 }] });
        token = (await stream.next())._id;
      } finally {
        await stream.close();
      }
      // The change right after the token ages out of the window.
      await own.command({ insert: "w", documents: [{ _id: 2 }] });
      await new Promise((r) => setTimeout(r, 500));
      await own.command({ insert: "w", documents: [{ _id: 3 }] });
      expect((await openError(own, { resumeAfter: token })).code).toBe(286);
    });
  });

  it("a stream that falls behind the window fails with ChangeStreamHistoryLost instead of skipping changes", async () => {
    await withServer({ changeLogRetention: 5 }, async (own) => {
      const opened = await own.command({ aggregate: "w", pipeline: [{ $changeStream: {} }], cursor: { batchSize: 0 } });
      const id = (opened["cursor"] as { id: unknown }).id;
      for (let i = 0; i < 10; i++) await own.command({ insert: "w", documents: [{ _id: i }] });
      const err = await own.command({ getMore: id, collection: "w", maxTimeMS: 100 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(286);
      expect((err as MongoServerError).errorLabels).toContain("NonResumableChangeStreamError");
    });
  });

  it("a token another store issued is not found (ChangeStreamFatalError, 280), not silently misread", async () => {
    const token = await withServer({}, async (own) => {
      for (let i = 0; i < 3; i++) await own.command({ insert: "w", documents: [{ _id: i }] });
      const stream = own.collection("w").watch([], { startAtOperationTime: new Timestamp({ t: 1, i: 0 }), maxAwaitTimeMS: 50 });
      try {
        await stream.next();
        return (await stream.next())._id;
      } finally {
        await stream.close();
      }
    });
    await withServer({}, async (own) => {
      // Another store: same positions, other cluster times; and one with fewer changes than the token's position.
      for (let i = 0; i < 5; i++) await own.command({ insert: "w", documents: [{ _id: i }] });
      const err = await openError(own, { resumeAfter: token });
      expect([err.code, err.codeName]).toEqual([280, "ChangeStreamFatalError"]);
      expect(err.message).toMatch(/^cannot resume stream; the resume token was not found/);
    });
    await withServer({}, async (own) => {
      expect((await openError(own, { resumeAfter: token })).code).toBe(280);
    });
  });
});

describe("stopping", () => {
  it("stops promptly while a change-stream getMore is waiting", async () => {
    const own = await startEmbeddedMongo({ port: 0 });
    const c = new MongoClient(own.uri);
    try {
      const opened = await c.db("stop").command({ aggregate: "w", pipeline: [{ $changeStream: {} }], cursor: {} });
      const id = (opened["cursor"] as { id: unknown }).id;
      const waiting = c
        .db("stop")
        .command({ getMore: id, collection: "w", maxTimeMS: 10_000 })
        .catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await own.stop();
      expect(Date.now() - started).toBeLessThan(2000);
      await waiting;
    } finally {
      await c.close();
      await own.stop();
    }
  });
});
