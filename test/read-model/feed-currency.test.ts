/**
 * How current a graph feed's batch says its consumer is (`currentAt`, from
 * which the read model's lag is measured). A reply that brought changes may
 * have been cut by the store (16 MiB) with more waiting, and does not say
 * so; if the cut falls between two transactions, the batch must not claim
 * the request's time, or a waiting backlog shows as no lag at all. The store
 * cannot be made to cut at a chosen event, so the stream's reply is ended
 * after the first transaction's end mark by the test (its `bufferedCount`
 * reports 0 there once): exactly what a cut between two transactions is to
 * the feed.
 */
import type { Db } from "mongodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ClusterTime } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { createDatabase, type Database } from "../../src/storage/database.ts";
import { historyCollection } from "../../src/storage/history-documents.ts";
import { openGraphFeed, type GraphFeed } from "../../src/storage/graph-changes.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { startReplica, writeOptions, type Replica } from "../fixtures/read-model-replicas.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";
import { wrapChangeStreams } from "../fixtures/wrapped-change-streams.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };

/** Makes the next `db.watch` stream end its reply after the first end mark it returns, once. */
function cutAfterFirstMark(db: Db): void {
  wrapChangeStreams(db, (stream) => {
    const tryNext = stream.tryNext.bind(stream);
    const bufferedCount = stream.bufferedCount.bind(stream);
    let cut: "armed" | "now" | "done" = "armed";
    stream.tryNext = async () => {
      const event = await tryNext();
      if (cut === "armed" && event !== null && "ns" in event && (event.ns as { coll?: string }).coll === historyCollection) cut = "now";
      return event;
    };
    stream.bufferedCount = () => {
      if (cut !== "now") return bufferedCount();
      cut = "done";
      return 0;
    };
  });
}

let mongo: TestMongo;
const dbName = uniqueDbName("feed-currency");
let writer: Replica;
let reader: Database;
let feed: GraphFeed;

beforeAll(async () => {
  mongo = await startTestMongo();
  writer = await startReplica(mongo.uri, dbName, false);
  reader = createDatabase(withDatabase(mongo.uri, dbName), { appName: "feed-reader", serverSelectionTimeoutMs: 10_000 });
  await reader.client.connect();
});

afterAll(async () => {
  await feed.close();
  await reader.client.close();
  await writer.close();
  await mongo.stop();
});

async function createGroup(slug: string): Promise<{ id: string; time: ClusterTime }> {
  const { options, committed } = writeOptions();
  const group = await writer.app.groups.create(root, groupInput(slug), "", options);
  return { id: group.id, time: committed() };
}

it("a reply ending between two transactions is current only as of the first one's commit, not as of its request", async () => {
  const start = await createGroup("currency-start");
  cutAfterFirstMark(reader.db);
  feed = openGraphFeed(reader, start.time, { maxAwaitMs: 50, groupBefore: () => undefined });
  expect((await feed.next()).changes).toEqual([]);

  await createGroup("currency-a");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const bStarted = Date.now();
  const b = await createGroup("currency-b");
  await new Promise((resolve) => setTimeout(resolve, 300));

  // The request is sent now, after both commits; its reply ends after A's mark, with B waiting.
  const first = await feed.next();
  expect(first.changes.length).toBeGreaterThan(0);
  expect(first.highWater).toBeDefined();
  expect((first.highWater ?? 0n) < b.time).toBe(true);
  expect(first.currentAt).toBeDefined();
  expect(first.currentAt ?? Number.POSITIVE_INFINITY).toBeLessThan(bStarted);

  // The rest comes with the next reply; a reply that brings nothing is current as of its request.
  const second = await feed.next();
  expect((second.highWater ?? 0n) >= b.time).toBe(true);
  const sent = Date.now();
  const idle = await feed.next();
  expect(idle.changes).toEqual([]);
  expect(idle.currentAt ?? 0).toBeGreaterThanOrEqual(sent);
});
