/**
 * The two ways a statement reaches the engine: on its own (a fresh engine
 * transaction per attempt, committed at once, retried on WriteConflict as
 * mongod does for autocommit writes: after another transaction's uncommitted
 * write, once that transaction has ended; otherwise with a bounded backoff),
 * or inside the session's multi-statement transaction. Both record the
 * cluster time of what they read or committed (the reply's operationTime).
 */
import type { Timestamp } from "bson";
import { WriteConflictError, type Engine, type Transaction } from "../engine/types.ts";
import { commandError, errorCodes, isCodedError } from "../errors.ts";
import type { OperationTiming } from "./cluster-time.ts";
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

const expired = (): Error => commandError("MaxTimeMSExpired", "operation exceeded time limit");

/**
 * Waits for the transaction whose uncommitted write blocked a statement, as
 * mongod blocks: until it ends (its lifetime limit bounds that), or until the
 * client's maxTimeMS.
 */
async function awaitBlocker(blocker: Promise<void>, deadline: number | undefined): Promise<void> {
  if (deadline === undefined) {
    await blocker;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(
      () => {
        resolve(true);
      },
      Math.max(0, deadline - Date.now()),
    );
  });
  const ended = await Promise.race([blocker.then(() => false), timedOut]);
  clearTimeout(timer);
  if (ended) throw expired();
}

export interface AutocommitOptions {
  readonly maxTimeMS: number | undefined;
  /** Where reads look (see readConcern). */
  readonly readAt: "latest" | "durable" | Timestamp;
  /** A snapshot read: what it reads stays readable at its cluster time for the rest of its session. */
  readonly keepSnapshot: boolean;
  readonly timing: OperationTiming;
}

export function autocommitScope(engine: Engine, options: AutocommitOptions): StatementScope {
  const { maxTimeMS, readAt, keepSnapshot, timing } = options;
  const limited = maxTimeMS !== undefined && maxTimeMS > 0;
  return {
    inTransaction: false,
    read(fn) {
      const tx = engine.begin({ readAt, keepSnapshot });
      timing.observe(tx.snapshotTime);
      try {
        return fn(tx);
      } finally {
        tx.abort();
      }
    },
    async write(fn) {
      const clientDeadline = limited ? Date.now() + maxTimeMS : undefined;
      let deadline = clientDeadline ?? Date.now() + defaultWriteConflictBudgetMs;
      let delay = 2;
      for (;;) {
        const tx = engine.begin();
        try {
          const result = fn(tx);
          timing.observe((await tx.commit()) ?? tx.snapshotTime);
          return result;
        } catch (err) {
          tx.abort();
          if (!isWriteConflict(err)) throw err;
          if (err instanceof WriteConflictError && err.blocker !== undefined) {
            await awaitBlocker(err.blocker, clientDeadline);
            // A fresh budget for conflicts with commits after the wait.
            if (clientDeadline === undefined) deadline = Date.now() + defaultWriteConflictBudgetMs;
            continue;
          }
          if (Date.now() >= deadline) {
            // mongod keeps retrying until the client's time limit, then reports that limit.
            if (limited) throw expired();
            throw err;
          }
        }
        await sleep(Math.max(1, Math.min(delay, deadline - Date.now())));
        delay = Math.min(delay * 2, 100);
      }
    },
  };
}

export function transactionScope(tx: Transaction, timing: OperationTiming): StatementScope {
  return {
    inTransaction: true,
    read: (fn) => {
      timing.observe(tx.snapshotTime);
      return fn(tx);
    },
    // The executor turns a synchronous throw into a rejection.
    write: (fn) =>
      new Promise((resolve) => {
        timing.observe(tx.snapshotTime);
        resolve(fn(tx));
      }),
  };
}
