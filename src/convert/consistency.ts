/** Read consistency and consistency tokens between the domain and protobuf (proto `roster.v1.Consistency`). */
import {
  decodeConsistencyToken,
  encodeConsistencyToken,
  fullyConsistent,
  minimizeLatency,
  type ClusterTime,
  type ReadConsistency,
} from "../domain/consistency.ts";
import type { Consistency } from "../../gen/roster/v1/consistency_pb.ts";

/**
 * The ReadConsistency a read request asks for in its field `field` (unset:
 * minimize_latency). A token Roster did not issue is invalid_argument naming
 * `<field>.at_least_as_fresh`.
 */
export function consistencyFromProto(value: Consistency | undefined, field: string): ReadConsistency {
  const requirement = value?.requirement;
  switch (requirement?.case) {
    case undefined:
    case "minimizeLatency":
      return minimizeLatency;
    case "fullyConsistent":
      return fullyConsistent;
    case "atLeastAsFresh":
      return { kind: "at_least_as_fresh", time: decodeConsistencyToken(requirement.value, `${field}.at_least_as_fresh`) };
  }
}

/** The consistency_token of a response: the latest commit of the call ("" when it committed nothing). */
export function consistencyTokenToProto(time: ClusterTime | undefined): string {
  return time === undefined ? "" : encodeConsistencyToken(time);
}
