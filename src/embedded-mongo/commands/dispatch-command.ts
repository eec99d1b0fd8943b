/**
 * Runs one command document end to end: finds the handler, resolves the
 * session (operations of one session run in order), applies readConcern and
 * the fail points, binds the statement to the session's transaction, a
 * retryable write, or a one-statement engine transaction, reports write
 * concerns a one-member set cannot satisfy, and turns every failure into an
 * error reply with mongod's labels. Every reply carries `operationTime` and
 * `$clusterTime`. Never throws.
 */
import { createHash } from "node:crypto";
import { Binary, type Document } from "bson";
import { EngineError } from "../engine/types.ts";
import { codeNameFor, commandError, errorCodes, errorReply, isCodedError } from "../errors.ts";
import type { FailCommandAction } from "../fail-points.ts";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject } from "../document-paths.ts";
import { abortSessionTransaction, type SessionState, type SessionTransaction } from "../session-registry.ts";
import { clusterTimeDocument, createOperationTiming, gossipedClusterTime, type OperationTiming } from "./cluster-time.ts";
import { commandArgs, int64Value } from "./command-args.ts";
import type { CommandContext, ConnectionState, ServerContext, StatementScope } from "./command-context.ts";
import { lookupCommand, type CommandSpec } from "./command-registry.ts";
import { errorLabelsFor, type LabelContext } from "./error-labels.ts";
import {
  checkReadConcernSupported,
  checkTransactionReadConcern,
  parseReadConcern,
  readPoint,
  waitForReadConcern,
  type ReadConcern,
} from "./read-concern.ts";
import { noSuchTransaction } from "./session-commands.ts";
import { autocommitScope, transactionScope } from "./statement-scopes.ts";
import { writeConcernError } from "./write-concern.ts";

export interface CommandRequest {
  readonly body: Document;
  readonly connection: ConnectionState;
  /** Legacy OP_QUERY: the database comes from `<db>.$cmd`, hello answers `ismaster`. */
  readonly legacyDb?: string;
}

/** A reply to send, or (failCommand's closeConnection) the connection to close without one. */
export type DispatchResult = { readonly kind: "reply"; readonly reply: Document } | { readonly kind: "close" };

const transactionCommands = new Set(["commitTransaction", "abortTransaction"]);

/** The `uid` change events show in a transaction's lsid: SHA-256 of the (empty) user name, as mongod without auth. */
const anonymousUid = new Binary(createHash("sha256").update("").digest(), 0);

/** An error a fail point injected: its labels are exactly the fail point's, when it named any. */
class InjectedError extends EngineError {
  constructor(
    code: number,
    readonly explicitLabels: readonly string[] | undefined,
  ) {
    super(code, codeNameFor(code), "Failing command via 'failCommand' failpoint", {}, explicitLabels ?? []);
    this.name = "InjectedError";
  }
}

/** Thrown to end the command without a reply (a fail point's closeConnection). */
class CloseConnection extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The session transaction a statement with `autocommit:false` belongs to (starting it if asked). */
function transactionFor(
  server: ServerContext,
  session: SessionState,
  lsid: unknown,
  txnNumber: bigint,
  body: Document,
): SessionTransaction {
  const start = body["startTransaction"] === true;
  const current = session.txn;
  if (start) {
    if (txnNumber < session.highestTxnNumber) {
      throw commandError(
        "TransactionTooOld",
        `Cannot start transaction ${txnNumber} on session because a newer transaction ${session.highestTxnNumber} has already started.`,
      );
    }
    if (current?.txnNumber === txnNumber) {
      throw commandError("ConflictingOperationInProgress", `Transaction with { txnNumber: ${txnNumber} } has already been started`);
    }
    abortSessionTransaction(session);
    const id: unknown = isPlainObject(lsid) ? lsid["id"] : undefined;
    const at = parseReadConcern(body["readConcern"])?.atClusterTime;
    const owner = { lsid: { id, uid: anonymousUid }, txnNumber };
    // A snapshot transaction at a given cluster time reads as of it.
    const tx = server.engine.begin(at === undefined ? { session: owner } : { session: owner, readAt: at });
    const txn: SessionTransaction = { txnNumber, tx, state: "active", lastUsed: Date.now() };
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

async function runInTransaction(ctx: CommandContext, run: () => Promise<Document>, txn: SessionTransaction): Promise<Document> {
  try {
    const reply = await run();
    // mongod aborts a transaction whose statement failed, write errors included.
    if (Array.isArray(reply["writeErrors"]) && reply["writeErrors"].length > 0) abortTxn(ctx.session, txn);
    return reply;
  } catch (err) {
    abortTxn(ctx.session, txn);
    throw err;
  }
}

function abortTxn(session: SessionState | undefined, txn: SessionTransaction): void {
  if (session?.txn === txn) abortSessionTransaction(session);
}

/**
 * Runs a retryable write once per txnNumber; a retry gets the first
 * attempt's reply. The onPrimaryTransactionalWrite fail point can fail the
 * write before it commits, or drop the connection after it committed.
 */
async function runRetryableWrite(
  server: ServerContext,
  run: () => Promise<Document>,
  session: SessionState,
  txnNumber: bigint,
): Promise<Document> {
  if (txnNumber < session.highestTxnNumber) {
    throw commandError(
      "TransactionTooOld",
      `Retryable write with txnNumber ${txnNumber} is prohibited on session because a newer retryable write with txnNumber ${session.highestTxnNumber} has already started on this session.`,
    );
  }
  const previous = session.lastRetryable;
  if (previous?.txnNumber === txnNumber) return previous.reply;
  if (session.txn?.state === "active") abortSessionTransaction(session);
  session.highestTxnNumber = txnNumber;
  const failPoint = server.failPoints?.onRetryableWrite();
  if (failPoint?.failBeforeCommitExceptionCode !== undefined) {
    if (failPoint.closeConnection) throw new CloseConnection();
    throw new InjectedError(failPoint.failBeforeCommitExceptionCode, undefined);
  }
  const reply = await run();
  session.lastRetryable = { txnNumber, reply };
  if (failPoint?.closeConnection === true) throw new CloseConnection();
  return reply;
}

function isChangeStreamGetMore(server: ServerContext, name: string, body: Document): boolean {
  if (name !== "getMore") return false;
  const id = int64Value(body["getMore"]);
  return id !== undefined && server.cursors.get(id)?.cursor.kind === "changeStream";
}

/**
 * Applies failCommand before the command touches any session or transaction
 * state, as mongod evaluates it: block, then close the connection or fail (a
 * write concern error is added to the reply once the command has run).
 */
async function applyFailCommand(action: FailCommandAction): Promise<void> {
  if (action.blockTimeMS > 0) await sleep(action.blockTimeMS);
  if (action.closeConnection) throw new CloseConnection();
  if (action.errorCode !== undefined) throw new InjectedError(action.errorCode, action.errorLabels);
}

/** How one command runs: what its labels depend on, and what it must add to a successful reply. */
interface Execution {
  labels: LabelContext;
  /** The command's readConcern, once parsed (snapshot reads report their time). */
  readConcern: ReadConcern | undefined;
  writeConcernError: Document | undefined;
  /** A fail point's labels for its writeConcernError (instead of mongod's rules). */
  writeConcernErrorLabels: readonly string[] | undefined;
}

function labelContext(spec: CommandSpec, body: Document, changeStreamGetMore: boolean): LabelContext {
  const commitOrAbort = transactionCommands.has(spec.name);
  const inTransaction = body["autocommit"] === false;
  return {
    inTransaction,
    commitOrAbort,
    retryableWrite: commitOrAbort || (!inTransaction && body["txnNumber"] !== undefined && spec.retryableWrite === true),
    changeStreamGetMore,
  };
}

async function execute(
  server: ServerContext,
  request: CommandRequest,
  spec: CommandSpec,
  session: SessionState | undefined,
  timing: OperationTiming,
  execution: Execution,
): Promise<Document> {
  const body = request.body;
  const db: unknown = request.legacyDb ?? body["$db"];
  if (typeof db !== "string" || db === "") throw commandError("BadValue", "OP_MSG requests require a $db argument");
  const txnNumber = body["txnNumber"] === undefined ? undefined : int64Value(body["txnNumber"]);
  if (body["txnNumber"] !== undefined && txnNumber === undefined) throw commandError("TypeMismatch", "txnNumber must be a 64-bit integer");
  const autocommit: unknown = body["autocommit"];
  if (autocommit !== undefined && autocommit !== false) throw commandError("InvalidOptions", "autocommit must be false when given");
  if (txnNumber !== undefined && session === undefined) {
    throw commandError(
      "InvalidOptions",
      "txnNumber may only be provided for multi-document transactions and retryable write commands with a session (lsid)",
    );
  }
  const maxTimeMS = commandArgs(body, spec.name).number("maxTimeMS");
  const deadline = maxTimeMS !== undefined && maxTimeMS > 0 ? Date.now() + maxTimeMS : undefined;
  const readConcern = parseReadConcern(body["readConcern"]);
  execution.readConcern = readConcern;
  const failPoint = server.failPoints?.failCommand(spec.name, request.connection.appName);
  if (failPoint !== undefined) await applyFailCommand(failPoint);
  const base = {
    name: spec.name,
    body,
    db,
    connectionId: request.connection.id,
    connection: request.connection,
    legacy: request.legacyDb !== undefined,
    server,
    session,
    txnNumber,
    readConcern,
    timing,
  };
  const context = (scope: StatementScope): CommandContext => ({ ...base, scope });
  if (failPoint?.writeConcernError !== undefined) {
    execution.writeConcernError = failPoint.writeConcernError;
    execution.writeConcernErrorLabels = failPoint.errorLabels;
  }

  if (session !== undefined && txnNumber !== undefined && autocommit === false && !transactionCommands.has(spec.name)) {
    if (spec.inTransaction !== true) {
      throw commandError(
        "OperationNotSupportedInTransaction",
        spec.name === "count"
          ? "Cannot run 'count' in a multi-document transaction. Please see http://dochub.mongodb.org/core/transaction-count for a recommended alternative."
          : `Cannot run '${spec.name}' in a multi-document transaction.`,
      );
    }
    if (body["writeConcern"] !== undefined)
      throw commandError("InvalidOptions", "writeConcern is not allowed within a multi-statement transaction");
    const starting = body["startTransaction"] === true;
    checkTransactionReadConcern(readConcern, starting);
    if (starting) await waitForReadConcern(server.engine, readConcern, deadline);
    const txn = transactionFor(server, session, body["lsid"], txnNumber, body);
    const ctx = context(transactionScope(txn.tx, timing));
    return runInTransaction(ctx, async () => spec.handler(ctx), txn);
  }
  if (body["startTransaction"] !== undefined && !transactionCommands.has(spec.name)) {
    throw commandError("InvalidOptions", "startTransaction requires autocommit:false, a session and a txnNumber");
  }
  checkReadConcernSupported(spec.name, readConcern, spec.reads === true);
  if (spec.writeConcern === true && execution.writeConcernError === undefined)
    execution.writeConcernError = writeConcernError(body["writeConcern"]);
  await waitForReadConcern(server.engine, readConcern, deadline);
  const ctx = context(
    autocommitScope(server.engine, { maxTimeMS, readAt: readPoint(readConcern), keepSnapshot: readConcern?.level === "snapshot", timing }),
  );
  const run = async (): Promise<Document> => spec.handler(ctx);
  if (session !== undefined && txnNumber !== undefined && spec.retryableWrite === true) {
    return runRetryableWrite(server, run, session, txnNumber);
  }
  return run();
}

/**
 * Labels for a failed command: the fail point's own, or mongod's rules plus
 * the error's (a transaction's only inside one). An error failCommand injects
 * precedes the cursor lookup, so it never gets ResumableChangeStreamError.
 */
function labelsForError(err: unknown, labels: LabelContext): string[] | undefined {
  if (err instanceof InjectedError && err.explicitLabels !== undefined) return [...err.explicitLabels];
  if (!isCodedError(err)) return undefined;
  const context = err instanceof InjectedError ? { ...labels, changeStreamGetMore: false } : labels;
  const computed = errorLabelsFor(err.code, undefined, context);
  const own = err.errorLabels.filter((l) => labels.inTransaction || l !== "TransientTransactionError");
  return [...new Set([...computed, ...own])];
}

/** Adds what every reply carries: the operation's cluster time and the current cluster time. */
function stamp(server: ServerContext, reply: Document, timing: OperationTiming): Document {
  reply["$clusterTime"] = clusterTimeDocument(server.engine.clusterTime());
  reply["operationTime"] = timing.time ?? server.engine.changes.durableTime();
  return reply;
}

/** A snapshot read reports the time it read at (`atClusterTime`), as mongod does. */
function addSnapshotTime(reply: Document, readConcern: ReadConcern | undefined, timing: OperationTiming): void {
  if (readConcern?.level !== "snapshot" || timing.time === undefined) return;
  const cursor: unknown = reply["cursor"];
  if (isPlainObject(cursor)) cursor["atClusterTime"] = timing.time;
  else reply["atClusterTime"] = timing.time;
}

/** Runs a command; the result is a reply document (errors included), or a request to close the connection. */
export async function dispatchCommand(server: ServerContext, request: CommandRequest): Promise<DispatchResult> {
  const name = Object.keys(request.body)[0] ?? "";
  const spec = lookupCommand(name);
  const timing = createOperationTiming();
  if (spec === undefined || (spec.testOnly === true && server.failPoints === undefined)) {
    return {
      kind: "reply",
      reply: stamp(
        server,
        { ok: 0, errmsg: `no such command: '${name}'`, code: errorCodes.CommandNotFound, codeName: "CommandNotFound" },
        timing,
      ),
    };
  }
  const changeStreamGetMore = isChangeStreamGetMore(server, spec.name, request.body);
  const execution: Execution = {
    labels: labelContext(spec, request.body, changeStreamGetMore),
    readConcern: undefined,
    writeConcernError: undefined,
    writeConcernErrorLabels: undefined,
  };
  try {
    const gossip = gossipedClusterTime(request.body);
    if (gossip !== undefined) server.engine.advanceClusterTime(gossip);
    const lsid: unknown = request.body["lsid"];
    const session = lsid === undefined ? undefined : server.sessions.get(lsid);
    const run = (): Promise<Document> => execute(server, request, spec, session, timing, execution);
    const result = session === undefined || changeStreamGetMore ? await run() : await server.sessions.runExclusive(session, run);
    // A copy: the handler's reply may be kept (a retryable write's, for its retries) and must stay as it was.
    const reply: Document = { ...result };
    const wce = execution.writeConcernError;
    if (wce !== undefined && reply["ok"] !== 0) {
      reply["writeConcernError"] = wce;
      const labels = execution.writeConcernErrorLabels ?? errorLabelsFor(undefined, toNumber(wce["code"]), execution.labels);
      if (labels.length > 0) reply["errorLabels"] = labels;
    }
    if (!execution.labels.inTransaction) addSnapshotTime(reply, execution.readConcern, timing);
    return { kind: "reply", reply: stamp(server, reply, timing) };
  } catch (err) {
    if (err instanceof CloseConnection) return { kind: "close" };
    const reply = errorReply(err, spec.name, (cause, command) => {
      server.log.error({ err: cause, command }, "unexpected error while running a command");
    });
    const labels = labelsForError(err, execution.labels);
    if (labels !== undefined) {
      if (labels.length > 0) reply["errorLabels"] = labels;
      else delete reply["errorLabels"];
    }
    return { kind: "reply", reply: stamp(server, reply, timing) };
  }
}
