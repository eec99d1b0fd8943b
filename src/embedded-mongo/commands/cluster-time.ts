/**
 * Cluster time on the wire: every reply carries `$clusterTime` (the store's
 * logical clock, with the all-zero signature of a deployment without keys) and
 * `operationTime` (the cluster time of the commit a write made, or of the
 * snapshot a read saw); a client's `$clusterTime` moves the clock forward, as
 * a keyless mongod accepts it.
 */
import { Binary, Long, Timestamp, type Document } from "bson";
import { isPlainObject } from "../document-paths.ts";
import { commandError } from "../errors.ts";

/** A keyless deployment signs with keyId 0 and a zero hash. */
const dummySignature = { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.ZERO };

export function clusterTimeDocument(time: Timestamp): Document {
  return { clusterTime: time, signature: dummySignature };
}

/** How far ahead of the wall clock a gossiped time may be (mongod's maxAcceptableLogicalClockDriftSecs). */
const maxDriftSeconds = 365 * 24 * 60 * 60;

/**
 * The cluster time a client gossips in `$clusterTime`, if it sent a
 * well-formed one; refused (ClusterTimeFailsRateLimiter) when it is more than
 * a year ahead of the wall clock, as mongod refuses it, so no client can push
 * the clock out of reach.
 */
export function gossipedClusterTime(body: Document, now = Date.now()): Timestamp | undefined {
  const gossip: unknown = body["$clusterTime"];
  if (!isPlainObject(gossip)) return undefined;
  const time: unknown = gossip["clusterTime"];
  if (!(time instanceof Timestamp)) return undefined;
  const wall = Math.floor(now / 1000);
  if (time.t > wall + maxDriftSeconds) {
    throw commandError("ClusterTimeFailsRateLimiter", `New cluster time, ${time.t}, is too far from this node's wall clock time, ${wall}.`);
  }
  return time;
}

/** The cluster time of what one command did, collected by its statement scope. */
export interface OperationTiming {
  /** Records a commit time or a snapshot's time; the latest one wins. */
  observe(time: Timestamp | null | undefined): void;
  readonly time: Timestamp | undefined;
}

/**
 * A class rather than a closure factory: one is made per command, and
 * per-call closures (each renamed by the tsx/esbuild `keepNames` helper) cost
 * a measurable share of a small command.
 */
class LatestTime implements OperationTiming {
  time: Timestamp | undefined = undefined;

  observe(time: Timestamp | null | undefined): void {
    if (time !== null && time !== undefined && (this.time === undefined || time.greaterThan(this.time))) this.time = time;
  }
}

export function createOperationTiming(): OperationTiming {
  return new LatestTime();
}
