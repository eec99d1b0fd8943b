/**
 * The end of a Roster transaction, made recognisable in the change stream,
 * so that a reader of the stream (the read model's graph feed) applies a
 * transaction only once it holds all of it.
 *
 * Why a mark: MongoDB and the embedded store cut a change-stream batch at
 * 16 MiB of events (or at the batch size), and with a backlog that cut can
 * fall inside a transaction. Nothing in the batch tells: the
 * postBatchResumeToken is the last event's both when the batch was cut and
 * when the stream was exhausted (jstests/change_streams/
 * report_post_batch_resume_token.js), and `endOfTransaction` events are
 * MongoDB 7.1+ and single-shard only.
 *
 * How, at no extra write in the common case: a transaction's history records
 * (history-store `append`) are held here and written by `runTransaction` as
 * the transaction's last write, one insertMany, the last record flagged
 * `endsCommit`. A record is written for every change a caller can see, so
 * nearly every transaction that writes `groups` or `memberships` has one;
 * one that writes them without a record (an ACL set to what it was: a new
 * etag, no change to record) upserts its session's document in
 * `transaction_ends` instead: one small write, and one document per server
 * session (the driver reuses them), not per transaction. A transaction that
 * writes neither leaves no mark (it has no events to hold).
 *
 * On a replica set and on the embedded store a transaction's events are
 * contiguous in the stream, so the mark ends them; graph-changes.ts says
 * what the feed does with marks, and with writes that carry none (made
 * outside Roster).
 */
import type { Binary, Collection } from "mongodb";
import type { Database } from "./database.ts";
import { driverCall } from "./driver-errors.ts";
import { historyCollection, type HistoryDoc } from "./history-documents.ts";
import { operationOptions, type OperationOptions, type StoreCall } from "./store-call.ts";

/** The collection of the marks of transactions that write the graph but no history record. */
export const transactionEndsCollection = "transaction_ends";

/** What a transaction's writes leave for its end; one per attempt of `runTransaction`. */
export interface TransactionEnd {
  /** The transaction's history records, in `append` order, written last. */
  readonly history: HistoryDoc[];
  /** The transaction wrote `groups` or `memberships` (see `graphWriteOptions`). */
  graphWritten: boolean;
}

export function newTransactionEnd(): TransactionEnd {
  return { history: [], graphWritten: false };
}

/**
 * Driver options for a write to `groups` or `memberships`, noting the write
 * on the call's transaction. A graph write that skipped this and had no
 * history record would still be applied, only later (graph-changes.ts: at
 * the next mark or idle request).
 */
export function graphWriteOptions(call: StoreCall): OperationOptions {
  if (call.transactionEnd !== undefined) call.transactionEnd.graphWritten = true;
  return operationOptions(call);
}

interface TransactionEndDoc {
  /** The server session's id (lsid.id): one session runs one transaction at a time, so marks never conflict. */
  _id: Binary;
  commits: number;
}

/** Writes the end of the transaction `call` runs (its last write): the flagged history, else a mark if the graph was written. */
export async function writeTransactionEnd(database: Database, end: TransactionEnd, call: StoreCall): Promise<void> {
  const last = end.history.at(-1);
  if (last !== undefined) {
    last.endsCommit = true;
    const history: Collection<HistoryDoc> = database.db.collection<HistoryDoc>(historyCollection);
    await driverCall(() => history.insertMany(end.history, { ...operationOptions(call), ordered: true }));
    return;
  }
  const sessionId = call.session?.id?.id;
  if (!end.graphWritten || sessionId === undefined) return;
  const marks = database.db.collection<TransactionEndDoc>(transactionEndsCollection);
  await driverCall(() => marks.updateOne({ _id: sessionId }, { $inc: { commits: 1 } }, { ...operationOptions(call), upsert: true }));
}
