/**
 * Sync mode: a stream whose first message declares `sync` for a
 * group sends the complete desired set of that group's direct members. Each
 * add is applied like any other (a different role changes the role), and
 * every member sent is marked in a scratch collection (see
 * ../../storage/sync-mark-store.ts) instead of server memory, so groups of
 * any size sync in bounded memory. At the end the group's members are paged
 * through twice in member order:
 *
 * 1. plan: each unmarked member must be removable by the caller (the
 *    RemoveMember rule, e.g. MANAGE for an ADMIN, on the caller's facts read
 *    for each page) — otherwise the stream ends with that error before
 *    anything is removed — and the direct ADMINs that
 *    would be left are counted; when none would be, the first unmarked ADMIN
 *    in member order is kept (the domain's `adminsToKeep`);
 * 2. remove (not in a dry run): one transaction per page deletes the
 *    unmarked members (checked again on facts read in that transaction) and
 *    bumps member_count once; if concurrent changes left
 *    the group with fewer ADMINs than planned, more are kept rather than
 *    leaving none.
 *
 * A dry run applies each chunk in a transaction that is rolled back, keeps
 * the simulated roles in the marks (so later chunks see earlier ones), and
 * only counts in the plan step.
 */
import { randomBytes } from "node:crypto";
import { evaluateAccess, groupNotFound, memberSituation, type AccessFacts } from "../../domain/access-policy.ts";
import { membershipChangeDraft, type ChangeOrigin } from "../../domain/change-record.ts";
import { ensureGroupActive } from "../../domain/group-lifecycle.ts";
import { validateGroupId } from "../../domain/group-validation.ts";
import { adminsToKeep } from "../../domain/membership-rules.ts";
import { isPermanentAdmin } from "../../domain/membership-status.ts";
import type { MembershipEffect } from "../../domain/membership-operation.ts";
import type { Caller, MembershipRecord } from "../../domain/model.ts";
import { parsePrincipal } from "../../domain/principal.ts";
import type { GroupNode } from "../../storage/documents.ts";
import type { MembershipWrite } from "../../storage/membership-bulk-store.ts";
import type { MemberFilter } from "../../storage/membership-store.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import type { SyncMarkStore } from "../../storage/sync-mark-store.ts";
import { runTransaction } from "../../storage/transaction.ts";
import { loadAccessSnapshot } from "../access-facts.ts";
import type { AppContext } from "../app-context.ts";
import type { BatchAccessRules } from "./apply-chunk.ts";

/** What a sync stream needs. */
export interface SyncDeps {
  readonly ctx: AppContext;
  readonly caller: Caller;
  readonly rules: BatchAccessRules;
  readonly marks: SyncMarkStore;
  /** Members read per page at the end of the stream. */
  readonly pageSize: number;
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

/** The running state of one sync stream. */
export interface SyncRun {
  readonly groupId: string;
  readonly dryRun: boolean;
  readonly syncId: string;
  /** Dry run: net change of direct ADMINs simulated so far. */
  adminDelta: number;
  added: number;
  changed: number;
  unchanged: number;
}

/**
 * Starts a sync of `groupId`: the group must exist and be visible (NOT_FOUND
 * otherwise), be live, and the caller needs what adding members needs
 * (WRITE). Refusals end the stream: it is about that one group.
 */
export async function startSync(deps: SyncDeps, groupId: string, dryRun: boolean, call: StoreCall): Promise<SyncRun> {
  validateGroupId(groupId, "sync.group_id");
  const facts = await authorizeSync(deps, await deps.ctx.groups.get(groupId, call), groupId, call);
  ensureGroupActive({ id: groupId, state: facts.state });
  await deps.marks.prepare(deps.ctx.clock(), call);
  return {
    groupId,
    dryRun,
    syncId: randomBytes(12).toString("base64url"),
    adminDelta: 0,
    added: 0,
    changed: 0,
    unchanged: 0,
  };
}

/** Counts a chunk's effects into the summary. */
export function countEffects(run: SyncRun, effects: readonly (MembershipEffect | undefined)[], adminDelta: number): void {
  for (const effect of effects) {
    if (effect === "added") run.added += 1;
    else if (effect === "changed") run.changed += 1;
    else if (effect === "unchanged") run.unchanged += 1;
  }
  if (run.dryRun) run.adminDelta += adminDelta;
}

/**
 * Removes (or, in a dry run, counts) the members not sent, recording each
 * removal as made by `origin`, and returns the summary.
 */
export async function finishSync(deps: SyncDeps, run: SyncRun, origin: ChangeOrigin, call: StoreCall): Promise<SyncSummary> {
  const plan = await planRemovals(deps, run, call);
  let removed = plan.removable - plan.keep.size;
  let kept = plan.keep.size;
  if (!run.dryRun) {
    const done = await removeUnmarked(deps, run, plan.keep, origin, call);
    removed = done.removed;
    kept += done.extraKept;
  }
  return {
    groupId: run.groupId,
    added: run.added,
    changed: run.changed,
    removed,
    unchanged: run.unchanged,
    keptLastAdmins: kept,
    dryRun: run.dryRun,
  };
}

interface RemovalPlan {
  /** Unmarked members. */
  readonly removable: number;
  /** Unmarked ADMINs kept so the group keeps one. */
  readonly keep: ReadonlySet<string>;
}

/**
 * The caller's facts on the sync's group (`group` as just read), read now,
 * after checking that they still allow the sync (what adding members needs:
 * WRITE); not_found when the group is gone or no longer visible.
 */
async function authorizeSync(deps: SyncDeps, group: GroupNode | undefined, groupId: string, call: StoreCall): Promise<AccessFacts> {
  const facts = group === undefined ? undefined : (await loadAccessSnapshot(deps.ctx, deps.caller, [group], call)).factsOf(group.id);
  if (facts === undefined) throw groupNotFound(groupId);
  const decision = evaluateAccess(deps.rules.add, facts, {});
  if (!decision.ok) throw decision.error;
  return facts;
}

/** Each unmarked member of a page, with the access check of removing it on `facts` (read for this page). */
async function unmarkedOf(
  deps: SyncDeps,
  run: SyncRun,
  page: readonly MembershipRecord[],
  facts: AccessFacts,
  call: StoreCall,
): Promise<MembershipRecord[]> {
  const marked = await deps.marks.find(
    run.syncId,
    page.map((m) => m.member),
    call,
  );
  const unmarked = page.filter((m) => !marked.has(m.member));
  for (const membership of unmarked) {
    const decision = evaluateAccess(
      deps.rules.remove,
      facts,
      memberSituation(deps.rules.remove, deps.caller.principal, {
        member: parsePrincipal(membership.member, "member"),
        role: undefined,
        currentRole: membership.role,
        memberGroupFacts: undefined,
      }),
    );
    if (!decision.ok) throw decision.error;
  }
  return unmarked;
}

/**
 * The members a sync manages: ACTIVE ones (an expired one not sent is
 * removed like any other). Pending invitations and join requests are left
 * to their own lifecycle.
 */
const syncedMembers: MemberFilter = { statuses: ["ACTIVE"] };

async function planRemovals(deps: SyncDeps, run: SyncRun, call: StoreCall): Promise<RemovalPlan> {
  let removable = 0;
  let firstUnmarkedAdmin: string | undefined;
  for (let after: string | undefined; ; ) {
    const page = await deps.ctx.memberships.listPage(run.groupId, syncedMembers, after, deps.pageSize, call);
    if (page.length === 0) break;
    const facts = await authorizeSync(deps, await deps.ctx.groups.get(run.groupId, call), run.groupId, call);
    for (const membership of await unmarkedOf(deps, run, page, facts, call)) {
      removable += 1;
      if (isPermanentAdmin(membership)) firstUnmarkedAdmin ??= membership.member;
    }
    after = page.at(-1)?.member;
    if (page.length < deps.pageSize) break;
  }
  // Members marked ADMIN are the direct ADMINs the sync leaves (dry run: would leave).
  const remainingAdmins = await deps.marks.countWithRole(run.syncId, "ADMIN", call);
  const keep = adminsToKeep(firstUnmarkedAdmin === undefined ? [] : [firstUnmarkedAdmin], remainingAdmins);
  return { removable, keep: new Set(keep) };
}

async function removeUnmarked(
  deps: SyncDeps,
  run: SyncRun,
  keep: ReadonlySet<string>,
  origin: ChangeOrigin,
  call: StoreCall,
): Promise<{ removed: number; extraKept: number }> {
  const { ctx } = deps;
  let removed = 0;
  let extraKept = 0;
  for (let after: string | undefined; ; ) {
    const page = await runTransaction(ctx.database, call, async (tx) => {
      const group = await ctx.groups.get(run.groupId, tx);
      const facts = await authorizeSync(deps, group, run.groupId, tx);
      const now = ctx.clock();
      ensureGroupActive({ id: run.groupId, state: facts.state });
      const members = await ctx.memberships.listPage(run.groupId, syncedMembers, after, deps.pageSize, tx);
      const doomed = (await unmarkedOf(deps, run, members, facts, tx)).filter((m) => !keep.has(m.member));
      let keptHere = 0;
      const admins = doomed.filter((m) => isPermanentAdmin(m));
      if (admins.length > 0) {
        // Concurrent changes may have removed the ADMINs the plan counted on: never leave none.
        const left = (await ctx.memberships.countPermanentAdmins(run.groupId, tx)) - admins.length;
        if (left < 1) {
          const spared = admins[0];
          if (spared !== undefined) {
            doomed.splice(doomed.indexOf(spared), 1);
            keptHere = 1;
          }
        }
      }
      const writes: MembershipWrite[] = doomed.map((m) => ({ kind: "delete", groupId: m.groupId, member: m.member }));
      await ctx.membershipBulk.applyWrites(writes, tx);
      if (writes.length > 0) await ctx.groups.bumpMembership(run.groupId, -writes.length, tx);
      const records = doomed.flatMap((m) => {
        const record = membershipChangeDraft(
          { effect: "removed", groupId: m.groupId, member: m.member, before: m, after: undefined },
          group?.namespace ?? "",
          origin,
          now,
        );
        return record === undefined ? [] : [record];
      });
      await ctx.history.append(records, tx);
      return { removed: writes.length, keptHere, last: members.at(-1)?.member, full: members.length === deps.pageSize };
    });
    removed += page.removed;
    extraKept += page.keptHere;
    if (page.last === undefined || !page.full) break;
    after = page.last;
  }
  return { removed, extraKept };
}
