/**
 * Queries and writes on the `history` collection: the records of every
 * change, written by the change's own transaction (`append`; in a
 * transaction, held and written as its last write, one insertMany however
 * many records: transaction-end.ts), read a group's page at a time newest
 * first, and deleted past the retention period in bounded batches.
 */
import { ObjectId, type Collection, type Filter } from "mongodb";
import type { ChangeDraft, ChangeRecord } from "../domain/change-record.ts";
import type { Database } from "./database.ts";
import { driverCall } from "./driver-errors.ts";
import { historyCollection, historyFromDoc, historyToDoc, type HistoryDoc } from "./history-documents.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";

/** Which records of a group a page reads. */
export interface HistoryQuery {
  readonly groupId: string;
  /** Only records of this member's membership. */
  readonly member: string | undefined;
  /** Only records at or after this time. */
  readonly since: Date | undefined;
  /** Only records before this time. */
  readonly until: Date | undefined;
}

/** A keyset position: the time and id of the last record of the previous page. */
export interface HistoryKeyset {
  readonly time: Date;
  /** A record id (24 hex digits, as `ChangeRecord.id`). */
  readonly id: string;
}

export interface HistoryStore {
  /**
   * Writes the records of one transaction's changes (pass its StoreCall), in
   * order: in `runTransaction`, with the transaction's other records as its
   * last write (the transaction reads none of them back).
   */
  append(drafts: readonly ChangeDraft[], call: StoreCall): Promise<void>;
  /** One page of at most `limit` records, newest first (time, then id), strictly after `after`. */
  listPage(query: HistoryQuery, after: HistoryKeyset | undefined, limit: number, call: StoreCall): Promise<ChangeRecord[]>;
  /** Deletes at most `limit` of the oldest records older than `cutoff`; returns how many it deleted. */
  deleteOlderThan(cutoff: Date, limit: number, call: StoreCall): Promise<number>;
}

export function createHistoryStore({ db }: Database): HistoryStore {
  const history: Collection<HistoryDoc> = db.collection<HistoryDoc>(historyCollection);
  return {
    async append(drafts, call) {
      if (drafts.length === 0) return;
      // ObjectIds made in order increase: records of one commit (one time) keep their order in pages.
      const docs = drafts.map((draft) => historyToDoc(draft, new ObjectId()));
      if (call.transactionEnd !== undefined) {
        call.transactionEnd.history.push(...docs);
        return;
      }
      await driverCall(() => history.insertMany(docs, { ...operationOptions(call), ordered: true }));
    },

    async listPage(query, after, limit, call) {
      const clauses: Filter<HistoryDoc>[] = [{ groupId: query.groupId }];
      if (query.member !== undefined) clauses.push({ member: query.member });
      if (query.since !== undefined) clauses.push({ time: { $gte: query.since } });
      if (query.until !== undefined) clauses.push({ time: { $lt: query.until } });
      if (after !== undefined) {
        const id = new ObjectId(after.id);
        clauses.push({ $or: [{ time: { $lt: after.time } }, { time: after.time, _id: { $lt: id } }] });
      }
      const docs = await driverCall(() =>
        history.find({ $and: clauses }, { ...operationOptions(call), sort: { time: -1, _id: -1 }, limit }).toArray(),
      );
      return docs.map(historyFromDoc);
    },

    async deleteOlderThan(cutoff, limit, call) {
      const old = await driverCall(() =>
        history.find({ time: { $lt: cutoff } }, { ...operationOptions(call), sort: { time: 1 }, limit, projection: { _id: 1 } }).toArray(),
      );
      if (old.length === 0) return 0;
      // By id: several replicas sweeping at once delete each record once, and the others find it gone.
      const result = await driverCall(() => history.deleteMany({ _id: { $in: old.map((doc) => doc._id) } }, operationOptions(call)));
      return result.deletedCount;
    },
  };
}
