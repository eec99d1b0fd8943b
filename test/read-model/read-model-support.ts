/**
 * Roster apps with read models over one database, each with its own client
 * (its own connection pool and command log), as separate replicas have.
 */
import type { CommandStartedEvent, MongoClient } from "mongodb";
import { createRosterApp, type RosterApp } from "../../src/app/roster-app.ts";
import { createRequestMemo } from "../../src/app/request-memo.ts";
import type { CallOptions } from "../../src/app/index.ts";
import type { ReadModelSettings } from "../../src/app/read-model/settings.ts";
import type { ClusterTime, ReadConsistency } from "../../src/domain/consistency.ts";
import { createDatabase } from "../../src/storage/database.ts";
import { withDatabase } from "../support/roster-server.ts";

export interface Replica {
  readonly app: RosterApp;
  readonly client: MongoClient;
  /** Commands this replica's client sent to the `groups` or `memberships` collections since `clearCommands`. */
  readCommands(): CommandStartedEvent[];
  clearCommands(): void;
  close(): Promise<void>;
}

/** Client options of a replica: its name (fail points can target it) and how long it waits for an unreachable store. */
export interface ReplicaClientOptions {
  readonly appName?: string;
  readonly serverSelectionTimeoutMs?: number;
}

/**
 * An app with a read model (or none: `settings` false) over database
 * `dbName` of `uri`, serving once returned; its client is made as the
 * server makes its own (storage's `createDatabase`).
 */
export async function startReplica(
  uri: string,
  dbName: string,
  settings: ReadModelSettings | false,
  clientOptions: ReplicaClientOptions = {},
): Promise<Replica> {
  const database = createDatabase(withDatabase(uri, dbName), {
    appName: clientOptions.appName ?? "replica",
    serverSelectionTimeoutMs: clientOptions.serverSelectionTimeoutMs ?? 10_000,
    monitorCommands: true,
  });
  const client = database.client;
  const commands: CommandStartedEvent[] = [];
  client.on("commandStarted", (event) => {
    const target: unknown = event.command[event.commandName];
    if ((event.commandName === "find" || event.commandName === "aggregate" || event.commandName === "count") && (target === "groups" || target === "memberships")) {
      commands.push(event);
    }
  });
  await client.connect();
  const app = await createRosterApp({ database, readModel: settings });
  await app.readModel?.whenServing();
  return {
    app,
    client,
    readCommands: () => [...commands],
    clearCommands: () => {
      commands.length = 0;
    },
    async close() {
      await app.close();
      await client.close();
    },
  };
}

/** Call options of one read RPC under `consistency` (a fresh request memo, as the pipeline gives each call). */
export function readOptions(consistency: ReadConsistency): CallOptions {
  return { memo: createRequestMemo(), consistency };
}

/** Call options of one write, and the commit time it reports (its consistency token's time). */
export function writeOptions(): { options: CallOptions; committed: () => ClusterTime } {
  let latest: ClusterTime | undefined;
  return {
    options: {
      onCommit: (time) => {
        if (latest === undefined || time > latest) latest = time;
      },
    },
    committed: () => {
      if (latest === undefined) throw new Error("the write committed nothing");
      return latest;
    },
  };
}

/** Turns the `failCommand` fail point on (with `data`) or off on the store at `client`. */
export async function failCommand(client: MongoClient, mode: "off" | "alwaysOn" | { times: number }, data: Record<string, unknown> = {}): Promise<void> {
  await client.db("admin").command({ configureFailPoint: "failCommand", mode, data });
}

/** Polls `probe` until it returns true or `withinMs` passes; resolves with the milliseconds it took (or rejects). */
export async function eventually(probe: () => Promise<boolean>, withinMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
