/**
 * Serving status for operators and load balancers: `grpc.health.v1` (Check
 * and Watch) on the gRPC door via `grpc-health-check`, and `isReady()` for the
 * web door's `GET /readyz`.
 *
 * Roster can answer nothing useful without its database, so readiness is the
 * database's reachability: a probe (`ping`) runs every `intervalMs`, bounded by
 * `timeoutMs`, and every reported service — overall ("") and each Roster
 * service — turns NOT_SERVING while it fails and SERVING when it succeeds
 * again. Once shutdown begins everything stays NOT_SERVING, so balancers drain
 * the instance before it stops.
 */
import type { Server } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";

/** What Watch tracking needs of a grpc-js server-streaming call. */
interface WatchCall {
  write(message: { status: ServingStatus }): unknown;
  end(): void;
  on(event: "cancelled" | "close", listener: () => void): unknown;
}

/** Service names reported besides the overall status "". */
export const rosterHealthServices = ["roster.v1.GroupService", "roster.v1.MembershipService", "roster.v1.ChangeService"] as const;

/** The subset of a pino logger the monitor uses. */
export interface HealthLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface HealthMonitorOptions {
  /** Resolves when the database answers; rejects (or outlasts `timeoutMs`) when it does not. */
  readonly ping: () => Promise<void>;
  /** Time between the end of one probe and the start of the next; default 5000. */
  readonly intervalMs?: number;
  /** A probe taking longer than this counts as a failure; default 2000. */
  readonly timeoutMs?: number;
  /** Service names reported besides ""; default {@link rosterHealthServices}. */
  readonly services?: readonly string[];
  readonly log?: HealthLog;
}

export interface HealthMonitor {
  /** Adds `grpc.health.v1.Health` to a grpc-js server (no token needed: it bypasses the RPC pipeline). */
  register(server: Pick<Server, "addService">): void;
  /** True while the last probe succeeded and shutdown has not begun. */
  isReady(): boolean;
  /** Runs a probe now (or joins the one running) and resolves with the resulting readiness. */
  probeNow(): Promise<boolean>;
  /** Reports NOT_SERVING everywhere from now on and stops probing. */
  setShuttingDown(): void;
  /** Stops probing (timers are also unref'd, so a forgotten monitor never keeps the process alive). */
  stop(): void;
}

/**
 * Creates the monitor and starts probing at once. Every status starts
 * NOT_SERVING until the first probe succeeds, so a Check before then is honest.
 */
export function createHealthMonitor(options: HealthMonitorOptions): HealthMonitor {
  const intervalMs = options.intervalMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const names = ["", ...(options.services ?? rosterHealthServices)];
  const implementation = new HealthImplementation(Object.fromEntries(names.map((name) => [name, "NOT_SERVING"])));

  let current: ServingStatus = "NOT_SERVING";
  /** The last probe's outcome; undefined before the first probe ends. */
  let databaseUp: boolean | undefined;
  let everReachable = false;
  let shuttingDown = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;

  const openWatches = new Set<WatchCall>();
  const trackWatch =
    (watch: (call: WatchCall) => void) =>
    (call: WatchCall): void => {
      if (shuttingDown) {
        call.write({ status: "NOT_SERVING" });
        call.end();
        return;
      }
      openWatches.add(call);
      const forget = (): void => {
        openWatches.delete(call);
      };
      call.on("cancelled", forget);
      call.on("close", forget);
      watch(call);
    };

  /** Sets every status, notifying Watch streams only on an actual change. */
  const publish = (status: ServingStatus): void => {
    if (status === current) return;
    current = status;
    for (const name of names) implementation.setStatus(name, status);
  };

  const probe = async (): Promise<boolean> => {
    let error: unknown;
    try {
      await withTimeout(options.ping(), timeoutMs);
    } catch (caught) {
      error = caught ?? new Error("ping failed");
    }
    const up = error === undefined;
    // One line per change, the first probe's outcome included; "again" only after an outage.
    if (up !== databaseUp) {
      databaseUp = up;
      if (up) options.log?.info({ health: "SERVING" }, `database reachable${everReachable ? " again" : ""}: health SERVING`);
      else options.log?.warn({ health: "NOT_SERVING", err: describe(error) }, "database unreachable: health NOT_SERVING");
      everReachable ||= up;
    }
    if (!shuttingDown) publish(up ? "SERVING" : "NOT_SERVING");
    return up && !shuttingDown;
  };

  const probeNow = (): Promise<boolean> => {
    running ??= probe().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void probeNow().finally(schedule);
    }, intervalMs);
    timer.unref();
  };

  void probeNow().finally(schedule);

  const stop = (): void => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };

  return {
    register: (server) => {
      // The library's Watch handler cannot be told to finish, so its calls are
      // tracked on their way in: at shutdown each is ended right after it has
      // seen NOT_SERVING, instead of holding the door's drain for the whole
      // grace period (a load balancer's Watch is always open).
      implementation.addToServer({
        addService: (definition, handlers) => {
          const watch = handlers["watch"] as ((call: WatchCall) => void) | undefined;
          server.addService(definition, {
            ...handlers,
            ...(watch === undefined ? {} : { watch: trackWatch(watch) }),
          });
        },
      });
    },
    isReady: () => databaseUp === true && !shuttingDown,
    probeNow,
    setShuttingDown: () => {
      shuttingDown = true;
      stop();
      publish("NOT_SERVING");
      // publish() only notifies on a change; a Watch of a database that was
      // already down has seen NOT_SERVING too. Either way it may end now.
      for (const call of openWatches) call.end();
      openWatches.clear();
    },
    stop,
  };
}

/** Rejects when `promise` has not settled within `ms`; the timer never holds the process open. */
function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
