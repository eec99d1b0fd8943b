/**
 * The database Roster runs on, opened once by the composition root and
 * handed to the app as a handle: the driver's client (sessions for
 * transactions) and the database its collections live in. Only storage
 * reads what is inside; no layer above it names the driver.
 */
import { MongoClient, type Db } from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";

export interface Database {
  readonly client: MongoClient;
  readonly db: Db;
  /** Told the cluster time of every transaction `runTransaction` commits through this handle. */
  readonly onCommit?: (time: ClusterTime) => void;
}

/** The database name: the one in the URI path, else "roster". */
export function databaseNameOf(uri: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] !== undefined && match[1] !== "" ? decodeURIComponent(match[1]) : "roster";
}

/**
 * A handle on the database of `uri` (see `databaseNameOf`), not yet
 * connected: observe its pool (pool-events.ts) and commands
 * (command-events.ts) before `connectDatabase`, so that nothing goes
 * unobserved.
 */
export function createDatabase(
  uri: string,
  options: {
    readonly appName: string;
    readonly serverSelectionTimeoutMs: number;
    /** Emit command events (command-events.ts), for tracing. */
    readonly monitorCommands?: boolean;
  },
): Database {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs,
    appName: options.appName,
    monitorCommands: options.monitorCommands ?? false,
  });
  return { client, db: client.db(databaseNameOf(uri)) };
}

/** Connects (fails when no server is selected within the handle's timeout). */
export async function connectDatabase(database: Database): Promise<void> {
  await database.client.connect();
}

/** Closes the client and its pool. */
export function closeDatabase(database: Database): Promise<void> {
  return database.client.close();
}

/** One round trip to the server (health probes). */
export async function pingDatabase(database: Database): Promise<void> {
  await database.db.command({ ping: 1 });
}
