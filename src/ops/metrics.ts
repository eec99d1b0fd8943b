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
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";
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
  /**
   * The figures of `method` on `door`, the same object for every call: the
   * pipeline finds it once per call, then starts and finishes the call on it
   * without a closure per call. Exactly one `finish` per `start`.
   */
  seriesFor(door: string, method: string, streaming: boolean): RpcSeries;
}

/** One (door, method)'s RPC figures (see RpcObserver.seriesFor). */
export interface RpcSeries {
  /** Counts a call in flight; returns its start, to pass to `finish`. */
  start(): number;
  /** Ends the call started at `started` with status `code` (0 = OK). */
  finish(started: number, code: number): void;
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
  /** Milliseconds for RPC durations (tests set their own); default performance.now. */
  readonly clock?: () => number;
}

/** Latency buckets in seconds: sub-millisecond cache hits to multi-second stragglers. */
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(options: MetricsOptions = {}): RosterMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const rpcs = createRpcMetrics(registry, options.clock ?? performanceClock);
  const pool = createPoolMetrics(registry);

  return {
    registry,
    rpcStarted: (call) => {
      const series = rpcs.seriesFor(call.door, call.method, call.streaming);
      const started = series.start();
      let finished = false;
      return (code) => {
        if (finished) return;
        finished = true;
        series.finish(started, code);
      };
    },
    seriesFor: rpcs.seriesFor,
    recordPoolEvent: pool.record,
    observeReadModel: (read) => {
      createReadModelMetrics(registry, read);
    },
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

const performanceClock = (): number => performance.now();

/** One status code's count in one (door, method) series, in the order it first ended a call. */
interface HandledCount {
  readonly labels: { readonly door: string; readonly method: string; readonly code: string };
  count: number;
}

/** A door's calls in flight of one kind (unary or streaming). */
interface InFlight {
  readonly labels: { readonly door: string };
  count: number;
}

/** What a (door, method) series counts, as plain numbers. */
interface SeriesCounts {
  readonly labels: { readonly door: string; readonly method: string };
  /** Calls ended, by status code number. */
  readonly handled: Map<number, HandledCount>;
  /** Calls whose duration fell in each bucket (not cumulative; the last is +Inf only). */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The RPC series, kept as plain numbers per (door, method) and handed to
 * prom-client at scrape time: recording a call is a few additions, where
 * prom-client's `inc`/`observe` with labels validated and hashed the labels of
 * three metrics per call. What `/metrics` shows is unchanged: the same
 * metrics, registered in the same order, with the same label sets in the
 * same order (the order their first call started or ended), buckets, sums
 * and counts.
 */
function createRpcMetrics(
  registry: Registry,
  clock: () => number,
): { seriesFor: (door: string, method: string, streaming: boolean) => RpcSeries } {
  /** Handled counts and histogram series in the order prom-client would have created them. */
  const handledOrder: HandledCount[] = [];
  const observedOrder: SeriesCounts[] = [];
  const unaryInFlight = new Map<string, InFlight>();
  const streamsInFlight = new Map<string, InFlight>();
  /** door → method → series, for unary and streaming calls alike (a method is one or the other). */
  const series = new Map<string, Map<string, RpcSeries>>();

  new Counter({
    name: "roster_rpc_handled_total",
    help: "RPCs completed, by door, method and status code.",
    labelNames: ["door", "method", "code"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const handled of handledOrder) this.inc(handled.labels, handled.count);
    },
  });
  registry.registerMetric(createLatencyHistogram(observedOrder));
  inFlightGauge(registry, "roster_rpcs_in_flight", "Unary RPCs being served, by door.", unaryInFlight);
  inFlightGauge(registry, "roster_streams_in_flight", "Streaming RPCs open, by door.", streamsInFlight);

  const inFlightOf = (door: string, streaming: boolean): InFlight => {
    const byDoor = streaming ? streamsInFlight : unaryInFlight;
    let inFlight = byDoor.get(door);
    if (inFlight === undefined) byDoor.set(door, (inFlight = { labels: { door }, count: 0 }));
    return inFlight;
  };

  const createSeries = (door: string, method: string, streaming: boolean): RpcSeries => {
    const inFlight = inFlightOf(door, streaming);
    const counts: SeriesCounts = {
      labels: { door, method },
      handled: new Map(),
      buckets: new Float64Array(latencyBuckets.length + 1),
      sum: 0,
      count: 0,
    };
    const handledOf = (code: number): HandledCount => {
      let handled = counts.handled.get(code);
      if (handled === undefined) {
        handled = { labels: { door, method, code: statusCodeNames[code] ?? String(code) }, count: 0 };
        counts.handled.set(code, handled);
        handledOrder.push(handled);
      }
      return handled;
    };
    return {
      start: () => {
        inFlight.count++;
        return clock();
      },
      finish: (started, code) => {
        inFlight.count--;
        // Whole nanoseconds, as prom-client's timer measured them (process.hrtime).
        const seconds = Math.round((clock() - started) * 1e6) / 1e9;
        let bucket = 0;
        while (bucket < latencyBuckets.length && !(seconds <= (latencyBuckets[bucket] as number))) bucket++;
        counts.buckets[bucket] = (counts.buckets[bucket] as number) + 1;
        counts.sum += seconds;
        if (counts.count++ === 0) observedOrder.push(counts);
        handledOf(code).count++;
      },
    };
  };

  return {
    seriesFor: (door, method, streaming) => {
      let byMethod = series.get(door);
      if (byMethod === undefined) series.set(door, (byMethod = new Map<string, RpcSeries>()));
      let found = byMethod.get(method);
      if (found === undefined) byMethod.set(method, (found = createSeries(door, method, streaming)));
      return found;
    },
  };
}

/** A gauge of calls in flight by door, set from `byDoor` at each scrape. */
function inFlightGauge(registry: Registry, name: string, help: string, byDoor: ReadonlyMap<string, InFlight>): void {
  new Gauge({
    name,
    help,
    labelNames: ["door"] as const,
    registers: [registry],
    collect() {
      for (const inFlight of byDoor.values()) this.set(inFlight.labels, inFlight.count);
    },
  });
}

/** A sample as prom-client's registry reads it from a metric's `get()`. */
interface Sample {
  readonly value: number;
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly exemplar?: null;
}

/**
 * `roster_rpc_duration_seconds` as prom-client's registry reads a metric
 * (`name`, `help`, `type` and `get()`), made from the series' counts at each
 * scrape: the same samples, in the same shape and order, as a prom-client
 * Histogram with these buckets fed the same observations. A metric of its own
 * because a Histogram's counts can only be fed one observation at a time.
 */
function createLatencyHistogram(observed: readonly SeriesCounts[]): Metric {
  const name = "roster_rpc_duration_seconds";
  const help = "Time from the start of an RPC to its status, by door and method.";
  const samples = (): Sample[] => {
    const values: Sample[] = [];
    for (const counts of observed) {
      const { door, method } = counts.labels;
      let cumulative = 0;
      latencyBuckets.forEach((le, i) => {
        cumulative += counts.buckets[i] ?? 0;
        values.push({ value: cumulative, metricName: `${name}_bucket`, exemplar: null, labels: { le, door, method } });
      });
      values.push({ value: counts.count, metricName: `${name}_bucket`, exemplar: null, labels: { le: "+Inf", door, method } });
      values.push({ value: counts.sum, metricName: `${name}_sum`, labels: { door, method } });
      values.push({ value: counts.count, metricName: `${name}_count`, labels: { door, method } });
    }
    return values;
  };
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get: () => Promise.resolve({ name, help, type: "histogram", values: samples(), aggregator: "sum" }),
    reset: () => undefined,
  };
  // The registry reads only the members above; prom-client's types know no metric but its own classes.
  return metric as unknown as Metric;
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
