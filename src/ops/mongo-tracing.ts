/**
 * A client span for every database command a traced call makes, from
 * storage's command events (the database handle must be created with
 * `monitorCommands`). The driver emits them inside the operation's own async
 * chain, so the active context there is the RPC's and the span becomes a
 * child of the RPC's server span; commands made outside any traced call
 * (health pings, start-up index builds) get no span at all.
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
import type { Database } from "../storage/database.ts";
import { observeCommands, type CommandEvent } from "../storage/command-events.ts";

/** Starts making spans for `database`'s commands; the returned function stops (and ends any span still open). */
export function traceMongoCommands(database: Database, tracer: Tracer): () => void {
  // The driver's request ids come from one counter for the whole process.
  const open = new Map<number, Span>();
  const started = (event: Extract<CommandEvent, { kind: "started" }>): void => {
    const parent = context.active();
    if (trace.getSpan(parent) === undefined) return;
    const { host, port } = hostAndPort(event.address);
    const span = tracer.startSpan(
      event.collection === undefined ? event.commandName : `${event.commandName} ${event.collection}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_DB_SYSTEM_NAME]: "mongodb",
          [ATTR_DB_NAMESPACE]: event.databaseName,
          [ATTR_DB_OPERATION_NAME]: event.commandName,
          ...(event.collection === undefined ? {} : { [ATTR_DB_COLLECTION_NAME]: event.collection }),
          [ATTR_SERVER_ADDRESS]: host,
          ...(port === undefined ? {} : { [ATTR_SERVER_PORT]: port }),
        },
      },
      parent,
    );
    open.set(event.requestId, span);
  };
  const ended = (event: Exclude<CommandEvent, { kind: "started" }>): void => {
    const span = open.get(event.requestId);
    if (span === undefined) return;
    open.delete(event.requestId);
    if (event.kind === "failed") {
      span.setAttribute(ATTR_ERROR_TYPE, event.errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: event.message });
    }
    span.end();
  };
  const unobserve = observeCommands(database, (event) => {
    if (event.kind === "started") started(event);
    else ended(event);
  });
  return () => {
    unobserve();
    for (const span of open.values()) span.end();
    open.clear();
  };
}

/** "127.0.0.1:27017" or "[::1]:27017" as host and port. */
function hostAndPort(address: string): { host: string; port: number | undefined } {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  return match === null ? { host: address, port: undefined } : { host: match[1] ?? address, port: Number(match[2]) };
}
