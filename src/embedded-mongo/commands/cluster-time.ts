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

export function createOperationTiming(): OperationTiming {
  let latest: Timestamp | undefined;
  return {
    observe(time) {
      if (time !== null && time !== undefined && (latest === undefined || time.greaterThan(latest))) latest = time;
    },
    get time() {
      return latest;
    },
  };
}
