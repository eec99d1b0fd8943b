/**
 * The change feed's source: a MongoDB change stream over the inserts into
 * the `history` collection. Every change writes its records in its own
 * transaction, so the inserts, in the order the change stream delivers them
 * (commit order, however the transactions interleaved), are the history in
 * commit order. Positions are the change stream's resume tokens (their
 * `_data` strings): resuming after one yields exactly the later records.
 *
 * Reads come a batch at a time (`next`): the records of one server batch,
 * each with the position just after it, and the position after the whole
 * batch. An empty batch still moves the position (MongoDB's
 * `postBatchResumeToken` advances with the cluster time while nothing is
 * written), which is what lets an idle consumer checkpoint. The driver
 * resumes the stream by itself after a resumable error (a lost connection,
 * a restarted server) from the last position it returned.
 */
import type { ChangeStream, ChangeStreamInsertDocument, Document } from "mongodb";
import type { ChangeRecord } from "../domain/change-record.ts";
import type { Database } from "./database.ts";
import { translateChangeStreamError } from "./driver-errors.ts";
import { historyCollection, historyFromDoc, type HistoryDoc } from "./history-documents.ts";

export interface HistoryFeedOptions {
  /** Continue after this position; undefined: from now. */
  readonly after: string | undefined;
  /** Only records of these groups; undefined: every group. */
  readonly groupIds: readonly string[] | undefined;
  /** Only records of groups in this namespace; undefined: every namespace. */
  readonly namespace: string | undefined;
  /** How long one read waits for a record before it returns an empty batch. */
  readonly awaitMs: number;
  /** Most records per batch. */
  readonly batchSize: number;
  /** The request field `after` came from, named by the errors about it. */
  readonly positionField: string;
}

/** One record and the position just after it. */
export interface FeedEntry {
  readonly record: ChangeRecord;
  readonly position: string;
}

/** One batch: its records in commit order, and the position after all of them (after an empty batch: now). */
export interface FeedBatch {
  readonly entries: readonly FeedEntry[];
  readonly position: string;
}

export interface HistoryFeed {
  /** The next batch; waits up to `awaitMs` for its first record. */
  next(): Promise<FeedBatch>;
  /** Closes the server's cursor (idempotent; never throws). */
  close(): Promise<void>;
}

type HistoryInsert = ChangeStreamInsertDocument<HistoryDoc>;

/** Opens the feed; nothing is sent to the server before the first `next`. */
export function openHistoryFeed({ db }: Database, options: HistoryFeedOptions): HistoryFeed {
  const match: Document = { operationType: "insert" };
  if (options.groupIds !== undefined) match["fullDocument.groupId"] = { $in: [...options.groupIds] };
  if (options.namespace !== undefined) match["fullDocument.namespace"] = options.namespace;
  const stream: ChangeStream<HistoryDoc, HistoryInsert> = db
    .collection<HistoryDoc>(historyCollection)
    .watch<HistoryDoc, HistoryInsert>([{ $match: match }], {
      maxAwaitTimeMS: options.awaitMs,
      batchSize: options.batchSize,
      ...(options.after === undefined ? {} : { resumeAfter: { _data: options.after } }),
    });
  let position = options.after;
  let opened = false;

  /** The position after what the stream returned last. */
  const current = (): string => {
    const token: unknown = stream.resumeToken;
    const data = typeof token === "object" && token !== null && "_data" in token ? token._data : undefined;
    if (typeof data === "string") position = data;
    if (position === undefined) throw new Error("the change stream reported no resume token");
    return position;
  };

  const read = async (): Promise<HistoryInsert | null> => {
    try {
      const event = await stream.tryNext();
      opened = true;
      return event;
    } catch (error) {
      throw translateChangeStreamError(error, options.positionField, opened);
    }
  };

  return {
    async next() {
      const first = await read();
      if (first === null) return { entries: [], position: current() };
      const entries: FeedEntry[] = [{ record: historyFromDoc(first.fullDocument), position: current() }];
      // The rest of the server's batch is buffered: no round trip.
      while (stream.bufferedCount() > 0 && entries.length < options.batchSize) {
        const event = await read();
        if (event === null) break;
        entries.push({ record: historyFromDoc(event.fullDocument), position: current() });
      }
      return { entries, position: current() };
    },
    async close() {
      await stream.close().catch(() => undefined);
    },
  };
}
