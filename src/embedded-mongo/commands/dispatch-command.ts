/**
 * Runs one command document end to end: finds the handler, resolves the
 * session (operations of one session run in order), binds the statement to
 * the session's transaction, a retryable write, or a one-statement engine
 * transaction, and turns every failure into an error reply. Never throws.
 */
import type { Document } from "bson";
import { EngineError } from "../engine/types.ts";
import { commandError, errorCodes, errorReply, isCodedError } from "../errors.ts";
import { abortSessionTransaction, type SessionState, type SessionTransaction } from "../session-registry.ts";
import { commandArgs, int64Value } from "./command-args.ts";
import type { CommandContext, ServerContext, StatementScope } from "./command-context.ts";
import { lookupCommand, type CommandSpec } from "./command-registry.ts";
import { noSuchTransaction, transientLabel } from "./session-commands.ts";
import { autocommitScope, transactionScope } from "./statement-scopes.ts";

export interface CommandRequest {
  readonly body: Document;
  readonly connectionId: number;
  /** Legacy OP_QUERY: the database comes from `<db>.$cmd`, hello answers `ismaster`. */
  readonly legacyDb?: string;
}

const transactionCommands = new Set(["commitTransaction", "abortTransaction"]);

function withLabel(err: unknown, label: string): unknown {
  if (!isCodedError(err) || err.errorLabels.includes(label)) return err;
  return new EngineError(err.code, err.codeName, err.message, err.extra, [...err.errorLabels, label]);
}

/** The session transaction a statement with `autocommit:false` belongs to (starting it if asked). */
function transactionFor(server: ServerContext, session: SessionState, txnNumber: bigint, body: Document): SessionTransaction {
  const start = body["startTransaction"] === true;
  const current = session.txn;
  if (start) {
    if (txnNumber < session.highestTxnNumber) {
      throw commandError("TransactionTooOld", `Cannot start transaction ${txnNumber} on session because a newer transaction ${session.highestTxnNumber} has already started.`);
    }
    if (current?.txnNumber === txnNumber) {
      throw commandError("ConflictingOperationInProgress", `Transaction with { txnNumber: ${txnNumber} } has already been started`);
    }
    abortSessionTransaction(session);
    const txn: SessionTransaction = { txnNumber, tx: server.engine.begin(), state: "active", lastUsed: Date.now() };
    session.txn = txn;
    session.highestTxnNumber = txnNumber;
    return txn;
  }
  if (current === undefined || current.txnNumber !== txnNumber || current.state !== "active") {
    if (txnNumber > session.highestTxnNumber) {
      abortSessionTransaction(session);
      session.highestTxnNumber = txnNumber;
    }
    throw noSuchTransaction(session, txnNumber);
  }
  current.lastUsed = Date.now();
  return current;
}

async function runInTransaction(ctx: CommandContext, spec: CommandSpec, txn: SessionTransaction): Promise<Document> {
  try {
    const reply = await spec.handler(ctx);
    // mongod aborts a transaction whose statement failed, write errors included.
    if (Array.isArray(reply["writeErrors"]) && reply["writeErrors"].length > 0) abortTxn(ctx.session, txn);
    return reply;
  } catch (err) {
    abortTxn(ctx.session, txn);
    if (isCodedError(err) && (err.code === errorCodes.WriteConflict || err.code === errorCodes.NoSuchTransaction)) {
      throw withLabel(err, transientLabel);
    }
    throw err;
  }
}

function abortTxn(session: SessionState | undefined, txn: SessionTransaction): void {
  if (session?.txn === txn) abortSessionTransaction(session);
}

async function runRetryableWrite(ctx: CommandContext, spec: CommandSpec, session: SessionState, txnNumber: bigint): Promise<Document> {
  if (txnNumber < session.highestTxnNumber) {
    throw commandError("TransactionTooOld", `Retryable write with txnNumber ${txnNumber} is prohibited on session because a newer retryable write with txnNumber ${session.highestTxnNumber} has already started on this session.`);
  }
  const previous = session.lastRetryable;
  if (previous?.txnNumber === txnNumber) return previous.reply;
  if (session.txn?.state === "active") abortSessionTransaction(session);
  session.highestTxnNumber = txnNumber;
  const reply = await spec.handler(ctx);
  session.lastRetryable = { txnNumber, reply };
  return reply;
}

function isChangeStreamGetMore(server: ServerContext, name: string, body: Document): boolean {
  if (name !== "getMore") return false;
  const id = int64Value(body["getMore"]);
  return id !== undefined && server.cursors.get(id)?.cursor.kind === "changeStream";
}

async function execute(server: ServerContext, request: CommandRequest, spec: CommandSpec, session: SessionState | undefined): Promise<Document> {
  const body = request.body;
  const db: unknown = request.legacyDb ?? body["$db"];
  if (typeof db !== "string" || db === "") throw commandError("BadValue", "OP_MSG requests require a $db argument");
  const txnNumber = body["txnNumber"] === undefined ? undefined : int64Value(body["txnNumber"]);
  if (body["txnNumber"] !== undefined && txnNumber === undefined) throw commandError("TypeMismatch", "txnNumber must be a 64-bit integer");
  const autocommit: unknown = body["autocommit"];
  if (autocommit !== undefined && autocommit !== false) throw commandError("InvalidOptions", "autocommit must be false when given");
  if (txnNumber !== undefined && session === undefined) {
    throw commandError("InvalidOptions", "txnNumber may only be provided for multi-document transactions and retryable write commands with a session (lsid)");
  }
  const maxTimeMS = commandArgs(body, spec.name).number("maxTimeMS");
  const base = { name: spec.name, body, db, connectionId: request.connectionId, legacy: request.legacyDb !== undefined, server, session, txnNumber };
  const context = (scope: StatementScope): CommandContext => ({ ...base, scope });

  if (session !== undefined && txnNumber !== undefined && autocommit === false && !transactionCommands.has(spec.name)) {
    const txn = transactionFor(server, session, txnNumber, body);
    return runInTransaction(context(transactionScope(txn.tx)), spec, txn);
  }
  if (body["startTransaction"] !== undefined && !transactionCommands.has(spec.name)) {
    throw commandError("InvalidOptions", "startTransaction requires autocommit:false, a session and a txnNumber");
  }
  const ctx = context(autocommitScope(server.engine, maxTimeMS));
  if (session !== undefined && txnNumber !== undefined && spec.retryableWrite === true) {
    return runRetryableWrite(ctx, spec, session, txnNumber);
  }
  return spec.handler(ctx);
}

/** Runs a command; the reply is always a document (errors included). */
export async function dispatchCommand(server: ServerContext, request: CommandRequest): Promise<Document> {
  const name = Object.keys(request.body)[0] ?? "";
  const spec = lookupCommand(name);
  if (spec === undefined) {
    return { ok: 0, errmsg: `no such command: '${name}'`, code: errorCodes.CommandNotFound, codeName: "CommandNotFound" };
  }
  try {
    const lsid: unknown = request.body["lsid"];
    const session = lsid === undefined ? undefined : server.sessions.get(lsid);
    const run = (): Promise<Document> => execute(server, request, spec, session);
    if (session === undefined || isChangeStreamGetMore(server, spec.name, request.body)) return await run();
    return await server.sessions.runExclusive(session, run);
  } catch (err) {
    return errorReply(err, spec.name, (cause, command) => {
      server.log.error({ err: cause, command }, "unexpected error while running a command");
    });
  }
}
