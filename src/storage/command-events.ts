/**
 * The driver's command monitoring, in neutral terms, for the tracing of
 * src/ops: which command went to which database and collection, and how it
 * ended. The handle must be created with `monitorCommands` (createDatabase).
 * The listener is called synchronously from the driver's events, which the
 * driver emits inside the operation's own async chain, so the caller's
 * active context there is the operation's.
 */
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent } from "mongodb";
import type { Database } from "./database.ts";

/** One database command's start or end; `requestId` pairs them (one counter for the whole process). */
export type CommandEvent =
  | {
      readonly kind: "started";
      readonly requestId: number;
      readonly commandName: string;
      readonly databaseName: string;
      /** The collection it names (`find: "groups"`, or `collection` for getMore); undefined for admin commands. */
      readonly collection: string | undefined;
      /** "host:port", "[::1]:port". */
      readonly address: string;
    }
  | { readonly kind: "succeeded"; readonly requestId: number }
  | {
      readonly kind: "failed";
      readonly requestId: number;
      /** The server's code name (e.g. "WriteConflict"), else the driver's error class. */
      readonly errorType: string;
      readonly message: string;
    };

/** Calls `listener` with every command event of `database`'s client; returns the function that unsubscribes. */
export function observeCommands(database: Database, listener: (event: CommandEvent) => void): () => void {
  const client = database.client;
  const started = (event: CommandStartedEvent): void => {
    listener({
      kind: "started",
      requestId: event.requestId,
      commandName: event.commandName,
      databaseName: event.databaseName,
      collection: collectionOf(event),
      address: event.address,
    });
  };
  const succeeded = (event: CommandSucceededEvent): void => {
    listener({ kind: "succeeded", requestId: event.requestId });
  };
  const failed = (event: CommandFailedEvent): void => {
    const codeName = (event.failure as { codeName?: unknown }).codeName;
    listener({
      kind: "failed",
      requestId: event.requestId,
      errorType: typeof codeName === "string" ? codeName : event.failure.name,
      message: event.failure.message,
    });
  };
  client.on("commandStarted", started);
  client.on("commandSucceeded", succeeded);
  client.on("commandFailed", failed);
  return () => {
    client.off("commandStarted", started);
    client.off("commandSucceeded", succeeded);
    client.off("commandFailed", failed);
  };
}

/** `find: "groups"`, `insert: "memberships"`…; getMore names it in `collection`; admin commands have none. */
function collectionOf(event: CommandStartedEvent): string | undefined {
  const value: unknown = event.command[event.commandName];
  if (typeof value === "string") return value;
  const collection: unknown = event.command["collection"];
  return typeof collection === "string" ? collection : undefined;
}
