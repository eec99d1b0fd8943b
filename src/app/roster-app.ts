/**
 * Assembles the Roster application over a MongoDB database: stores, the
 * shared context and the APIs declared beside their factories. Ensures the indexes first,
 * so a fresh database is usable as soon as the promise resolves.
 */
import { validateGroupId } from "../domain/group-validation.ts";
import { DEFAULT_INVITATION_TTL_DAYS } from "../domain/membership-lifecycle.ts";
import type { Database } from "../storage/database.ts";
import { createGroupRequestStore } from "../storage/group-request-store.ts";
import { createGroupStore } from "../storage/group-store.ts";
import { createHistoryStore } from "../storage/history-store.ts";
import { ensureIndexes } from "../storage/indexes.ts";
import { createMembershipBulkStore } from "../storage/membership-bulk-store.ts";
import { createMembershipStore } from "../storage/membership-store.ts";
import { createNestingLock } from "../storage/nesting-lock.ts";
import { createAccessApi, type AccessApi } from "./access-api.ts";
import { createBatchApi, type BatchApi } from "./batch/batch-engine.ts";
import type { BatchLimits } from "./batch/limits.ts";
import type { AppContext, AppLogger } from "./app-context.ts";
import { createExpiryApi, type ExpiryApi } from "./expiry-sweeper.ts";
import { createChangesApi, type ChangesApi } from "./changes/changes-api.ts";
import { defaultChangeSettings, type ChangeSettings } from "./changes/change-settings.ts";
import { createGroupsApi, type GroupsApi } from "./groups-api.ts";
import type { GroupTokenSigner } from "../domain/group-token.ts";
import { createGroupTokensApi, type GroupTokensApi } from "./group-tokens.ts";
import { newEtag, newGroupId, newTokenId } from "./ids.ts";
import { createMembershipsApi, type MembershipsApi } from "./memberships-api.ts";
import { startReadModel, type ReadModel, type ReadModelStatus } from "./read-model/read-model.ts";
import type { ReadModelSettings } from "./read-model/settings.ts";
import type { ReadSource } from "./read-source.ts";

/** What `createRosterApp` needs. */
export interface RosterAppDeps {
  /** The database the stores and transactions run on (storage's handle). */
  readonly database: Database;
  /** Defaults to `() => new Date()`; tests inject a clock. */
  readonly clock?: () => Date;
  /** Group id generator; defaults to 16 random lowercase base32 characters. */
  readonly idGenerator?: () => string;
  /**
   * ROSTER_CREATOR_GROUP: when set, only its (transitive) members and system
   * administrators may create top-level groups.
   */
  readonly creatorGroupId?: string;
  readonly logger?: AppLogger;
  /** Limits of the batch engine (ROSTER_BATCH_*); defaults in ./batch/limits.ts. */
  readonly batchLimits?: BatchLimits;
  /** Lifetime of an invitation without an expire_time (ROSTER_INVITATION_TTL_DAYS); default 14. */
  readonly invitationTtlDays?: number;
  /** The history and the change feed (ROSTER_CHANGE_*, ROSTER_HISTORY_*); defaults in ./changes/change-settings.ts. */
  readonly changeSettings?: ChangeSettings;
  /**
   * The read model's settings (ROSTER_READ_MODEL_*; the server passes the
   * configuration's, on by default), or false or absent for none: every
   * read then uses the database.
   */
  readonly readModel?: ReadModelSettings | false;
  /** Signs IssueGroupToken's tokens with Roster's key; without one the RPC answers FAILED_PRECONDITION. */
  readonly groupTokenSigner?: GroupTokenSigner;
}

/** What operators and tests see of the read model. */
export interface ReadModelHandle {
  status(): ReadModelStatus;
  /** Resolves once it serves reads (or has stopped). */
  whenServing(): Promise<void>;
  /** Called whenever it starts or stops serving, or changes phase. */
  onChange(listener: (status: ReadModelStatus) => void): void;
}

/** The application: one API per service area, each declared beside its factory. */
export interface RosterApp {
  readonly groups: GroupsApi;
  readonly memberships: MembershipsApi;
  readonly access: AccessApi;
  /** BatchMemberships / BatchUpdateMemberships, see ./batch/batch-engine.ts. */
  readonly batch: BatchApi;
  /** Removal of memberships past their expire_time, see ./expiry-sweeper.ts. */
  readonly expiry: ExpiryApi;
  /** ChangeService: the history and the change feed, see ./changes/. */
  readonly changes: ChangesApi;
  /** The read model, when on. */
  readonly readModel: ReadModelHandle | undefined;
  /** Stops the read model's stream (before the database closes). */
  close(): Promise<void>;
  /** IssueGroupToken. */
  readonly groupTokens: GroupTokensApi;
}

export async function createRosterApp(deps: RosterAppDeps): Promise<RosterApp> {
  const creatorGroupId =
    deps.creatorGroupId === undefined || deps.creatorGroupId === ""
      ? undefined
      : validateGroupId(deps.creatorGroupId, "ROSTER_CREATOR_GROUP");
  const settings = deps.changeSettings ?? defaultChangeSettings;
  const changeSettings: ChangeSettings = {
    ...settings,
    changeReadersGroupId:
      settings.changeReadersGroupId === undefined || settings.changeReadersGroupId === ""
        ? undefined
        : validateGroupId(settings.changeReadersGroupId, "ROSTER_CHANGE_READERS"),
  };
  await ensureIndexes(deps.database);
  const groups = createGroupStore(deps.database);
  const memberships = createMembershipStore(deps.database);
  const databaseReads: ReadSource = { name: "database", groups, memberships };
  const readModel: ReadModel | undefined =
    deps.readModel === false || deps.readModel === undefined
      ? undefined
      : startReadModel({
          database: deps.database,
          databaseReads,
          memberships,
          settings: deps.readModel,
          logger: deps.logger,
        });
  const observeCommit = deps.database.onCommit;
  const ctx: AppContext = {
    // Every commit of this app: its next reads wait for the read model to have applied it.
    database: {
      ...deps.database,
      onCommit: (time) => {
        observeCommit?.(time);
        readModel?.noteLocalCommit(time);
      },
    },
    groups,
    memberships,
    membershipBulk: createMembershipBulkStore(deps.database),
    groupRequests: createGroupRequestStore(deps.database),
    history: createHistoryStore(deps.database),
    nestingLock: createNestingLock(deps.database),
    clock: deps.clock ?? (() => new Date()),
    newGroupId: deps.idGenerator ?? newGroupId,
    newEtag,
    creatorGroupId,
    logger: deps.logger,
    databaseReads,
    readModel,
    invitationTtlMs: (deps.invitationTtlDays ?? DEFAULT_INVITATION_TTL_DAYS) * 86_400_000,
  };
  return {
    groups: createGroupsApi(ctx, deps.batchLimits),
    memberships: createMembershipsApi(ctx),
    access: createAccessApi(ctx),
    batch: createBatchApi(ctx, deps.batchLimits),
    expiry: createExpiryApi(ctx),
    changes: createChangesApi(ctx, changeSettings),
    readModel,
    close: async () => {
      await readModel?.stop();
    },
    groupTokens: createGroupTokensApi(ctx, deps.groupTokenSigner, newTokenId),
  };
}
