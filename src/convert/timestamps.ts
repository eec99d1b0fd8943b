/** Dates ↔ google.protobuf.Timestamp, with "unset" kept unset; Durations as seconds. */
import { timestampDate, timestampFromDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../domain/errors.ts";

/** A Date as a Timestamp; undefined stays undefined (e.g. delete_time of a live group). */
export function timestampOf(date: Date | undefined): Timestamp | undefined {
  return date === undefined ? undefined : timestampFromDate(date);
}

/** The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** A Timestamp the client sent as a Date; unset stays undefined; out of range is invalid_argument naming `field`. */
export function dateOf(timestamp: Timestamp | undefined, field: string): Date | undefined {
  if (timestamp === undefined) return undefined;
  if (timestamp.seconds < MIN_SECONDS || timestamp.seconds > MAX_SECONDS || timestamp.nanos < 0 || timestamp.nanos > 999_999_999) {
    throw invalidArgument(field, "is not a valid timestamp (0001-01-01 to 9999-12-31, nanos 0-999999999)");
  }
  return timestampDate(timestamp);
}

/** A Duration in seconds, fractions kept (IssueGroupToken's ttl). */
export function secondsOf(duration: Duration): number {
  return Number(duration.seconds) + duration.nanos / 1e9;
}
