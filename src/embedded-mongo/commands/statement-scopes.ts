/**
 * The two ways a statement reaches the engine: on its own (a fresh engine
 * transaction per attempt, committed at once, retried on WriteConflict with a
 * bounded backoff as mongod does for autocommit writes), or inside the
 * session's multi-statement transaction.
 */
import type { Engine, Transaction } from "../engine/types.ts";
import { commandError, errorCodes, isCodedError } from "../errors.ts";
import type { StatementScope } from "./command-context.ts";

/**
 * Upper bound for retrying an autocommit write that keeps conflicting, when
 * the client gave no maxTimeMS (then WriteConflict is reported); with one,
 * retries last until it and MaxTimeMSExpired (50) is reported, as mongod does.
 */
export const defaultWriteConflictBudgetMs = 5000;

function isWriteConflict(err: unknown): boolean {
  return isCodedError(err) && err.code === errorCodes.WriteConflict;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function autocommitScope(engine: Engine, maxTimeMS: number | undefined): StatementScope {
  const budget = maxTimeMS !== undefined && maxTimeMS > 0 ? maxTimeMS : defaultWriteConflictBudgetMs;
  return {
    inTransaction: false,
    read(fn) {
      const tx = engine.begin();
      try {
        return fn(tx);
      } finally {
        tx.abort();
      }
    },
    async write(fn) {
      const deadline = Date.now() + budget;
      let delay = 2;
      for (;;) {
        const tx = engine.begin();
        try {
          const result = fn(tx);
          await tx.commit();
          return result;
        } catch (err) {
          tx.abort();
          if (!isWriteConflict(err)) throw err;
          if (Date.now() >= deadline) {
            // mongod keeps retrying until the client's time limit, then reports that limit.
            if (maxTimeMS !== undefined && maxTimeMS > 0) throw commandError("MaxTimeMSExpired", "operation exceeded time limit");
            throw err;
          }
        }
        await sleep(Math.max(1, Math.min(delay, deadline - Date.now())));
        delay = Math.min(delay * 2, 100);
      }
    },
  };
}

export function transactionScope(tx: Transaction): StatementScope {
  return {
    inTransaction: true,
    read: (fn) => fn(tx),
    // The executor turns a synchronous throw into a rejection.
    write: (fn) => new Promise((resolve) => { resolve(fn(tx)); }),
  };
}
