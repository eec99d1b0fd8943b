/**
 * The batch engine's API (issue 5): plain domain types, no transport. The
 * same engine serves the bidirectional `BatchMemberships` stream and the
 * unary `BatchUpdateMemberships`; the handlers convert protobuf at the edge.
 */
import type { AccessRuleSpec } from "../../domain/access-policy.ts";
import type { RosterError } from "../../domain/errors.ts";
import type { Caller, MembershipRecord, Role } from "../../domain/model.ts";
import type { CallOptions } from "../call-options.ts";

/**
 * One operation as the client sent it (strings unchecked; the engine
 * validates them with the unary RPCs' rules and messages). `role` undefined
 * is ROLE_UNSPECIFIED: MEMBER for an add, invalid for a role change.
 */
export type BatchOperation =
  | { readonly kind: "add"; readonly groupId: string; readonly member: string; readonly role: Role | undefined }
  | { readonly kind: "remove"; readonly groupId: string; readonly member: string }
  | { readonly kind: "change_role"; readonly groupId: string; readonly member: string; readonly role: Role | undefined };

/**
 * One item of a batch: its client tag and its operation, or the error the
 * edge already found while converting it (no operation set, an unknown role
 * number). Such an item fails alone, like any other invalid operation.
 */
export interface BatchItem {
  readonly tag: string;
  readonly operation: BatchOperation | RosterError;
}

/** One message of a batch stream. */
export type BatchRequest =
  | { readonly kind: "operation"; readonly item: BatchItem }
  /** Only as the first message: the stream is the complete desired member list of `groupId`. */
  | { readonly kind: "sync"; readonly groupId: string; readonly dryRun: boolean };

/** The outcome of one operation. */
export type BatchOutcome =
  /** `membership`: the resulting one (for a removal, the removed one); `changed` false: it already was so. */
  | { readonly ok: true; readonly membership: MembershipRecord; readonly changed: boolean }
  | { readonly ok: false; readonly error: RosterError };

/** The result of the operation at `index` (zero-based among the operations of the stream). */
export interface BatchResult {
  readonly index: number;
  readonly tag: string;
  readonly outcome: BatchOutcome;
}

/** Counts of a sync stream, sent last. */
export interface SyncSummary {
  readonly groupId: string;
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly unchanged: number;
  readonly keptLastAdmins: number;
  readonly dryRun: boolean;
}

/** One message of the answer stream. */
export type BatchResponse =
  | { readonly kind: "result"; readonly result: BatchResult }
  | { readonly kind: "summary"; readonly summary: SyncSummary };

/**
 * The declared access rules of the unary RPCs each operation kind stands
 * for (AddMember, RemoveMember, UpdateMemberRole), read from the proto
 * options by the RPC layer. The engine evaluates them with the domain's
 * `evaluateAccess`, so a batch operation is allowed exactly when the matching
 * unary call would be.
 */
export interface BatchAccessRules {
  readonly add: AccessRuleSpec;
  readonly remove: AccessRuleSpec;
  readonly changeRole: AccessRuleSpec;
}

/** Limits of the engine; see src/config.ts (ROSTER_BATCH_*) for the settings. */
export interface BatchLimits {
  /** Operations one stream may carry; the next one ends it with RESOURCE_EXHAUSTED. */
  readonly maxOperations: number;
  /** How long a stream may run; past it the stream ends with DEADLINE_EXCEEDED. */
  readonly maxDurationMs: number;
  /** How long the engine waits for the client's next message; past it DEADLINE_EXCEEDED. */
  readonly idleTimeoutMs: number;
  /** Operations applied per transaction at most. */
  readonly chunkSize: number;
  /** Once a chunk has its first operation, how long to wait for more before applying it. */
  readonly lingerMs: number;
  /** Operations the unary BatchUpdateMemberships accepts at most. */
  readonly maxUnaryOperations: number;
}

/** Counters for tests and metrics: how far the engine has read and answered, over all streams. */
export interface BatchStats {
  /** Operations taken from request streams. */
  readonly pulled: number;
  /** Results handed to the transport. */
  readonly answered: number;
}

export interface BatchApi {
  readonly limits: BatchLimits;
  /**
   * Applies a stream of operations in chunks and yields one result per
   * operation, in request order, after the chunk holding it committed. Reads
   * `requests` only when it is ready for another chunk and yields a chunk's
   * results only as fast as they are consumed, so memory stays bounded by the
   * chunk size whatever the stream's length. Throws (ending the stream) only
   * for failures of the stream itself: limits, a misplaced sync message, a
   * refused sync, the database.
   */
  stream(
    caller: Caller,
    requests: AsyncIterable<BatchRequest>,
    rules: BatchAccessRules,
    options?: CallOptions,
  ): AsyncGenerator<BatchResponse>;
  /** The unary form: 1..maxUnaryOperations items (invalid_argument "operations" otherwise), all results. */
  applyAll(caller: Caller, items: readonly BatchItem[], rules: BatchAccessRules, options?: CallOptions): Promise<BatchResult[]>;
  stats(): BatchStats;
}
