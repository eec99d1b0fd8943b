/**
 * Idempotency records of CreateGroup: one per (caller, request_id), written
 * in the same transaction as the group, so a repeated or concurrent request
 * finds the group the first one created.
 */
import type { Collection } from "mongodb";
import type { Database } from "./database.ts";
import { collectionNames, type GroupRequestDoc } from "./documents.ts";
import { driverCall } from "./driver-errors.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";

export interface GroupRequestStore {
  /** The id of the group created by this caller's request, if any. */
  find(principal: string, requestId: string, call: StoreCall): Promise<string | undefined>;
  /** already_exists when the caller already used this request id. */
  insert(principal: string, requestId: string, groupId: string, time: Date, call: StoreCall): Promise<void>;
}

/** Principals contain no whitespace, so "<principal> <request id>" is unambiguous. */
function requestKey(principal: string, requestId: string): string {
  return `${principal} ${requestId}`;
}

export function createGroupRequestStore({ db }: Database): GroupRequestStore {
  const requests: Collection<GroupRequestDoc> = db.collection<GroupRequestDoc>(collectionNames.groupRequests);
  return {
    async find(principal, requestId, call) {
      const doc = await driverCall(() => requests.findOne({ _id: requestKey(principal, requestId) }, operationOptions(call)));
      return doc?.groupId;
    },
    async insert(principal, requestId, groupId, time, call) {
      await driverCall(
        () => requests.insertOne({ _id: requestKey(principal, requestId), groupId, createTime: time }, operationOptions(call)),
        `request_id "${requestId}" was already used by ${principal}`,
      );
    },
  };
}
