/**
 * Cluster time on the wire: every reply carries `$clusterTime` (the store's
 * logical clock, with the all-zero signature of a deployment without keys) and
 * `operationTime` (the cluster time of the commit a write made, or of the
 * snapshot a read saw); a client's `$clusterTime` moves the clock forward, as
 * a keyless mongod accepts it.
 */
import { Binary, Long, Timestamp, type Document } from "bson";
import { isPlainObject } from "../document-paths.ts";

/** A keyless deployment signs with keyId 0 and a zero hash. */
const dummySignature = { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.ZERO };

export function clusterTimeDocument(time: Timestamp): Document {
  return { clusterTime: time, signature: dummySignature };
}

/** The cluster time a client gossips in `$clusterTime`, if it sent a well-formed one. */
export function gossipedClusterTime(body: Document): Timestamp | undefined {
  const gossip: unknown = body["$clusterTime"];
  if (!isPlainObject(gossip)) return undefined;
  const time: unknown = gossip["clusterTime"];
  return time instanceof Timestamp ? time : undefined;
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
