/**
 * Multi-document changes (a membership plus its group's member_count, a
 * group plus its idempotency record) run in one transaction. The driver's
 * `withTransaction` retries on write conflicts (TransientTransactionError);
 * we bound those retries by the request's deadline. Every transaction ends
 * with the write that marks its end in the change stream (transaction-end.ts).
 */
import { WriteConcern, type ClientSession, type MongoClient } from "mongodb";
import { deadlineExceeded } from "../domain/errors.ts";
import { clusterTimeOf } from "./cluster-time.ts";
import type { Database } from "./database.ts";
import { translateDriverError } from "./driver-errors.ts";
import { ensureTimeLeft, type StoreCall } from "./store-call.ts";
import { newTransactionEnd, writeTransactionEnd } from "./transaction-end.ts";

/** Without a deadline, a transaction (with its retries) gets this long. */
const defaultTransactionBudgetMs = 30_000;

/**
 * Runs `work` in a snapshot transaction with majority writes, retrying it on
 * write conflicts until the deadline. `work` receives a StoreCall carrying the
 * session and must pass it to every store operation, and must be safe to run
 * more than once (it re-reads what it depends on). The history records it
 * appends are written after it returns, as the transaction's last write.
 * Once committed, the commit's cluster time (the session's operationTime
 * after the commit) goes to `database.onCommit` and `call.onCommit`.
 */
export async function runTransaction<T>(database: Database, call: StoreCall, work: (txCall: StoreCall) => Promise<T>): Promise<T> {
  ensureTimeLeft(call);
  const deadline = call.deadline ?? Date.now() + defaultTransactionBudgetMs;
  const session = startSession(database.client);
  try {
    const result = await session.withTransaction(
      async () => {
        if (Date.now() >= deadline) throw deadlineExceeded("deadline exceeded while retrying a conflicting change");
        const transactionEnd = newTransactionEnd();
        const txCall: StoreCall =
          call.signal === undefined ? { session, deadline, transactionEnd } : { session, deadline, signal: call.signal, transactionEnd };
        const done = await work(txCall);
        await writeTransactionEnd(database, transactionEnd, txCall);
        return done;
      },
      {
        readConcern: { level: "snapshot" },
        writeConcern: new WriteConcern("majority"),
        maxCommitTimeMS: Math.max(1, Math.ceil(deadline - Date.now())),
      },
    );
    if (session.operationTime !== undefined) {
      const time = clusterTimeOf(session.operationTime);
      database.onCommit?.(time);
      call.onCommit?.(time);
    }
    return result;
  } catch (error) {
    throw translateDriverError(error);
  } finally {
    await session.endSession();
  }
}

/** A session of `client`; a closed client's refusal is translated like any driver error. */
function startSession(client: MongoClient): ClientSession {
  try {
    return client.startSession();
  } catch (error) {
    throw translateDriverError(error);
  }
}
