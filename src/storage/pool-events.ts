/**
 * The driver's connection-pool events (CMAP), in neutral terms, for the
 * metrics of src/ops: the monitoring connections the driver keeps beside
 * its pool are told apart here, so observers need not know the driver.
 */
import type { MongoClientEvents } from "mongodb";
import type { Database } from "./database.ts";

/** One change of a server's pool (`address` is "host:port"). */
export type PoolEvent =
  | { readonly kind: "pool_created"; readonly address: string; readonly maxSize: number }
  /** A pool connection opened or closed (monitoring connections are not reported). */
  | { readonly kind: "connection_opened" | "connection_closed"; readonly address: string }
  /** An operation started waiting for a connection. */
  | { readonly kind: "check_out_started"; readonly address: string }
  /** The wait ended with a connection; `pooled` false for a monitoring connection. */
  | { readonly kind: "checked_out"; readonly address: string; readonly pooled: boolean }
  /** The wait ended without one: "timeout", "connectionError" or "poolClosed". */
  | { readonly kind: "check_out_failed"; readonly address: string; readonly reason: string }
  | { readonly kind: "checked_in"; readonly address: string; readonly pooled: boolean }
  /** The pool was cleared after an error (its connections are then replaced). */
  | { readonly kind: "pool_cleared"; readonly address: string };

const isPooled = (event: { connectionId: number | "<monitor>" }): boolean => event.connectionId !== "<monitor>";

/** Calls `listener` with every pool event of `database`'s client; returns the function that unsubscribes. */
export function observePool(database: Database, listener: (event: PoolEvent) => void): () => void {
  const client = database.client;
  const subscriptions: (() => void)[] = [];
  const on = <E extends keyof MongoClientEvents>(event: E, handler: MongoClientEvents[E]): void => {
    client.on(event, handler);
    subscriptions.push(() => client.off(event, handler));
  };
  on("connectionPoolCreated", (e) => {
    listener({ kind: "pool_created", address: e.address, maxSize: e.options.maxPoolSize });
  });
  on("connectionCreated", (e) => {
    if (isPooled(e)) listener({ kind: "connection_opened", address: e.address });
  });
  on("connectionClosed", (e) => {
    if (isPooled(e)) listener({ kind: "connection_closed", address: e.address });
  });
  on("connectionCheckOutStarted", (e) => {
    listener({ kind: "check_out_started", address: e.address });
  });
  on("connectionCheckedOut", (e) => {
    listener({ kind: "checked_out", address: e.address, pooled: isPooled(e) });
  });
  on("connectionCheckOutFailed", (e) => {
    listener({ kind: "check_out_failed", address: e.address, reason: e.reason });
  });
  on("connectionCheckedIn", (e) => {
    listener({ kind: "checked_in", address: e.address, pooled: isPooled(e) });
  });
  on("connectionPoolCleared", (e) => {
    listener({ kind: "pool_cleared", address: e.address });
  });
  return () => {
    for (const unsubscribe of subscriptions.splice(0)) unsubscribe();
  };
}
