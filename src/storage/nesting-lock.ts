/**
 * Serialises changes to the nesting graphs (group members and parent ids).
 * A cycle check reads many edges but writes one; two concurrent edge
 * additions that together close a cycle would each pass their check under
 * snapshot isolation (write skew). Every such change therefore also updates
 * one shared document, so concurrent ones conflict and the driver retries the
 * loser, which then sees the winner's edge. User memberships, the common
 * case, never take this lock.
 */
import type { Database } from "./database.ts";
import { collectionNames, type LockDoc } from "./documents.ts";
import { driverCall } from "./driver-errors.ts";
import { nestingLockId } from "./indexes.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";

export interface NestingLock {
  /** Must be called inside the transaction that changes the graph. */
  take(call: StoreCall): Promise<void>;
}

export function createNestingLock({ db }: Database): NestingLock {
  const locks = db.collection<LockDoc>(collectionNames.locks);
  return {
    async take(call) {
      if (call.session === undefined) throw new Error("the nesting lock is only meaningful inside a transaction");
      await driverCall(() =>
        locks.updateOne({ _id: nestingLockId }, { $inc: { version: 1 } }, { ...operationOptions(call), upsert: true }),
      );
    },
  };
}
