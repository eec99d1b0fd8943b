/**
 * Applies one chunk of batch operations in ONE transaction, so a chunk is
 * stored entirely or not at all and every result reported after the commit
 * is durable:
 *
 * 1. every operation is validated (pure);
 * 2. inside the transaction the chunk's groups and the current memberships
 *    of its members are read with one query per group, and the caller's
 *    facts on those groups with one closure walk (see operation-access.ts):
 *    a permission revoked before the chunk started is honoured by it;
 * 3. the operations are applied IN ORDER to that state in memory, each with
 *    the domain's rules: `evaluateAccess` with the unary RPC's declared rule,
 *    idempotent add, not-a-member, last direct ADMIN, nesting cycle/depth.
 *    Several operations on the same member of a chunk therefore see each
 *    other's effect exactly as if they were sent one by one;
 * 4. the net change per member is written with one bulkWrite, and each
 *    group's member_count gets ONE `$inc` with the net delta (member_count
 *    stays equal to the actual members, and concurrent chunks on a group
 *    conflict on that document and are retried by the driver).
 *
 * Adding a `group:` member checks the nesting graph in the database, so the
 * writes accumulated so far are flushed (inside the same transaction) first:
 * the check then sees earlier edges of the same chunk.
 *
 * A failed operation fails alone; storage and driver failures are not
 * per-item and abort the transaction (the stream then ends with them).
 */
import { evaluateAccess, groupNotFound } from "../../domain/access-policy.ts";
import { isRosterError, notFound, type ErrorKind, type RosterError } from "../../domain/errors.ts";
import { ensureGroupActive } from "../../domain/group-lifecycle.ts";
import { ensureKeepsAnAdmin } from "../../domain/membership-rules.ts";
import type { Caller, MembershipRecord, Role } from "../../domain/model.ts";
import type { GroupNode } from "../../storage/documents.ts";
import type { MembershipBulkStore, MembershipWrite } from "../../storage/membership-bulk-store.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import type { SyncMark, SyncMarkStore } from "../../storage/sync-mark-store.ts";
import { runTransaction } from "../../storage/transaction.ts";
import { loadAccessSnapshot } from "../access-facts.ts";
import type { AppContext } from "../app-context.ts";
import { ensureEdgeAllowed } from "../nesting-graph.ts";
import { checkOperation, type CheckedOperation } from "./check-operation.ts";
import { situationFor } from "./operation-access.ts";
import type { BatchAccessRules, BatchItem, BatchResult } from "./types.ts";

/** Error kinds an operation can fail with on its own; any other error is the stream's. */
const itemErrorKinds: ReadonlySet<ErrorKind> = new Set(["invalid_argument", "not_found", "permission_denied", "failed_precondition"]);

/** How a successful operation changed its member (sync summaries count these). */
export type OperationEffect = "added" | "changed" | "unchanged" | "removed";

/** An operation and its position in the stream. */
export interface IndexedItem {
  readonly index: number;
  readonly item: BatchItem;
}

/** The sync stream a chunk belongs to. */
export interface ChunkSync {
  readonly groupId: string;
  readonly syncId: string;
  readonly dryRun: boolean;
  /** Dry run only: net change of the group's direct ADMINs simulated by earlier chunks. */
  readonly adminDelta: number;
}

export interface ChunkDeps {
  readonly ctx: AppContext;
  readonly bulk: MembershipBulkStore;
  readonly marks: SyncMarkStore;
  readonly caller: Caller;
  readonly rules: BatchAccessRules;
}

export interface ChunkOutcome {
  /** One per item, in item order. */
  readonly results: BatchResult[];
  /** The effect of each successful result (undefined for failures), same order. */
  readonly effects: (OperationEffect | undefined)[];
  /** Net change of the sync group's direct ADMINs in this chunk (for dry runs). */
  readonly syncAdminDelta: number;
}

/** Thrown to discard a transaction's work (how a dry run applies a chunk), carrying its outcome out. */
class RolledBack<T> extends Error {
  override readonly name = "RolledBack";
  constructor(readonly value: T) {
    super("dry run: rolled back");
  }
}

/** Chunks failing with already_exists (a member inserted concurrently) are re-read and retried this often. */
const duplicateRetries = 3;

export async function applyChunk(
  deps: ChunkDeps,
  items: readonly IndexedItem[],
  sync: ChunkSync | undefined,
  call: StoreCall,
): Promise<ChunkOutcome> {
  const checked = items.map(({ index, item }) => {
    try {
      return { index, tag: item.tag, op: checkOperation(item, sync) };
    } catch (error) {
      if (isRosterError(error)) return { index, tag: item.tag, error };
      throw error;
    }
  });
  const work = (tx: StoreCall) => applyInTransaction(deps, checked, sync, tx);
  for (let attempt = 1; ; attempt++) {
    try {
      if (sync?.dryRun !== true) return await runTransaction(deps.ctx.database, call, work);
      return await dryRun(deps, call, work, sync);
    } catch (error) {
      // A member inserted by a concurrent call after this chunk read its
      // state: read again and redo the chunk, as AddMember does.
      if (attempt < duplicateRetries && isRosterError(error) && error.kind === "already_exists") continue;
      throw error;
    }
  }
}

/** Runs the chunk in a transaction that is rolled back, then records the sync marks the real run would. */
async function dryRun(
  deps: ChunkDeps,
  call: StoreCall,
  work: (tx: StoreCall) => Promise<ChunkOutcome & { marks: SyncMark[] }>,
  sync: ChunkSync,
): Promise<ChunkOutcome> {
  let outcome: (ChunkOutcome & { marks: SyncMark[] }) | undefined;
  try {
    await runTransaction(deps.ctx.database, call, async (tx) => {
      throw new RolledBack(await work(tx));
    });
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
    outcome = (error as RolledBack<ChunkOutcome & { marks: SyncMark[] }>).value;
  }
  if (outcome === undefined) throw new Error("dry-run transaction ended without its outcome");
  await deps.marks.mark(sync.syncId, outcome.marks, deps.ctx.clock(), call);
  return outcome;
}

type Checked =
  | { readonly index: number; readonly tag: string; readonly op: CheckedOperation }
  | { readonly index: number; readonly tag: string; readonly error: RosterError };

function memberKey(groupId: string, member: string): string {
  return `${groupId}\n${member}`;
}

function adminness(record: MembershipRecord | undefined): number {
  return record?.role === "ADMIN" ? 1 : 0;
}

async function applyInTransaction(
  deps: ChunkDeps,
  checked: readonly Checked[],
  sync: ChunkSync | undefined,
  tx: StoreCall,
): Promise<ChunkOutcome & { marks: SyncMark[] }> {
  const { ctx, bulk, caller, rules } = deps;
  const now = ctx.clock();

  // Read the chunk's groups and the current state of its members.
  const membersByGroup = new Map<string, Set<string>>();
  const groupIds = new Set<string>();
  for (const entry of checked) {
    if (!("op" in entry)) continue;
    const { op } = entry;
    groupIds.add(op.groupId);
    if (op.kind === "add" && op.member.kind === "group") groupIds.add(op.member.id);
    let members = membersByGroup.get(op.groupId);
    if (members === undefined) membersByGroup.set(op.groupId, (members = new Set()));
    members.add(op.member.principal);
  }
  const groups = new Map<string, GroupNode>();
  for (const group of await ctx.groups.getMany([...groupIds], tx)) groups.set(group.id, group);
  // The caller's facts as of this chunk (this attempt of its transaction): one closure walk.
  const access = await loadAccessSnapshot(ctx, caller, [...groups.values()], tx);
  /** What the database holds now (inside this transaction). */
  const stored = new Map<string, MembershipRecord | undefined>();
  for (const [groupId, members] of membersByGroup) {
    if (!groups.has(groupId)) continue;
    for (const record of await bulk.findMembers(groupId, [...members], tx)) {
      stored.set(memberKey(groupId, record.member), record);
    }
  }
  /** The state after the operations applied so far. */
  const state = new Map(stored);
  if (sync?.dryRun === true) {
    // Earlier chunks of a dry run were rolled back; their simulated outcome is in the marks.
    const members = membersByGroup.get(sync.groupId);
    const marked = members === undefined ? new Map<string, Role>() : await deps.marks.find(sync.syncId, [...members], tx);
    for (const [member, role] of marked) {
      const key = memberKey(sync.groupId, member);
      const current = state.get(key);
      state.set(
        key,
        current === undefined
          ? { groupId: sync.groupId, member, role, createTime: now, updateTime: now, createdBy: caller.principal }
          : current.role === role
            ? current
            : { ...current, role, updateTime: now },
      );
    }
    for (const [key, record] of state) stored.set(key, record);
  }

  const dirty = new Set<string>();
  const memberDelta = new Map<string, number>();
  const adminCounts = new Map<string, number>();
  const unflushedAdminDelta = new Map<string, number>();
  let syncAdminDelta = 0;
  let nestingLocked = false;

  const adminCount = async (groupId: string): Promise<number> => {
    let count = adminCounts.get(groupId);
    if (count === undefined) {
      count = (await ctx.memberships.countWithRole(groupId, "ADMIN", tx)) + (unflushedAdminDelta.get(groupId) ?? 0);
      if (sync?.dryRun === true && groupId === sync.groupId) count += sync.adminDelta;
      adminCounts.set(groupId, count);
    }
    return count;
  };
  const setState = (groupId: string, member: string, next: MembershipRecord | undefined): void => {
    const key = memberKey(groupId, member);
    const delta = adminness(next) - adminness(state.get(key));
    state.set(key, next);
    dirty.add(key);
    if (delta === 0) return;
    unflushedAdminDelta.set(groupId, (unflushedAdminDelta.get(groupId) ?? 0) + delta);
    const count = adminCounts.get(groupId);
    if (count !== undefined) adminCounts.set(groupId, count + delta);
    if (sync !== undefined && groupId === sync.groupId) syncAdminDelta += delta;
  };
  /** Writes the net change of every member touched since the last flush. */
  const flush = async (): Promise<void> => {
    const writes: MembershipWrite[] = [];
    for (const key of dirty) {
      const before = stored.get(key);
      const after = state.get(key);
      const record = after ?? before;
      if (before === after || record === undefined) continue;
      // Every group written is bumped, a role change alone too: it serialises with other membership changes.
      if (!memberDelta.has(record.groupId)) memberDelta.set(record.groupId, 0);
      const groupId = record.groupId;
      if (after === undefined) {
        writes.push({ kind: "delete", groupId, member: record.member });
        memberDelta.set(groupId, (memberDelta.get(groupId) ?? 0) - 1);
      } else if (before === undefined) {
        writes.push({ kind: "insert", membership: after });
        memberDelta.set(groupId, (memberDelta.get(groupId) ?? 0) + 1);
      } else if (after.createTime !== before.createTime) {
        writes.push({ kind: "replace", membership: after });
      } else {
        writes.push({ kind: "set_role", groupId: after.groupId, member: after.member, role: after.role, time: after.updateTime });
      }
      stored.set(key, after);
    }
    dirty.clear();
    unflushedAdminDelta.clear();
    await bulk.applyWrites(writes, tx);
  };

  const applyOne = async (op: CheckedOperation): Promise<{ membership: MembershipRecord; effect: OperationEffect }> => {
    const groupFacts = access.factsOf(op.groupId);
    if (groupFacts === undefined) throw groupNotFound(op.groupId);
    const member = op.member.principal;
    const current = state.get(memberKey(op.groupId, member));
    const rule = op.kind === "add" ? rules.add : op.kind === "remove" ? rules.remove : rules.changeRole;
    const decision = evaluateAccess(
      rule,
      groupFacts,
      situationFor(rule, caller, {
        member: op.member,
        role: op.role,
        currentRole: current?.role,
        memberGroupFacts: op.member.kind === "group" ? access.factsOf(op.member.id) : undefined,
      }),
    );
    if (!decision.ok) throw decision.error;
    const group = groups.get(op.groupId);
    if (group === undefined) throw groupNotFound(op.groupId);
    ensureGroupActive(group);

    switch (op.kind) {
      case "add": {
        const role = op.role ?? "MEMBER";
        if (current !== undefined) {
          // AddMember is idempotent and never changes the role; a sync makes the role what was sent.
          if (sync === undefined || current.role === role) return { membership: current, effect: "unchanged" };
          return changeRole(current, role);
        }
        if (op.member.kind === "group") {
          const child = groups.get(op.member.id);
          if (child === undefined) throw groupNotFound(op.member.id);
          ensureGroupActive(child);
          await flush();
          if (!nestingLocked) {
            await ctx.nestingLock.take(tx);
            nestingLocked = true;
          }
          await ensureEdgeAllowed(ctx, caller, op.groupId, op.member.id, tx);
        }
        const membership: MembershipRecord = {
          groupId: op.groupId,
          member,
          role,
          createTime: now,
          updateTime: now,
          createdBy: caller.principal,
        };
        setState(op.groupId, member, membership);
        return { membership, effect: "added" };
      }
      case "remove": {
        if (current === undefined) throw notAMember(op.groupId, member);
        if (current.role === "ADMIN") {
          ensureKeepsAnAdmin({
            groupId: op.groupId,
            member,
            currentRole: current.role,
            newRole: undefined,
            directAdminCount: await adminCount(op.groupId),
          });
        }
        setState(op.groupId, member, undefined);
        return { membership: current, effect: "removed" };
      }
      case "change_role": {
        if (current === undefined) throw notAMember(op.groupId, member);
        const role = op.role ?? current.role;
        if (current.role === role) return { membership: current, effect: "unchanged" };
        return changeRole(current, role);
      }
    }
  };
  const changeRole = async (current: MembershipRecord, role: Role): Promise<{ membership: MembershipRecord; effect: OperationEffect }> => {
    if (current.role === "ADMIN") {
      ensureKeepsAnAdmin({
        groupId: current.groupId,
        member: current.member,
        currentRole: current.role,
        newRole: role,
        directAdminCount: await adminCount(current.groupId),
      });
    }
    const membership: MembershipRecord = { ...current, role, updateTime: now };
    setState(current.groupId, current.member, membership);
    return { membership, effect: "changed" };
  };

  const results: BatchResult[] = [];
  const effects: (OperationEffect | undefined)[] = [];
  const marks = new Map<string, Role>();
  for (const entry of checked) {
    if (!("op" in entry)) {
      results.push({ index: entry.index, tag: entry.tag, outcome: { ok: false, error: entry.error } });
      effects.push(undefined);
      continue;
    }
    try {
      const { membership, effect } = await applyOne(entry.op);
      results.push({ index: entry.index, tag: entry.tag, outcome: { ok: true, membership, changed: effect !== "unchanged" } });
      effects.push(effect);
    } catch (error) {
      if (!isRosterError(error) || !itemErrorKinds.has(error.kind)) throw error;
      results.push({ index: entry.index, tag: entry.tag, outcome: { ok: false, error } });
      effects.push(undefined);
    }
    if (sync !== undefined && entry.op.groupId === sync.groupId) {
      // A member sent stays, whatever became of its operation; one that is not a member has nothing to keep.
      const after = state.get(memberKey(sync.groupId, entry.op.member.principal));
      if (after !== undefined) marks.set(after.member, after.role);
    }
  }

  await flush();
  for (const [groupId, delta] of memberDelta) await ctx.groups.bumpMembership(groupId, delta, tx);
  const syncMarks: SyncMark[] = [...marks].map(([member, role]) => ({ member, role }));
  if (sync !== undefined && !sync.dryRun) await deps.marks.mark(sync.syncId, syncMarks, now, tx);
  return { results, effects, syncAdminDelta, marks: syncMarks };
}

function notAMember(groupId: string, member: string): RosterError {
  // The same message as the unary RemoveMember / UpdateMemberRole.
  return notFound(`${member} is not a member of group "${groupId}"`);
}
