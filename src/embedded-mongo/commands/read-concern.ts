/**
 * `readConcern` as mongod applies it on a one-member replica set: which
 * commands accept which levels, `afterClusterTime` (refused beyond the cluster
 * time, else waited for: for majority reads until the changes up to it are in
 * the journal), and where a read looks (majority, linearizable and snapshot
 * reads see only durable changes).
 */
import { Timestamp } from "bson";
import { compareTimestamps } from "../engine/cluster-clock.ts";
import type { Engine } from "../engine/types.ts";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";

export type ReadConcernLevel = "local" | "available" | "majority" | "linearizable" | "snapshot";

export interface ReadConcern {
  readonly level: ReadConcernLevel | undefined;
  readonly afterClusterTime: Timestamp | undefined;
  readonly atClusterTime: Timestamp | undefined;
}

const levels: readonly string[] = ["local", "available", "majority", "linearizable", "snapshot"];

/** Parses `readConcern`; undefined when absent or empty. */
export function parseReadConcern(value: unknown): ReadConcern | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw commandError("TypeMismatch", `BSON field 'readConcern' is the wrong type, expected type 'object'`);
  const level: unknown = value["level"];
  if (level !== undefined && (typeof level !== "string" || !levels.includes(level))) {
    throw commandError("FailedToParse", `${describeValue(level)} is not a valid readConcern level; expected one of ${levels.join(", ")}`);
  }
  const after: unknown = value["afterClusterTime"];
  const at: unknown = value["atClusterTime"];
  if (after !== undefined && !(after instanceof Timestamp))
    throw commandError("TypeMismatch", "readConcern.afterClusterTime must be a Timestamp");
  if (at !== undefined && !(at instanceof Timestamp)) throw commandError("TypeMismatch", "readConcern.atClusterTime must be a Timestamp");
  if (at !== undefined && level !== "snapshot") {
    throw commandError("InvalidOptions", "readConcern.atClusterTime is only valid with readConcern level snapshot");
  }
  if (at !== undefined && after !== undefined) {
    throw commandError("InvalidOptions", "Specifying a timestamp for readConcern snapshot in a causally consistent session is not allowed");
  }
  if (level === undefined && after === undefined && at === undefined) return undefined;
  return { level: level as ReadConcernLevel | undefined, afterClusterTime: after, atClusterTime: at };
}

/** The `{ readConcern: … }` mongod quotes in "does not support" errors. */
function quoted(concern: ReadConcern): string {
  return `{ readConcern: ${describeValue({ level: concern.level })} }`;
}

/** Refuses a level the command does not support (`reads`: find, aggregate, count, distinct). */
export function checkReadConcernSupported(command: string, concern: ReadConcern | undefined, reads: boolean): void {
  if (concern === undefined) return;
  const level = concern.level ?? "local";
  if (reads || level === "local") return;
  throw commandError("InvalidOptions", `Command ${command} does not support ${quoted(concern)}`);
}

/** Where a read looks: the state at `atClusterTime`, the durable state, or everything applied. */
export function readPoint(concern: ReadConcern | undefined): "latest" | "durable" | Timestamp {
  if (concern?.atClusterTime !== undefined) return concern.atClusterTime;
  const level = concern?.level;
  return level === "majority" || level === "linearizable" || level === "snapshot" ? "durable" : "latest";
}

const sleepUntil = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits as mongod does before a read at or after a cluster time: refused when
 * it is past the cluster time (InvalidOptions); for durable levels, until
 * every change applied so far is in the journal (MaxTimeMSExpired at
 * `deadline`). Local reads need no wait: every change up to the cluster time
 * is applied.
 */
export async function waitForReadConcern(engine: Engine, concern: ReadConcern | undefined, deadline: number | undefined): Promise<void> {
  const time = concern?.afterClusterTime ?? concern?.atClusterTime;
  if (time === undefined) return;
  const current = engine.clusterTime();
  if (compareTimestamps(time, current) > 0) {
    const field = concern?.afterClusterTime === undefined ? "atClusterTime" : "afterClusterTime";
    throw commandError(
      "InvalidOptions",
      `readConcern ${field} value must not be greater than the current clusterTime. Requested clusterTime: ${describeValue(time)}; current clusterTime: ${describeValue(current)}`,
    );
  }
  if (readPoint(concern) === "latest") return;
  const target = engine.changes.latestSeq();
  while (engine.changes.durableSeq() < target) {
    const remaining = deadline === undefined ? 60_000 : deadline - Date.now();
    if (remaining <= 0) throw commandError("MaxTimeMSExpired", "operation exceeded time limit");
    await Promise.race([engine.changes.waitFor(target - 1n, remaining), sleepUntil(Math.min(remaining, 1_000))]);
  }
}

/** The readConcern a statement inside a transaction may carry (only its first may). */
export function checkTransactionReadConcern(concern: ReadConcern | undefined, starting: boolean): void {
  if (concern === undefined) return;
  if (!starting) throw commandError("InvalidOptions", "Only the first command in a transaction may specify a readConcern");
  const level = concern.level ?? "local";
  if (level !== "local" && level !== "majority" && level !== "snapshot") {
    throw commandError(
      "InvalidOptions",
      `The readConcern level must be either 'local' (default), 'majority' or 'snapshot' in order to run in a transaction`,
    );
  }
}
