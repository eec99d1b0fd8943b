/**
 * What every command handler receives: the parsed request, the server-wide
 * state, and the statement scope through which it reads and writes (the
 * session's transaction, or a one-statement engine transaction).
 */
import type { Document, Long, ObjectId } from "bson";
import type { Logger } from "pino";
import type { Engine, Transaction } from "../engine/types.ts";
import type { CursorRegistry } from "../cursor-registry.ts";
import type { FailPoints } from "../fail-points.ts";
import type { SessionRegistry, SessionState } from "../session-registry.ts";
import type { OperationTiming } from "./cluster-time.ts";
import type { ReadConcern } from "./read-concern.ts";

export interface ServerContext {
  readonly engine: Engine;
  readonly cursors: CursorRegistry;
  readonly sessions: SessionRegistry;
  /** `127.0.0.1:PORT`, exactly as clients dial it (hello's me/hosts/primary). */
  readonly address: () => string;
  readonly log: Logger;
  readonly electionId: ObjectId;
  /**
   * hello's topologyVersion: a new processId per start, a counter that never
   * moves (a one-member set's topology never changes while it runs).
   */
  readonly topologyVersion: { readonly processId: ObjectId; readonly counter: Long };
  /** Fail points, when the server runs with test commands enabled. */
  readonly failPoints: FailPoints | undefined;
}

/** What the server knows about one client connection. */
export interface ConnectionState {
  readonly id: number;
  /** `client.application.name` from the handshake (failCommand's `appName` filter). */
  appName: string | undefined;
  /** Aborted when the connection closes (ends an awaitable hello's wait). */
  readonly closed: AbortSignal;
}

/** How a statement reaches the data. */
export interface StatementScope {
  /** True inside a multi-statement transaction. */
  readonly inTransaction: boolean;
  /** Runs `fn` on a snapshot (the transaction's, or a fresh one released afterwards). */
  read<T>(fn: (tx: Transaction) => T): T;
  /**
   * Runs `fn` atomically. Outside a transaction: a fresh engine transaction,
   * committed afterwards, and re-run from scratch on WriteConflict (bounded
   * backoff). Inside one: on the session's transaction.
   */
  write<T>(fn: (tx: Transaction) => T): Promise<T>;
}

export interface CommandContext {
  /** Canonical command name (e.g. "isMaster" for "ismaster"). */
  readonly name: string;
  readonly body: Document;
  readonly db: string;
  readonly connectionId: number;
  readonly connection: ConnectionState;
  /** Arrived as legacy OP_QUERY (hello answers with `ismaster`). */
  readonly legacy: boolean;
  readonly server: ServerContext;
  readonly scope: StatementScope;
  readonly session: SessionState | undefined;
  /** `txnNumber` as bigint, when the command carried one. */
  readonly txnNumber: bigint | undefined;
  /** The command's readConcern (the transaction's, for its first statement). */
  readonly readConcern: ReadConcern | undefined;
  /** Collects the cluster time of what the command did (the reply's operationTime). */
  readonly timing: OperationTiming;
}

export type CommandHandler = (ctx: CommandContext) => Document | Promise<Document>;
