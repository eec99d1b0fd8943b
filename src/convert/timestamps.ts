/** Dates ↔ google.protobuf.Timestamp, with "unset" kept unset; Durations as seconds. */
import { timestampFromDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";

/** A Date as a Timestamp; undefined stays undefined (e.g. delete_time of a live group). */
export function timestampOf(date: Date | undefined): Timestamp | undefined {
  return date === undefined ? undefined : timestampFromDate(date);
}

/** A Duration in seconds, fractions kept (IssueGroupToken's ttl). */
export function secondsOf(duration: Duration): number {
  return Number(duration.seconds) + duration.nanos / 1e9;
}
