/**
 * MongoDB's cluster times as the domain's `ClusterTime` (one bigint), and
 * the cluster time a change stream's resume token carries: MongoDB encodes
 * tokens as KeyString, whose `_data` hex begins with the type byte of a
 * Timestamp (0x82) and the time's seconds and increment, 4 big-endian bytes
 * each (the embedded store's tokens begin the same way).
 */
import { Timestamp } from "mongodb";
import { clusterTime, incrementOf, secondsOf, type ClusterTime } from "../domain/consistency.ts";

/** The ClusterTime of a driver Timestamp. */
export function clusterTimeOf(timestamp: Timestamp): ClusterTime {
  return clusterTime(timestamp.t, timestamp.i);
}

/** The driver Timestamp of a ClusterTime. */
export function timestampOf(time: ClusterTime): Timestamp {
  return new Timestamp({ t: secondsOf(time), i: incrementOf(time) });
}

const tokenTime = /^82([0-9a-fA-F]{8})([0-9a-fA-F]{8})/;

/** The cluster time a resume token stands for; undefined for a token of another layout. */
export function clusterTimeOfResumeToken(token: unknown): ClusterTime | undefined {
  const data = typeof token === "object" && token !== null ? (token as { _data?: unknown })._data : undefined;
  const match = typeof data === "string" ? tokenTime.exec(data) : null;
  if (match === null) return undefined;
  return clusterTime(Number.parseInt(match[1] ?? "", 16), Number.parseInt(match[2] ?? "", 16));
}
