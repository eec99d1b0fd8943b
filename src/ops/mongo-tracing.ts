/**
 * A client span for every database command a traced call makes, from the
 * MongoDB driver's command monitoring events (the client must be created
 * with `monitorCommands: true`). The driver emits `commandStarted` inside the
 * operation's own async chain, so the active context there is the RPC's and
 * the span becomes a child of the RPC's server span; commands made outside
 * any traced call (health pings, start-up index builds) get no span at all.
 *
 * Chosen over @opentelemetry/instrumentation-mongodb, which patches driver
 * internals through module-loading hooks (and, for an ESM program, a loader
 * registered with --import before anything loads); the driver's public
 * monitoring API needs neither.
 * Attributes follow the stable database conventions: `db.system.name`,
 * `db.namespace`, `db.collection.name`, `db.operation.name`,
 * `server.address`/`server.port`; never the command's contents (principals).
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from "@opentelemetry/semantic-conventions";
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, MongoClient } from "mongodb";

/** Starts making spans for `client`'s commands; the returned function stops (and ends any span still open). */
export function traceMongoCommands(client: MongoClient, tracer: Tracer): () => void {
  // The driver's request ids come from one counter for the whole process.
  const open = new Map<number, Span>();
  const started = (event: CommandStartedEvent): void => {
    const parent = context.active();
    if (trace.getSpan(parent) === undefined) return;
    const collection = collectionOf(event);
    const { host, port } = hostAndPort(event.address);
    const span = tracer.startSpan(
      collection === undefined ? event.commandName : `${event.commandName} ${collection}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_DB_SYSTEM_NAME]: "mongodb",
          [ATTR_DB_NAMESPACE]: event.databaseName,
          [ATTR_DB_OPERATION_NAME]: event.commandName,
          ...(collection === undefined ? {} : { [ATTR_DB_COLLECTION_NAME]: collection }),
          [ATTR_SERVER_ADDRESS]: host,
          ...(port === undefined ? {} : { [ATTR_SERVER_PORT]: port }),
        },
      },
      parent,
    );
    open.set(event.requestId, span);
  };
  const succeeded = (event: CommandSucceededEvent): void => {
    const span = open.get(event.requestId);
    if (span === undefined) return;
    open.delete(event.requestId);
    span.end();
  };
  const failed = (event: CommandFailedEvent): void => {
    const span = open.get(event.requestId);
    if (span === undefined) return;
    open.delete(event.requestId);
    const codeName = (event.failure as { codeName?: unknown }).codeName;
    span.setAttribute(ATTR_ERROR_TYPE, typeof codeName === "string" ? codeName : event.failure.name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: event.failure.message });
    span.end();
  };
  client.on("commandStarted", started);
  client.on("commandSucceeded", succeeded);
  client.on("commandFailed", failed);
  return () => {
    client.off("commandStarted", started);
    client.off("commandSucceeded", succeeded);
    client.off("commandFailed", failed);
    for (const span of open.values()) span.end();
    open.clear();
  };
}

/** `find: "groups"`, `insert: "memberships"`…; getMore names it in `collection`; admin commands have none. */
function collectionOf(event: CommandStartedEvent): string | undefined {
  const value: unknown = event.command[event.commandName];
  if (typeof value === "string") return value;
  const collection: unknown = event.command["collection"];
  return typeof collection === "string" ? collection : undefined;
}

/** "127.0.0.1:27017" or "[::1]:27017" as host and port. */
function hostAndPort(address: string): { host: string; port: number | undefined } {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  return match === null ? { host: address, port: undefined } : { host: match[1] ?? address, port: Number(match[2]) };
}
