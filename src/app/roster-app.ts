/**
 * Assembles the Roster application over a MongoDB database: stores, the
 * shared context and the three APIs of types.ts. Ensures the indexes first,
 * so a fresh database is usable as soon as the promise resolves.
 */
import { validateGroupId } from "../domain/group-validation.ts";
import { createGroupRequestStore } from "../storage/group-request-store.ts";
import { createGroupStore } from "../storage/group-store.ts";
import { ensureIndexes } from "../storage/indexes.ts";
import { createMembershipStore } from "../storage/membership-store.ts";
import { createNestingLock } from "../storage/nesting-lock.ts";
import { createAccessApi } from "./access-api.ts";
import { createBatchApi } from "./batch/batch-engine.ts";
import type { AppContext } from "./app-context.ts";
import { createGroupsApi } from "./groups-api.ts";
import { newEtag, newGroupId } from "./ids.ts";
import { createMembershipsApi } from "./memberships-api.ts";
import type { RosterApp, RosterAppDeps } from "./types.ts";

export async function createRosterApp(deps: RosterAppDeps): Promise<RosterApp> {
  const creatorGroupId =
    deps.creatorGroupId === undefined || deps.creatorGroupId === ""
      ? undefined
      : validateGroupId(deps.creatorGroupId, "ROSTER_CREATOR_GROUP");
  await ensureIndexes(deps.db);
  const ctx: AppContext = {
    client: deps.client,
    groups: createGroupStore(deps.db),
    memberships: createMembershipStore(deps.db),
    groupRequests: createGroupRequestStore(deps.db),
    nestingLock: createNestingLock(deps.db),
    clock: deps.clock ?? (() => new Date()),
    newGroupId: deps.idGenerator ?? newGroupId,
    newEtag,
    creatorGroupId,
    logger: deps.logger,
  };
  return {
    groups: createGroupsApi(ctx),
    memberships: createMembershipsApi(ctx),
    access: createAccessApi(ctx),
    batch: createBatchApi(ctx, deps.db, deps.batchLimits),
  };
}
