/**
 * The read model of one Roster process (README, "The read model"): every
 * group and group edge in memory, loaded from one snapshot and kept current
 * from the database's change stream, so that reads — every authorization
 * decision of a read RPC, CheckMembership, ListGroups' scope, GetGroup —
 * cost memory lookups instead of round trips.
 *
 * Freshness, in two measures:
 * - `applied`: the cluster time through which every commit is applied (a
 *   consistency token's time is compared with it); a transaction the feed
 *   holds back until it has all of it (graph-changes.ts, `batchLimit`) is
 *   not applied, so `applied` stays just before it;
 * - `currentAt`: the wall-clock time as of which the model is known to hold
 *   every commit (a batch that held everything there was: the moment its
 *   request was sent; otherwise the newest applied commit's time, or that
 *   of the transaction held back). The lag is now − currentAt.
 * It answers only while following its stream with a lag within
 * ROSTER_READ_MODEL_MAX_LAG_MS; otherwise (loading, the stream broken,
 * lagging) `sourceFor` says "the database", whose answers are current.
 * A read waits (within its deadline, at most the bound) until the model has
 * applied what its consistency asks and this process's own last write.
 *
 * Lifecycle: load a snapshot, follow from just after its time; after a
 * failure of the stream, reopen it from the last position (reads use the
 * database meanwhile); when the stream has lost its position, rebuild from
 * a new snapshot. Writes never read the model.
 */
import type { ClusterTime, ReadConsistency } from "../../domain/consistency.ts";
import { groupIdOfPrincipal } from "../../domain/principal.ts";
import type { Database } from "../../storage/database.ts";
import { isClosedClientError } from "../../storage/driver-errors.ts";
import { openGraphFeed, type GraphBatch, type GraphFeed } from "../../storage/graph-changes.ts";
import { loadGraphSnapshot } from "../../storage/graph-snapshot.ts";
import type { MembershipStore } from "../../storage/membership-store.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import type { AppLogger } from "../app-context.ts";
import type { ReadSource } from "../read-source.ts";
import { createFactsMemo } from "./facts-memo.ts";
import { createGroupGraph, type GroupGraph } from "./group-graph.ts";
import { createModelReads } from "./model-reads.ts";
import { createPrincipalMemberships, type PrincipalMemberships } from "./principal-memberships.ts";
import type { ReadModelSettings } from "./settings.ts";

/** loading: reading a snapshot; following: applying the stream; recovering: the stream failed, reopening it. */
export type ReadModelPhase = "loading" | "following" | "recovering" | "stopped";

export interface ReadModelStatus {
  readonly phase: ReadModelPhase;
  /** Reads are answered from the model (following, lag within the bound). */
  readonly serving: boolean;
  /** Milliseconds since the model was last known current; undefined before the first load. */
  readonly lagMs: number | undefined;
  readonly maxLagMs: number;
  readonly groups: number;
  readonly groupEdges: number;
  readonly cachedPrincipals: number;
  readonly cachedMemberships: number;
}

export interface ReadModel {
  /**
   * The model as a ReadSource for a read under `consistency`, once it has
   * applied what that and this process's last write require (waiting within
   * the call's deadline, at most the lag bound); undefined when the database
   * must answer (fully consistent, not serving, or not caught up in time).
   */
  sourceFor(consistency: ReadConsistency, call: StoreCall): Promise<ReadSource | undefined>;
  /** This process committed a transaction at `time`: its next reads wait for the model to apply it. */
  noteLocalCommit(time: ClusterTime): void;
  status(): ReadModelStatus;
  /** Resolves once the model serves (or has stopped). */
  whenServing(): Promise<void>;
  /** Called with the new status whenever `serving` or the phase changes. */
  onChange(listener: (status: ReadModelStatus) => void): void;
  stop(): Promise<void>;
}

export interface ReadModelDeps {
  readonly database: Database;
  /** The database as a ReadSource (what the model leaves there). */
  readonly databaseReads: ReadSource;
  readonly memberships: Pick<MembershipStore, "membershipsOfMembers">;
  readonly settings: ReadModelSettings;
  readonly logger: AppLogger | undefined;
}

/** One load of the model: the graph, the cache and their ReadSource, replaced whole by a rebuild. */
interface Build {
  readonly graph: GroupGraph;
  readonly principals: PrincipalMemberships;
  readonly reads: ReadSource;
}

interface Waiter {
  readonly time: ClusterTime;
  readonly resolve: (reached: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The groups that closures kept across requests may hold in total (a caller
 * in 2,000 groups weighs 2,000): about 25 MiB at most, a fraction of what the
 * graph of 100,000 groups takes (README, sizing).
 */
const derivedReadsWeight = 50_000;

const firstRetryMs = 100;
const lastRetryMs = 5_000;

/** How long an idle stream's request waits: short enough that the lag it shows stays well within the bound. */
function awaitMsOf(maxLagMs: number): number {
  return Math.max(20, Math.min(1_000, Math.floor(maxLagMs / 5)));
}

/** Starts loading and following at once; `stop()` ends it. */
export function startReadModel(deps: ReadModelDeps): ReadModel {
  const { settings, logger } = deps;
  let phase: ReadModelPhase = "loading";
  let build: Build | undefined;
  let applied: ClusterTime = 0n;
  let currentAt: number | undefined;
  let localCommit: ClusterTime = 0n;
  let feed: GraphFeed | undefined;
  let stopped = false;
  /** `stop()` was called (a function, so that a check after an await is not narrowed away). */
  const isStopped = (): boolean => stopped;
  let waiters: Waiter[] = [];
  const listeners: ((status: ReadModelStatus) => void)[] = [];
  const servingWaiters: (() => void)[] = [];
  let wasServing = false;
  let lastPhase: ReadModelPhase = phase;
  const facts = createFactsMemo(derivedReadsWeight);

  const lagMs = (): number | undefined => (currentAt === undefined ? undefined : Math.max(0, Date.now() - currentAt));
  const serving = (): boolean => {
    const lag = lagMs();
    return phase === "following" && build !== undefined && lag !== undefined && lag <= settings.maxLagMs;
  };

  const status = (): ReadModelStatus => ({
    phase,
    serving: serving(),
    lagMs: lagMs(),
    maxLagMs: settings.maxLagMs,
    groups: build?.graph.groupCount ?? 0,
    groupEdges: build?.graph.edgeCount ?? 0,
    cachedPrincipals: build?.principals.principalCount ?? 0,
    cachedMemberships: build?.principals.membershipCount ?? 0,
  });

  /** Logs and tells listeners when serving or the phase changed. */
  const report = (): void => {
    const now = status();
    if (now.serving === wasServing && now.phase === lastPhase) return;
    const details = { readModel: now.phase, lagMs: now.lagMs, maxLagMs: now.maxLagMs, groups: now.groups };
    if (now.serving) logger?.info(details, "read model serving: reads are answered from memory");
    else if (now.phase === "following") logger?.warn(details, "read model lagging behind the bound: reads use the database");
    else if (now.phase !== "stopped") logger?.warn(details, `read model ${now.phase}: reads use the database`);
    wasServing = now.serving;
    lastPhase = now.phase;
    if (now.serving) for (const resolve of servingWaiters.splice(0)) resolve();
    for (const listener of listeners) listener(now);
  };
  // Lag grows with the clock alone: look at it every so often.
  const watch = setInterval(report, Math.max(50, Math.floor(settings.maxLagMs / 10)));
  watch.unref();

  const setPhase = (next: ReadModelPhase): void => {
    phase = next;
    report();
  };

  const advance = (time: ClusterTime | undefined): void => {
    if (time === undefined || time <= applied) return;
    applied = time;
    const reached = waiters.filter((waiter) => waiter.time <= applied);
    if (reached.length === 0) return;
    waiters = waiters.filter((waiter) => waiter.time > applied);
    for (const waiter of reached) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  };

  /** Resolves true once `time` is applied, false at `until` (epoch ms) or when the model stops. */
  const waitApplied = (time: ClusterTime, until: number): Promise<boolean> => {
    if (time <= applied) return Promise.resolve(true);
    if (until <= Date.now() || stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        time,
        resolve,
        timer: setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          resolve(false);
        }, until - Date.now()),
      };
      waiters.push(waiter);
    });
  };

  /** How long a read may wait for the model: half its time left, and never past the bound. */
  const waitUntil = (call: StoreCall): number => {
    const now = Date.now();
    const bound = now + settings.maxLagMs;
    return call.deadline === undefined ? bound : Math.min(bound, now + Math.max(0, (call.deadline - now) / 2));
  };

  const applyBatch = (current: Build, batch: GraphBatch): void => {
    // Before the first change is applied: a read that started on the old facts then cannot store what it derived.
    if (batch.changes.length > 0) facts.invalidate();
    for (const { change, time } of batch.changes) {
      const member = change.kind === "membership_put" ? change.member : undefined;
      const ofGraph =
        change.kind === "group_put" ||
        change.kind === "group_removed" ||
        (member !== undefined && groupIdOfPrincipal(member) !== undefined) ||
        ((change.kind === "membership_changed" || change.kind === "membership_removed") && current.graph.hasEdge(change.id));
      if (ofGraph) current.graph.apply(change);
      else current.principals.apply(change, time);
    }
    if (batch.currentAt !== undefined) currentAt = Math.max(currentAt ?? 0, batch.currentAt);
    // Never past a transaction the feed holds back: a token of its commit waits for all of it.
    advance(batch.highWater);
  };

  /** Loads a snapshot and follows its changes; returns when the stream has lost its position. */
  const loadAndFollow = async (): Promise<void> => {
    setPhase("loading");
    const loadStarted = Date.now();
    const snapshot = await loadGraphSnapshot(deps.database);
    const graph = createGroupGraph(snapshot.groups, snapshot.groupEdges);
    const principals = createPrincipalMemberships(
      (members, call) => deps.memberships.membershipsOfMembers(members, call),
      settings.cachedMemberships,
    );
    facts.invalidate();
    const reads = createModelReads({
      graph,
      principals,
      facts,
      database: deps.databaseReads,
      applied: async (time, call) => {
        await waitApplied(time, waitUntil(call));
      },
    });
    const current: Build = { graph, principals, reads };
    build = current;
    advance(snapshot.time);
    currentAt = loadStarted;
    logger?.info(
      { readModel: "loaded", groups: graph.groupCount, groupEdges: graph.edgeCount, loadMs: Date.now() - loadStarted },
      "read model loaded",
    );
    feed = openGraphFeed(deps.database, snapshot.time, { maxAwaitMs: awaitMsOf(settings.maxLagMs), groupBefore: (id) => graph.group(id) });
    setPhase("following");
    let failures = 0;
    while (!stopped) {
      let batch: GraphBatch;
      try {
        batch = await feed.next();
      } catch (error) {
        if (isStopped()) return;
        failures += 1;
        if (failures === 1) logger?.warn({ err: error }, "read model: the change stream failed; reopening it");
        setPhase("recovering");
        await sleep(Math.min(lastRetryMs, firstRetryMs * 2 ** (failures - 1)));
        await feed.reopen();
        continue;
      }
      if (batch.closed === true) {
        stopped = true;
        return;
      }
      applyBatch(current, batch);
      if (batch.lost !== undefined) {
        logger?.warn({ reason: batch.lost }, "read model: the change stream lost its position; rebuilding from a new snapshot");
        await feed.close().catch(() => undefined);
        return;
      }
      failures = 0;
      if (phase !== "following") setPhase("following");
      else report();
    }
  };

  const running = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        await loadAndFollow();
        failures = 0;
      } catch (error) {
        if (isStopped() || isClosedClientError(error)) break;
        failures += 1;
        logger?.warn({ err: error }, "read model: loading failed; reads use the database; retrying");
        setPhase("loading");
        await sleep(Math.min(lastRetryMs, firstRetryMs * 2 ** (failures - 1)));
      }
    }
    stopped = true;
    setPhase("stopped");
    for (const waiter of waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    for (const resolve of servingWaiters.splice(0)) resolve();
    clearInterval(watch);
  })();

  return {
    async sourceFor(consistency, call) {
      const current = build;
      if (consistency.kind === "fully_consistent" || current === undefined || !serving()) return undefined;
      let need = localCommit;
      if (consistency.kind === "at_least_as_fresh" && consistency.time > need) need = consistency.time;
      if (need > applied && !(await waitApplied(need, waitUntil(call)))) return undefined;
      return build === current && serving() ? current.reads : undefined;
    },
    noteLocalCommit(time) {
      if (time > localCommit) localCommit = time;
    },
    status,
    whenServing: () => (serving() || stopped ? Promise.resolve() : new Promise((resolve) => servingWaiters.push(resolve))),
    onChange(listener) {
      listeners.push(listener);
    },
    async stop() {
      stopped = true;
      await feed?.close().catch(() => undefined);
      // A snapshot read cannot be interrupted: it fails once the database closes after this.
      await Promise.race([running, sleep(1_000)]);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
