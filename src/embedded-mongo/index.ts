/**
 * The embedded MongoDB-wire-compatible server: a one-member replica-set
 * primary ("rs0") on 127.0.0.1 that the official driver can use for
 * everything Roster needs (CRUD, aggregation, indexes, sessions,
 * transactions, retryable writes, change streams).
 */
import { createServer, type AddressInfo, type Socket } from "node:net";
import { Long, ObjectId } from "bson";
import { pino, type Logger } from "pino";
import { createEngine } from "./engine/index.ts";
import type { Engine } from "./engine/types.ts";
import type { ServerContext } from "./commands/command-context.ts";
import { createCursorRegistry } from "./cursor-registry.ts";
import { createFailPoints } from "./fail-points.ts";
import { createSessionRegistry } from "./session-registry.ts";
import { handleConnection, type ConnectionHandle } from "./wire/connection-handler.ts";

export interface EmbeddedMongoOptions {
  /** TCP port on 127.0.0.1; 0 (the default) picks any free port. */
  readonly port?: number;
  /** Journal directory; without it all data lives in memory only. */
  readonly dataDir?: string;
  /** Logger for connection problems and unexpected errors (silent by default). */
  readonly log?: Logger;
  /** Idle time after which an open cursor is closed (default 10 minutes). */
  readonly cursorTimeoutMs?: number;
  /** Idle time after which an open transaction is aborted (default 60 s, mongod's transactionLifetimeLimitSeconds). */
  readonly transactionLifetimeMs?: number;
  /** Change events kept for resuming change streams (default 100,000). */
  readonly changeLogRetention?: number;
  /** How long change events are kept for resuming change streams (default 24 hours). */
  readonly changeLogRetentionMs?: number;
  /** How long snapshot reads at a cluster time can reach back (mongod's minSnapshotHistoryWindowInSeconds; default 300 s). */
  readonly snapshotHistoryMs?: number;
  /**
   * Enables test commands, as mongod's `--setParameter enableTestCommands=1`:
   * `configureFailPoint` with the `failCommand` fail point. Off by default
   * (the command is then CommandNotFound, as on a production mongod).
   */
  readonly enableTestCommands?: boolean;
}

export interface EmbeddedMongo {
  /** `mongodb://127.0.0.1:PORT/?directConnection=true`; `?replicaSet=rs0` works too. */
  readonly uri: string;
  readonly port: number;
  /** Closes connections and cursors, aborts open transactions and closes the engine (journal flush). */
  stop(): Promise<void>;
}

const sweepIntervalMs = 5_000;
const defaultCursorTimeoutMs = 10 * 60_000;
const defaultTransactionLifetimeMs = 60_000;
/** How long stop() waits for in-flight commands before closing the engine. */
const drainTimeoutMs = 6_000;

function listen(server: ReturnType<typeof createServer>, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(err);
    };
    server.once("error", onError);
    server.listen({ port, host: "127.0.0.1" }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

export async function startEmbeddedMongo(options: EmbeddedMongoOptions = {}): Promise<EmbeddedMongo> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be an integer in 0..65535, got ${port}`);
  const log = options.log ?? pino({ level: "silent" });
  const engineOptions = {
    log: (level: "info" | "warn" | "error", message: string) => {
      log[level]({ component: "engine" }, message);
    },
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.changeLogRetention === undefined ? {} : { changeLogRetention: options.changeLogRetention }),
    ...(options.changeLogRetentionMs === undefined ? {} : { changeLogRetentionMs: options.changeLogRetentionMs }),
    ...(options.snapshotHistoryMs === undefined ? {} : { snapshotHistoryMs: options.snapshotHistoryMs }),
  };
  const cursorTimeoutMs = options.cursorTimeoutMs ?? defaultCursorTimeoutMs;
  const transactionLifetimeMs = options.transactionLifetimeMs ?? defaultTransactionLifetimeMs;
  const engine: Engine = await createEngine(engineOptions);
  let stopping = false;
  let address = "127.0.0.1:0";
  const context: ServerContext = {
    engine,
    cursors: createCursorRegistry({ idleTimeoutMs: cursorTimeoutMs }),
    sessions: createSessionRegistry({ sessionTimeoutMs: 30 * 60_000, transactionLifetimeMs, maxSessions: 100_000 }),
    address: () => address,
    log,
    electionId: new ObjectId("7fffffff0000000000000001"),
    topologyVersion: { processId: new ObjectId(), counter: Long.fromNumber(0) },
    failPoints: options.enableTestCommands === true ? createFailPoints() : undefined,
  };

  const sockets = new Set<Socket>();
  const connections = new Set<ConnectionHandle>();
  let nextConnectionId = 0;
  const tcp = createServer((socket) => {
    if (stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    nextConnectionId++;
    const connectionId = nextConnectionId;
    const connection = handleConnection(socket, context, connectionId, log);
    sockets.add(socket);
    connections.add(connection);
    log.debug({ connectionId, remote: socket.remotePort }, "connection opened");
    socket.on("close", () => {
      log.debug({ connectionId }, "connection closed");
      sockets.delete(socket);
      void connection.drained().finally(() => connections.delete(connection));
    });
  });
  try {
    await listen(tcp, port);
  } catch (err) {
    await engine.close();
    throw err;
  }
  // After listening, errors (such as EMFILE on accept) are logged, never fatal.
  tcp.on("error", (err) => {
    log.error({ err }, "listener error");
  });
  const bound = (tcp.address() as AddressInfo).port;
  address = `127.0.0.1:${bound}`;
  // Sweep at least twice per timeout so short (test) timeouts are honoured promptly.
  const shortestTimeout = Math.min(cursorTimeoutMs, transactionLifetimeMs);
  const sweeper = setInterval(
    () => {
      context.cursors.sweep();
      context.sessions.sweep();
    },
    Math.min(sweepIntervalMs, Math.max(50, shortestTimeout / 2)),
  );
  sweeper.unref();
  log.info({ address }, "embedded-mongo listening");

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    stopping = true;
    clearInterval(sweeper);
    const closed = new Promise<void>((resolve) =>
      tcp.close(() => {
        resolve();
      }),
    );
    for (const socket of sockets) socket.destroy();
    // Ends pending change-stream waits, so in-flight commands finish promptly.
    context.cursors.closeAll();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainTimeoutMs);
    });
    await Promise.race([Promise.allSettled([...connections].map((c) => c.drained())), timeout]);
    clearTimeout(timer);
    context.cursors.closeAll();
    context.sessions.closeAll();
    context.failPoints?.reset();
    await engine.close();
    await closed;
    log.info({ address }, "embedded-mongo stopped");
  };

  return {
    uri: `mongodb://${address}/?directConnection=true`,
    port: bound,
    stop: () => (stopped ??= stop()),
  };
}

export {
  spawnEmbeddedMongo,
  type EmbeddedMongoProcess,
  type SpawnedEmbeddedMongo,
  type SpawnEmbeddedMongoOptions,
} from "./spawn-embedded-mongo.ts";
