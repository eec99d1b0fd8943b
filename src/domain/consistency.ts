/**
 * How fresh a read must be, and the consistency tokens that say it, as
 * SpiceDB and Zanzibar do it (README, "Consistency").
 *
 * A cluster time is MongoDB's: a commit's (seconds, increment) Timestamp,
 * held here as one bigint (seconds in the high 32 bits) so that times
 * compare with `<`. A token is the commit time of a write, opaque to
 * clients: base64url of a version byte and the 8 bytes of the time. A read
 * with `at_least_as_fresh` is answered from a state that includes that
 * commit.
 */
import { invalidArgument } from "./errors.ts";

/** A MongoDB cluster time, (seconds << 32) | increment. */
export type ClusterTime = bigint;

/** What a read RPC asks of its data's freshness (proto `roster.v1.Consistency`). */
export type ReadConsistency =
  /** The replica's read model as it is (within the staleness bound), and this process's own writes. */
  | { readonly kind: "minimize_latency" }
  /** A state that includes the commit at `time`, from the read model once it has it, else from the database. */
  | { readonly kind: "at_least_as_fresh"; readonly time: ClusterTime }
  /** The database, as it is now. */
  | { readonly kind: "fully_consistent" };

export const minimizeLatency: ReadConsistency = Object.freeze({ kind: "minimize_latency" });
export const fullyConsistent: ReadConsistency = Object.freeze({ kind: "fully_consistent" });

/** The cluster time of MongoDB's (seconds, increment). */
export function clusterTime(seconds: number, increment: number): ClusterTime {
  return (BigInt(seconds) << 32n) | BigInt(increment);
}

/** The seconds part of a cluster time (epoch seconds of the commit, by the database's clock). */
export function secondsOf(time: ClusterTime): number {
  return Number(time >> 32n);
}

/** The increment part of a cluster time. */
export function incrementOf(time: ClusterTime): number {
  return Number(time & 0xffffffffn);
}

const tokenVersion = 1;
const tokenBytes = 9;

/** The consistency token of a commit at `time`. */
export function encodeConsistencyToken(time: ClusterTime): string {
  const bytes = Buffer.alloc(tokenBytes);
  bytes.writeUInt8(tokenVersion, 0);
  bytes.writeBigUInt64BE(time, 1);
  return bytes.toString("base64url");
}

/**
 * The commit time a token stands for. Anything Roster did not issue is
 * invalid_argument naming `field` (a token is never guessed at).
 */
export function decodeConsistencyToken(token: string, field: string): ClusterTime {
  const bytes = /^[A-Za-z0-9_-]{12}$/.test(token) ? Buffer.from(token, "base64url") : undefined;
  if (bytes?.length !== tokenBytes || bytes.readUInt8(0) !== tokenVersion) {
    throw invalidArgument(field, "is not a consistency token issued by Roster");
  }
  return bytes.readBigUInt64BE(1);
}
