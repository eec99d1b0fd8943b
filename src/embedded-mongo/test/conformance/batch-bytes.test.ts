/**
 * How much a getMore answers at once, as mongod counts it: 16 MiB of batch,
 * the batch array's keys included, so that a reply of tens of thousands of
 * small documents (or change events) stays within the 16 MiB + 16 KiB a
 * reply may have. Counting the documents alone once let such a reply overrun
 * it by a key's bytes per document, and the getMore failed with
 * BSONObjectTooLarge, over and over for a change stream with that backlog.
 */
import { BSON, type CommandSucceededEvent, type Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { recordReplies, useConformanceDb } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("batch-bytes");
const MiB = 1024 * 1024;
/** The largest reply a server sends: a 16 MiB document and 16 KiB of envelope. */
const maxReplyBytes = 16 * MiB + 16 * 1024;

interface SmallDoc {
  _id: number;
  s: string;
}

/** `count` documents of `bytes` bytes each. */
function smallDocs(from: number, count: number, bytes: number): SmallDoc[] {
  return Array.from({ length: count }, (_, i) => ({ _id: from + i, s: "x".repeat(bytes - 22) }));
}

function replySizes(replies: readonly CommandSucceededEvent[]): number[] {
  return replies.map((event) => BSON.calculateObjectSize(event.reply as Document));
}

describe("a getMore of many small documents", () => {
  it("a find answers in replies within the limit, every document once", { timeout: 120_000 }, async () => {
    const client = await ctx().newClient({ monitorCommands: true });
    const coll = client.db(ctx().db.databaseName).collection<SmallDoc>("small_find");
    // 20,000 documents of 1,000 bytes: 19 MiB, more than one batch, whose keys come to ~100 KiB a batch.
    await coll.insertMany(smallDocs(0, 20_000, 1_000));
    const getMores = recordReplies(client, "getMore");
    // The first batch is 101 documents, every getMore as much as fits (no batchSize).
    const docs = await coll.find({}).toArray();
    expect(new Set(docs.map((doc) => doc._id)).size).toBe(20_000);
    const sizes = replySizes(getMores);
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(maxReplyBytes);
  });

  it(
    "a change stream with a backlog of more than 16 MiB of events delivers it in replies within the limit",
    { timeout: 120_000 },
    async () => {
      const client = await ctx().newClient({ monitorCommands: true });
      const coll = client.db(ctx().db.databaseName).collection<SmallDoc>("small_events");
      const stream = coll.watch([], { maxAwaitTimeMS: 100 });
      expect(await stream.tryNext()).toBe(null);
      // 20,000 insert events of ~1.1 KB each: about 21 MiB waiting.
      await coll.insertMany(smallDocs(0, 20_000, 1_000));
      const getMores = recordReplies(client, "getMore");
      const seen = new Set<number>();
      while (seen.size < 20_000) {
        const event = await stream.tryNext();
        if (event === null) throw new Error(`the stream went idle after ${seen.size} of 20,000 events`);
        if (event.operationType === "insert") seen.add(event.documentKey._id);
      }
      await stream.close();
      const sizes = replySizes(getMores).filter((size) => size > MiB);
      expect(sizes.length).toBeGreaterThan(1);
      for (const size of sizes) expect(size).toBeLessThanOrEqual(maxReplyBytes);
    },
  );
});
