/**
 * Prometheus metrics for `GET /metrics` on the web door (`prom-client`).
 *
 * A registry of its own rather than prom-client's global one, so that several
 * servers in one process (tests) never share counters. Recorded:
 * - RPCs by door, method and final status code, and a latency histogram by
 *   door and method, fed by the RPC pipeline through {@link RpcObserver};
 * - RPCs and streams in flight;
 * - the MongoDB driver's connection pool (storage's pool events): open connections,
 *   connections in use, callers waiting for one, the configured maximum,
 *   check-out failures and pool clears;
 * - the read model: its lag, whether it serves reads, its phase and size
 *   (read from the model at each scrape, see `observeReadModel`);
 * - prom-client's default process metrics (CPU, memory, event loop lag, GC).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PoolEvent } from "../storage/pool-events.ts";

/** gRPC status names by code number, as Prometheus label values (`code="NOT_FOUND"`). */
export const statusCodeNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** What a door knows about a call when it starts. */
export interface ObservedCall {
  /** "grpc" or "web". */
  readonly door: string;
  /** Fully-qualified method, e.g. "roster.v1.GroupService/GetGroup". */
  readonly method: string;
  /** True for client, server or bidi streaming methods. */
  readonly streaming: boolean;
}

/**
 * The hook the RPC pipeline calls: `rpcStarted` when a call enters, and the
 * returned function exactly once when it ends, with the status code number
 * sent (0 = OK; connect's `Code` values are the gRPC numbers).
 */
export interface RpcObserver {
  rpcStarted(call: ObservedCall): (code: number) => void;
}

export interface RosterMetrics extends RpcObserver {
  readonly registry: Registry;
  /**
   * Counts one event of the database's connection pool: pass it to
   * storage's `observePool` before the database connects, so that no
   * connection goes uncounted.
   */
  readonly recordPoolEvent: (event: PoolEvent) => void;
  /** Reports the read model's state at every scrape from `read` (call once). */
  observeReadModel(read: () => ReadModelGauges): void;
  /** The exposition text and its content type, for `GET /metrics`. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** What `/metrics` shows of the read model (the app's ReadModelStatus, seen from here). */
export interface ReadModelGauges {
  /** loading, following, recovering or stopped. */
  readonly phase: string;
  readonly serving: boolean;
  /** Milliseconds behind the database; undefined before the first load. */
  readonly lagMs: number | undefined;
  readonly groups: number;
  readonly groupEdges: number;
  readonly cachedMemberships: number;
}

/** The read model's phases, one `roster_read_model_phase` series each. */
const readModelPhases = ["loading", "following", "recovering", "stopped"] as const;

export interface MetricsOptions {
  /** Collect prom-client's default process metrics; default true. */
  readonly processMetrics?: boolean;
}

/** Latency buckets in seconds: sub-millisecond cache hits to multi-second stragglers. */
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(options: MetricsOptions = {}): RosterMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const handled = new Counter({
    name: "roster_rpc_handled_total",
    help: "RPCs completed, by door, method and status code.",
    labelNames: ["door", "method", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "roster_rpc_duration_seconds",
    help: "Time from the start of an RPC to its status, by door and method.",
    labelNames: ["door", "method"] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const rpcsInFlight = new Gauge({
    name: "roster_rpcs_in_flight",
    help: "Unary RPCs being served, by door.",
    labelNames: ["door"] as const,
    registers: [registry],
  });
  const streamsInFlight = new Gauge({
    name: "roster_streams_in_flight",
    help: "Streaming RPCs open, by door.",
    labelNames: ["door"] as const,
    registers: [registry],
  });

  const pool = createPoolMetrics(registry);

  return {
    registry,
    rpcStarted: (call) => {
      const inFlight = call.streaming ? streamsInFlight : rpcsInFlight;
      inFlight.inc({ door: call.door });
      const stopTimer = duration.startTimer({ door: call.door, method: call.method });
      let finished = false;
      return (code) => {
        if (finished) return;
        finished = true;
        inFlight.dec({ door: call.door });
        stopTimer();
        handled.inc({ door: call.door, method: call.method, code: statusCodeNames[code] ?? String(code) });
      };
    },
    recordPoolEvent: pool.record,
    observeReadModel: (read) => {
      createReadModelMetrics(registry, read);
    },
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

/** Gauges read from the read model at each scrape. */
function createReadModelMetrics(registry: Registry, read: () => ReadModelGauges): void {
  new Gauge({
    name: "roster_read_model_lag_seconds",
    help: "How far the read model is behind the database (reads fall back to the database past ROSTER_READ_MODEL_MAX_LAG_MS); NaN before its first load.",
    registers: [registry],
    collect() {
      const lag = read().lagMs;
      this.set(lag === undefined ? Number.NaN : lag / 1000);
    },
  });
  new Gauge({
    name: "roster_read_model_serving",
    help: "1 while reads are answered from the read model, 0 while they fall back to the database.",
    registers: [registry],
    collect() {
      this.set(read().serving ? 1 : 0);
    },
  });
  new Gauge({
    name: "roster_read_model_phase",
    help: "1 for the read model's current phase (loading, following, recovering, stopped), 0 for the others.",
    labelNames: ["phase"] as const,
    registers: [registry],
    collect() {
      const phase = read().phase;
      for (const name of readModelPhases) this.set({ phase: name }, name === phase ? 1 : 0);
    },
  });
  new Gauge({
    name: "roster_read_model_entries",
    help: "What the read model holds: groups, group-in-group edges, cached user and service memberships.",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      const status = read();
      this.set({ kind: "groups" }, status.groups);
      this.set({ kind: "group_edges" }, status.groupEdges);
      this.set({ kind: "cached_memberships" }, status.cachedMemberships);
    },
  });
}

/** Pool gauges keyed by server address ("host:port"), fed by CMAP events. */
function createPoolMetrics(registry: Registry): { record: (event: PoolEvent) => void } {
  const labelNames = ["address"] as const;
  const connections = new Gauge({
    name: "roster_mongodb_pool_connections",
    help: "Open connections in the MongoDB driver's pool, by server.",
    labelNames,
    registers: [registry],
  });
  const inUse = new Gauge({
    name: "roster_mongodb_pool_connections_in_use",
    help: "Pool connections checked out by an operation, by server.",
    labelNames,
    registers: [registry],
  });
  const waiting = new Gauge({
    name: "roster_mongodb_pool_wait_queue",
    help: "Operations waiting to check out a pool connection, by server.",
    labelNames,
    registers: [registry],
  });
  const maxSize = new Gauge({
    name: "roster_mongodb_pool_max_size",
    help: "Configured maximum size of the pool (maxPoolSize), by server.",
    labelNames,
    registers: [registry],
  });
  const checkoutFailures = new Counter({
    name: "roster_mongodb_pool_checkout_failures_total",
    help: "Failed connection check-outs, by server and reason (timeout, connectionError, poolClosed).",
    labelNames: ["address", "reason"] as const,
    registers: [registry],
  });
  const cleared = new Counter({
    name: "roster_mongodb_pool_cleared_total",
    help: "Times the pool was cleared after an error (its connections are then replaced), by server.",
    labelNames,
    registers: [registry],
  });

  return {
    record: (event) => {
      const address = event.address;
      switch (event.kind) {
        case "pool_created":
          maxSize.set({ address }, event.maxSize);
          break;
        case "connection_opened":
          connections.inc({ address });
          break;
        case "connection_closed":
          connections.dec({ address });
          break;
        case "check_out_started":
          waiting.inc({ address });
          break;
        case "checked_out":
          waiting.dec({ address });
          if (event.pooled) inUse.inc({ address });
          break;
        case "check_out_failed":
          waiting.dec({ address });
          checkoutFailures.inc({ address, reason: event.reason });
          break;
        case "checked_in":
          if (event.pooled) inUse.dec({ address });
          break;
        case "pool_cleared":
          cleared.inc({ address });
          break;
      }
    },
  };
}
