/** Dates ↔ google.protobuf.Timestamp, with "unset" kept unset; Durations as seconds. */
import { timestampDate, timestampFromDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../domain/errors.ts";

/** A Date as a Timestamp; undefined stays undefined (e.g. delete_time of a live group). */
export function timestampOf(date: Date | undefined): Timestamp | undefined {
  return date === undefined ? undefined : timestampFromDate(date);
}

/**
 * A request's optional Timestamp as a Date; one outside what a Timestamp may
 * hold (years 1-9999, nanos 0-999,999,999) is invalid_argument naming `field`.
 */
export function dateFromProto(timestamp: Timestamp | undefined, field: string): Date | undefined {
  if (timestamp === undefined) return undefined;
  const seconds = Number(timestamp.seconds);
  const valid = seconds >= -62_135_596_800 && seconds <= 253_402_300_799 && timestamp.nanos >= 0 && timestamp.nanos <= 999_999_999;
  if (!valid) throw invalidArgument(field, "is not a valid time (years 1-9999)");
  return timestampDate(timestamp);
}

/** A Duration in seconds, fractions kept (IssueGroupToken's ttl). */
export function secondsOf(duration: Duration): number {
  return Number(duration.seconds) + duration.nanos / 1e9;
}
