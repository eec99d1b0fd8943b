/** Dates ↔ google.protobuf.Timestamp, with "unset" kept unset. */
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** A Date as a Timestamp; undefined stays undefined (e.g. delete_time of a live group). */
export function timestampOf(date: Date | undefined): Timestamp | undefined {
  return date === undefined ? undefined : timestampFromDate(date);
}
