/**
 * Logical sessions (`lsid`): their transaction (bound to a txnNumber), the
 * last retryable-write result (so a retried write is not applied twice), and a
 * queue that runs one session's operations in order. Sessions idle past the
 * logical session timeout are forgotten; transactions idle past the
 * transaction lifetime limit are aborted so they cannot hold write intents.
 */
import { Binary, type Document } from "bson";
import type { Transaction } from "./engine/types.ts";
import { isPlainObject } from "./document-paths.ts";
import { commandError } from "./errors.ts";

export interface SessionTransaction {
  readonly txnNumber: bigint;
  readonly tx: Transaction;
  state: "active" | "committed" | "aborted";
  lastUsed: number;
}

export interface SessionState {
  readonly key: string;
  lastUsed: number;
  /** Highest txnNumber seen (transactions and retryable writes). */
  highestTxnNumber: bigint;
  txn: SessionTransaction | undefined;
  /** Reply of the last retryable write, by its txnNumber. */
  lastRetryable: { readonly txnNumber: bigint; readonly reply: Document } | undefined;
  /** Tail of the operation queue. */
  tail: Promise<unknown>;
}

export interface SessionRegistry {
  /** The session for `lsid`, created on first use. */
  get(lsid: unknown): SessionState;
  /** Runs `fn` after every earlier operation of the session has finished. */
  runExclusive<T>(session: SessionState, fn: () => Promise<T>): Promise<T>;
  /** endSessions/killSessions: aborts the session's transaction and forgets it. */
  end(lsid: unknown): void;
  /** Aborts expired transactions and forgets idle sessions. */
  sweep(now?: number): void;
  closeAll(): void;
  readonly size: number;
}

export interface SessionRegistryOptions {
  readonly sessionTimeoutMs: number;
  readonly transactionLifetimeMs: number;
  readonly maxSessions: number;
}

/** The session key: hex of `lsid.id` (a UUID Binary). */
export function sessionKey(lsid: unknown): string {
  if (!isPlainObject(lsid) || !(lsid["id"] instanceof Binary)) {
    throw commandError("BadValue", "lsid must be an object with a UUID 'id' field");
  }
  return Buffer.from(lsid["id"].buffer).toString("hex");
}

export function abortSessionTransaction(session: SessionState): void {
  const txn = session.txn;
  if (txn?.state === "active") {
    txn.tx.abort();
    txn.state = "aborted";
  }
}

export function createSessionRegistry(options: SessionRegistryOptions): SessionRegistry {
  const sessions = new Map<string, SessionState>();

  const forget = (session: SessionState): void => {
    abortSessionTransaction(session);
    sessions.delete(session.key);
  };

  const registry: SessionRegistry = {
    get(lsid) {
      const key = sessionKey(lsid);
      let session = sessions.get(key);
      if (session === undefined) {
        if (sessions.size >= options.maxSessions) registry.sweep();
        if (sessions.size >= options.maxSessions) {
          // Forget the least recently used session without a live transaction.
          let oldest: SessionState | undefined;
          for (const s of sessions.values()) {
            if (s.txn?.state === "active") continue;
            if (oldest === undefined || s.lastUsed < oldest.lastUsed) oldest = s;
          }
          if (oldest !== undefined) forget(oldest);
        }
        session = { key, lastUsed: Date.now(), highestTxnNumber: -1n, txn: undefined, lastRetryable: undefined, tail: Promise.resolve() };
        sessions.set(key, session);
      }
      session.lastUsed = Date.now();
      return session;
    },
    runExclusive(session, fn) {
      const run = session.tail.then(fn, fn);
      session.tail = run.catch(() => undefined);
      return run;
    },
    end(lsid) {
      const session = sessions.get(sessionKey(lsid));
      if (session !== undefined) forget(session);
    },
    sweep(now = Date.now()) {
      for (const session of [...sessions.values()]) {
        const txn = session.txn;
        if (txn?.state === "active" && now - txn.lastUsed > options.transactionLifetimeMs) abortSessionTransaction(session);
        if (now - session.lastUsed > options.sessionTimeoutMs) forget(session);
      }
    },
    closeAll() {
      for (const session of [...sessions.values()]) forget(session);
    },
    get size() {
      return sessions.size;
    },
  };
  return registry;
}
