/**
 * Scratch records of a sync stream: which members the stream has
 * sent, and with what resulting role. A sync treats the members sent as the
 * complete desired set of a group of ANY size, so the set is kept here rather
 * than in server memory: at the end, the group's members are paged through
 * and those without a mark are removed. Marks are keyed per stream
 * (`<sync id> <member>`; principals never contain spaces) and deleted when the
 * stream ends; marks left behind by a crashed process are deleted by the next
 * sync once they are a day old (the embedded store has no TTL indexes).
 */
import type { AnyBulkWriteOperation, Collection } from "mongodb";
import type { Database } from "./database.ts";
import type { Role } from "../domain/model.ts";
import { driverCall } from "./driver-errors.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";

export const syncMarksCollection = "roster_sync_marks";

interface SyncMarkDoc {
  _id: string;
  /** The stream's sync id. */
  s: string;
  member: string;
  /** The member's role after the stream's operations (its simulated role in a dry run). */
  role: Role;
  createTime: Date;
}

/** A member sent by the stream, with its role after the operation. */
export interface SyncMark {
  readonly member: string;
  readonly role: Role;
}

export interface SyncMarkStore {
  /** Creates the indexes (idempotent) and deletes marks older than a day. */
  prepare(now: Date, call: StoreCall): Promise<void>;
  /** Records (or updates) marks of `syncId`. */
  mark(syncId: string, marks: readonly SyncMark[], now: Date, call: StoreCall): Promise<void>;
  /** The marks of `syncId` among `members`: member → role. */
  find(syncId: string, members: readonly string[], call: StoreCall): Promise<Map<string, Role>>;
  /** How many members of `syncId` are marked with `role`. */
  countWithRole(syncId: string, role: Role, call: StoreCall): Promise<number>;
  /** Deletes every mark of `syncId`. */
  clear(syncId: string, call: StoreCall): Promise<void>;
}

const staleAfterMs = 24 * 60 * 60 * 1000;

function markId(syncId: string, member: string): string {
  return `${syncId} ${member}`;
}

export function createSyncMarkStore({ db }: Database): SyncMarkStore {
  const marks: Collection<SyncMarkDoc> = db.collection<SyncMarkDoc>(syncMarksCollection);
  let prepared = false;
  return {
    async prepare(now, call) {
      if (!prepared) {
        await driverCall(() =>
          marks.createIndexes([
            // Counting a stream's ADMIN marks and clearing a stream's marks.
            { name: "sync_role", key: { s: 1, role: 1 } },
            // Deleting marks of crashed streams.
            { name: "create_time", key: { createTime: 1 } },
          ]),
        );
        prepared = true;
      }
      await driverCall(() => marks.deleteMany({ createTime: { $lt: new Date(now.getTime() - staleAfterMs) } }, operationOptions(call)));
    },

    async mark(syncId, entries, now, call) {
      if (entries.length === 0) return;
      const operations: AnyBulkWriteOperation<SyncMarkDoc>[] = entries.map((entry) => ({
        updateOne: {
          filter: { _id: markId(syncId, entry.member) },
          update: { $set: { s: syncId, member: entry.member, role: entry.role }, $setOnInsert: { createTime: now } },
          upsert: true,
        },
      }));
      await driverCall(() => marks.bulkWrite(operations, { ...operationOptions(call), ordered: false }));
    },

    async find(syncId, members, call) {
      const found = new Map<string, Role>();
      if (members.length === 0) return found;
      const docs = await driverCall(() =>
        marks
          .find(
            { _id: { $in: members.map((member) => markId(syncId, member)) } },
            { ...operationOptions(call), projection: { member: 1, role: 1 } },
          )
          .toArray(),
      );
      for (const doc of docs) found.set(doc.member, doc.role);
      return found;
    },

    async countWithRole(syncId, role, call) {
      return driverCall(() => marks.countDocuments({ s: syncId, role }, operationOptions(call)));
    },

    async clear(syncId, call) {
      await driverCall(() => marks.deleteMany({ s: syncId }, operationOptions(call)));
    },
  };
}
