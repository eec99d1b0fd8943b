/**
 * Session and transaction commands: endSessions, killSessions,
 * refreshSessions, commitTransaction (idempotent for an already committed
 * txnNumber), abortTransaction.
 */
import type { Document } from "bson";
import { EngineError } from "../engine/types.ts";
import { isCodedError, commandError, errorCodes } from "../errors.ts";
import type { SessionState } from "../session-registry.ts";
import { abortSessionTransaction } from "../session-registry.ts";
import type { CommandContext, CommandHandler } from "./command-context.ts";

export const transientLabel = "TransientTransactionError";

export function noSuchTransaction(session: SessionState, txnNumber: bigint): Error {
  const txn = session.txn;
  const message =
    txn !== undefined && txn.txnNumber === txnNumber
      ? `Transaction with { txnNumber: ${txnNumber} } has been aborted.`
      : `Given transaction number ${txnNumber} does not match any in-progress transactions.${txn?.state === "active" ? ` The active transaction number is ${txn.txnNumber}` : ""}`;
  return commandError("NoSuchTransaction", message, {}, [transientLabel]);
}

function requireTxn(ctx: CommandContext): { session: SessionState; txnNumber: bigint } {
  if (ctx.session === undefined || ctx.txnNumber === undefined) {
    throw commandError("InvalidOptions", `'${ctx.name}' requires a session id (lsid) and a txnNumber`);
  }
  if (ctx.db !== "admin") throw commandError("Unauthorized", `${ctx.name} may only be run against the admin database.`);
  return { session: ctx.session, txnNumber: ctx.txnNumber };
}

export const commitTransaction: CommandHandler = async (ctx) => {
  const { session, txnNumber } = requireTxn(ctx);
  const txn = session.txn;
  if (txn === undefined || txn.txnNumber !== txnNumber || txn.state === "aborted") throw noSuchTransaction(session, txnNumber);
  if (txn.state === "committed") {
    // Retried commit: the same answer, with the commit's time.
    ctx.timing.observe(await txn.tx.commit());
    return { ok: 1 };
  }
  try {
    ctx.timing.observe(await txn.tx.commit());
    txn.state = "committed";
  } catch (err) {
    abortSessionTransaction(session);
    if (isCodedError(err) && err.code === errorCodes.WriteConflict) {
      throw new EngineError(err.code, err.codeName, err.message, err.extra, [...new Set([...err.errorLabels, transientLabel])]);
    }
    throw err;
  }
  return { ok: 1 };
};

export const abortTransaction: CommandHandler = (ctx) => {
  const { session, txnNumber } = requireTxn(ctx);
  const txn = session.txn;
  if (txn === undefined || txn.txnNumber !== txnNumber || txn.state !== "active") {
    if (txn?.txnNumber === txnNumber && txn.state === "committed") {
      throw commandError("NoSuchTransaction", `Cannot abort transaction ${txnNumber}: it has already been committed`, {}, []);
    }
    throw noSuchTransaction(session, txnNumber);
  }
  abortSessionTransaction(session);
  return { ok: 1 };
};

function endAll(ctx: CommandContext, field: string): Document {
  const list: unknown = ctx.body[field];
  if (Array.isArray(list)) {
    for (const lsid of list) {
      try {
        ctx.server.sessions.end(lsid);
      } catch {
        // Malformed ids are ignored, as mongod ignores unknown sessions.
      }
    }
  }
  return { ok: 1 };
}

export const endSessions: CommandHandler = (ctx) => endAll(ctx, "endSessions");
export const killSessions: CommandHandler = (ctx) => endAll(ctx, "killSessions");
export const refreshSessions: CommandHandler = () => ({ ok: 1 });
