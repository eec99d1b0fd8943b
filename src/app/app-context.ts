/**
 * The dependencies every use case module shares, assembled once by
 * `createRosterApp`. Passed explicitly (no module state), so tests can build
 * several apps over different databases in one process.
 */
import type { Database } from "../storage/database.ts";
import type { GroupRequestStore } from "../storage/group-request-store.ts";
import type { GroupStore } from "../storage/group-store.ts";
import type { HistoryStore } from "../storage/history-store.ts";
import type { MembershipBulkStore } from "../storage/membership-bulk-store.ts";
import type { MembershipStore } from "../storage/membership-store.ts";
import type { NestingLock } from "../storage/nesting-lock.ts";
import type { ReadModel } from "./read-model/read-model.ts";
import type { ReadSource } from "./read-source.ts";

/** A minimal structured logger (pino's shape), for the rare event worth logging. */
export interface AppLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface AppContext {
  /** Where transactions run (`runTransaction`). */
  readonly database: Database;
  readonly groups: GroupStore;
  readonly memberships: MembershipStore;
  /** The same collection read and written a chunk of operations at a time. */
  readonly membershipBulk: MembershipBulkStore;
  readonly groupRequests: GroupRequestStore;
  /** The records of every change, written in the change's transaction. */
  readonly history: HistoryStore;
  readonly nestingLock: NestingLock;
  readonly clock: () => Date;
  readonly newGroupId: () => string;
  readonly newEtag: () => string;
  /** ROSTER_CREATOR_GROUP, or undefined when anyone may create top-level groups. */
  readonly creatorGroupId: string | undefined;
  readonly logger: AppLogger | undefined;
  /** The stores as a ReadSource: what reads use without the read model. */
  readonly databaseReads: ReadSource;
  /** This process's read model (read-model/); undefined when ROSTER_READ_MODEL is off. */
  readonly readModel: ReadModel | undefined;
  /** How long an invitation without an expire_time lasts (ROSTER_INVITATION_TTL_DAYS), in milliseconds. */
  readonly invitationTtlMs: number;
}
