/**
 * Applies a chunk of membership operations in ONE transaction, so a chunk is
 * stored entirely or not at all and every result reported after the commit
 * is durable. A batch stream applies its operations chunk by chunk; the
 * unary AddMember, RemoveMember and UpdateMemberRole are a chunk of one. In
 * order:
 *
 * 1. every operation is parsed with the unary RPCs' rules and field names
 *    (pure; check-operation.ts);
 * 2. inside the transaction, the chunk's state is read: its groups (one
 *    query), the current memberships of its members (one query per group),
 *    and for a batch the caller's facts on those groups (one closure walk:
 *    a permission revoked before the chunk started is honoured by it);
 * 3. each operation, IN ORDER, is decided by the domain's `decideOperation`
 *    against that state as the ledger (membership-ledger.ts) has it after
 *    the operations before it, then checked against its group (the last
 *    direct ADMIN stays; a new group edge closes no cycle and nests not too
 *    deep), and recorded;
 * 4. the net change per member is written with one bulkWrite, and each
 *    group's member_count gets ONE `$inc` with the net delta (member_count
 *    stays equal to the actual members, and concurrent chunks on a group
 *    conflict on that document and are retried by the driver);
 * 5. the record of every change an operation made (its `MembershipChange`,
 *    with the operation's reason or the stream's) is written with ONE
 *    insertMany into the history, in the same transaction: no change
 *    without its record.
 *
 * Checking a new group edge reads the nesting graph in the database, so the
 * writes recorded so far are written (inside the same transaction) first:
 * the check then sees earlier edges of the same chunk.
 *
 * A failed operation fails alone; storage and driver failures are not
 * per-item and abort the transaction (the stream, or the unary call, then
 * ends with them).
 */
import type { AccessRuleSpec } from "../../domain/access-policy.ts";
import { membershipChangeDraft, type ChangeDraft, type ChangeOrigin } from "../../domain/change-record.ts";
import { isRosterError, type ErrorKind, type RosterError } from "../../domain/errors.ts";
import { ensureKeepsAnAdmin } from "../../domain/membership-rules.ts";
import {
  addsGroupEdge,
  decideOperation,
  reportedMembership,
  takesAnAdmin,
  type MembershipChange,
  type MembershipEffect,
  type DecisionContext,
  type MembershipOperation,
  type OperationAccess,
} from "../../domain/membership-operation.ts";
import type { Caller, MembershipRecord, Role } from "../../domain/model.ts";
import type { GroupNode } from "../../storage/documents.ts";
import type { StoreCall } from "../../storage/store-call.ts";
import type { SyncMark, SyncMarkStore } from "../../storage/sync-mark-store.ts";
import { runTransaction } from "../../storage/transaction.ts";
import { loadAccessSnapshot, type AccessSnapshot } from "../access-facts.ts";
import type { AppContext } from "../app-context.ts";
import { ensureEdgeAllowed } from "../nesting-graph.ts";
import { checkOperation, type BatchItem } from "./check-operation.ts";
import { createMembershipLedger, type MembershipLedger } from "./membership-ledger.ts";

/**
 * The declared access rules of the unary RPCs each operation kind stands
 * for (AddMember, RemoveMember, UpdateMemberRole, UpdateMembership,
 * InviteMember, RespondToInvitation, DecideJoinRequest), read from the
 * proto options by the RPC layer. A batch operation is allowed exactly when
 * the matching unary call would be.
 */
export interface BatchAccessRules {
  readonly add: AccessRuleSpec;
  readonly remove: AccessRuleSpec;
  readonly changeRole: AccessRuleSpec;
  readonly update: AccessRuleSpec;
  readonly invite: AccessRuleSpec;
  readonly respond: AccessRuleSpec;
  readonly decide: AccessRuleSpec;
}

/** How a chunk's operations are authorized. */
export type ChunkAuthorization =
  /** Each with the declared rule of its unary RPC, on the caller's facts read by the chunk (a batch). */
  | { readonly kind: "per_operation"; readonly rules: BatchAccessRules }
  /** Already, by the RPC pipeline's authorization step (a unary call: a chunk of one). */
  | { readonly kind: "authorized" };

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

/**
 * Error kinds an operation's group checks (a direct ADMIN stays, nesting)
 * fail it with on their own; any other error there is the stream's. Every
 * refusal of the decision itself fails only its operation.
 */
const itemErrorKinds: ReadonlySet<ErrorKind> = new Set(["invalid_argument", "not_found", "permission_denied", "failed_precondition"]);

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
  readonly marks: SyncMarkStore;
}

export interface ChunkDeps {
  readonly ctx: AppContext;
  readonly caller: Caller;
  readonly authorization: ChunkAuthorization;
  /** Who makes the chunk's changes and why (the stream's reason; an operation's own wins). */
  readonly origin: ChangeOrigin;
}

export interface ChunkOutcome {
  /** One per item, in item order. */
  readonly results: BatchResult[];
  /** The effect of each successful result (undefined for failures), same order. */
  readonly effects: (MembershipEffect | undefined)[];
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
  const checked = checkItems(items, sync, deps.caller.principal);
  const work = (tx: StoreCall) => applyInTransaction(deps, checked, sync, tx);
  for (let attempt = 1; ; attempt++) {
    try {
      if (sync?.dryRun !== true) return await runTransaction(deps.ctx.database, call, work);
      return await dryRun(deps, call, work, sync);
    } catch (error) {
      // A member inserted by a concurrent call after this chunk read its
      // state: read again and redo the chunk.
      if (attempt < duplicateRetries && isRosterError(error) && error.kind === "already_exists") continue;
      throw error;
    }
  }
}

/**
 * Applies `items` inside a transaction the caller runs (CreateGroup's
 * initial members, in the transaction that creates the group), exactly as
 * a chunk of a batch: the same parsing, decisions, checks and writes. No
 * sync, no retry (the caller's transaction retries as a whole).
 */
export function applyChunkInTransaction(deps: ChunkDeps, items: readonly IndexedItem[], tx: StoreCall): Promise<ChunkOutcome> {
  return applyInTransaction(deps, checkItems(items, undefined, deps.caller.principal), undefined, tx);
}

/** Parses each item (sent by `callerPrincipal`); a malformed one becomes its own error. */
function checkItems(items: readonly IndexedItem[], sync: ChunkSync | undefined, callerPrincipal: string): Checked[] {
  return items.map(({ index, item }): Checked => {
    try {
      return { index, tag: item.tag, operation: checkOperation(item, sync, callerPrincipal), reason: item.reason ?? "" };
    } catch (error) {
      if (isRosterError(error)) return { index, tag: item.tag, error };
      throw error;
    }
  });
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
  await sync.marks.mark(sync.syncId, outcome.marks, deps.ctx.clock(), call);
  return outcome;
}

type Checked =
  | { readonly index: number; readonly tag: string; readonly operation: MembershipOperation; readonly reason: string }
  | { readonly index: number; readonly tag: string; readonly error: RosterError };

/** What the chunk read in its transaction, and the ledger its operations are recorded in. */
interface ChunkState {
  readonly deps: ChunkDeps;
  readonly sync: ChunkSync | undefined;
  readonly tx: StoreCall;
  readonly now: Date;
  readonly groups: ReadonlyMap<string, GroupNode>;
  /** The caller's facts on the chunk's groups; undefined when the operations were authorized before. */
  readonly access: AccessSnapshot | undefined;
  /** How every operation of the chunk is decided (the same for all). */
  readonly context: DecisionContext;
  readonly ledger: MembershipLedger;
  /** The records of the changes decided so far, written with the chunk's writes. */
  readonly records: ChangeDraft[];
  /** Whether this transaction holds the nesting lock yet. */
  nestingLocked: boolean;
}

async function applyInTransaction(
  deps: ChunkDeps,
  checked: readonly Checked[],
  sync: ChunkSync | undefined,
  tx: StoreCall,
): Promise<ChunkOutcome & { marks: SyncMark[] }> {
  const operations = checked.flatMap((entry) => ("operation" in entry ? [entry.operation] : []));
  const state = await readChunkState(deps, operations, sync, tx);
  const results: BatchResult[] = [];
  const effects: (MembershipEffect | undefined)[] = [];
  for (const entry of checked) {
    const change = "operation" in entry ? await applyOperation(state, entry.operation, entry.reason) : entry.error;
    results.push({ index: entry.index, tag: entry.tag, outcome: outcomeOf(change) });
    effects.push(isRosterError(change) ? undefined : change.effect);
  }
  await writeChanges(state);
  const marks = sync === undefined ? [] : await markSyncMembers(state, sync, operations);
  return { results, effects, syncAdminDelta: sync === undefined ? 0 : state.ledger.adminDelta(sync.groupId), marks };
}

/**
 * Reads the chunk's groups (and `group:` members), the current memberships
 * of its members, in a dry run the roles earlier chunks simulated, and for
 * a batch the caller's facts on those groups.
 */
async function readChunkState(
  deps: ChunkDeps,
  operations: readonly MembershipOperation[],
  sync: ChunkSync | undefined,
  tx: StoreCall,
): Promise<ChunkState> {
  const { ctx, caller } = deps;
  const now = ctx.clock();
  const membersByGroup = new Map<string, Set<string>>();
  const groupIds = new Set<string>();
  for (const operation of operations) {
    groupIds.add(operation.groupId);
    if (operation.member.kind === "group") groupIds.add(operation.member.id);
    let members = membersByGroup.get(operation.groupId);
    if (members === undefined) membersByGroup.set(operation.groupId, (members = new Set()));
    members.add(operation.member.principal);
  }
  const groups = new Map<string, GroupNode>();
  for (const group of await ctx.groups.getMany([...groupIds], tx)) groups.set(group.id, group);
  // The caller's facts as of this chunk (this attempt of its transaction): one closure walk.
  const access = deps.authorization.kind === "per_operation" ? await loadAccessSnapshot(ctx, caller, [...groups.values()], tx) : undefined;
  const stored: MembershipRecord[] = [];
  for (const [groupId, members] of membersByGroup) {
    if (groups.has(groupId)) stored.push(...(await ctx.membershipBulk.findMembers(groupId, [...members], tx)));
  }
  const sent = sync === undefined ? undefined : membersByGroup.get(sync.groupId);
  const read = sync?.dryRun === true && sent !== undefined ? await withSimulatedRoles(stored, sync, [...sent], now, caller, tx) : stored;
  const context: DecisionContext = { addSetsRole: sync !== undefined, now, actor: caller.principal, invitationTtlMs: ctx.invitationTtlMs };
  return { deps, sync, tx, now, groups, access, context, ledger: createMembershipLedger(read), records: [], nestingLocked: false };
}

/**
 * A dry run's earlier chunks were rolled back; the roles they simulated for
 * the sync group's `members` are in the marks: `stored` with those roles.
 */
async function withSimulatedRoles(
  stored: readonly MembershipRecord[],
  sync: ChunkSync,
  members: readonly string[],
  now: Date,
  caller: Caller,
  tx: StoreCall,
): Promise<MembershipRecord[]> {
  const marked = await sync.marks.find(sync.syncId, members, tx);
  const inSyncGroup = new Map(stored.filter((record) => record.groupId === sync.groupId).map((record) => [record.member, record]));
  const simulated = [...marked].map(([member, role]): MembershipRecord => {
    const current = inSyncGroup.get(member);
    if (current === undefined)
      return { groupId: sync.groupId, member, role, createTime: now, updateTime: now, createdBy: caller.principal };
    return current.role === role ? current : { ...current, role, updateTime: now };
  });
  return [...stored.filter((record) => record.groupId !== sync.groupId || !marked.has(record.member)), ...simulated];
}

/**
 * Decides one operation on the chunk's state, checks the decided change
 * against its whole group (a direct ADMIN stays; a new group edge is
 * allowed), and records it in the ledger and, with `reason` (the
 * operation's, "" for the stream's), in the history to write; returns the
 * change, or the RosterError that fails the operation alone.
 */
async function applyOperation(state: ChunkState, operation: MembershipOperation, reason: string): Promise<MembershipChange | RosterError> {
  let change: MembershipChange;
  try {
    change = decideOperation(
      operation,
      {
        group: state.groups.get(operation.groupId),
        current: state.ledger.current(operation.groupId, operation.member.principal),
        memberGroup: operation.member.kind === "group" ? state.groups.get(operation.member.id) : undefined,
      },
      accessOf(state, operation),
      state.context,
    );
  } catch (error) {
    if (!isRosterError(error)) throw error;
    return error;
  }
  try {
    const edge = addsGroupEdge(operation, change);
    if (takesAnAdmin(change)) await ensureKeepsADirectAdmin(state, change);
    if (edge !== undefined) await ensureEdgeAllowedNow(state, edge);
    state.ledger.record(change);
    const origin = state.deps.origin;
    const record = membershipChangeDraft(
      change,
      state.groups.get(change.groupId)?.namespace ?? "",
      reason === "" ? origin : { ...origin, reason },
      state.now,
    );
    if (record !== undefined) state.records.push(record);
    return change;
  } catch (error) {
    if (!isRosterError(error) || !itemErrorKinds.has(error.kind)) throw error;
    return error;
  }
}

/** Who decides `operation`'s access: the declared rule of its unary RPC on the chunk's facts, or nobody (already decided). */
function accessOf(state: ChunkState, operation: MembershipOperation): OperationAccess {
  const { authorization, caller } = state.deps;
  if (authorization.kind === "authorized") return { kind: "authorized" };
  const access = state.access;
  if (access === undefined) throw new Error("a chunk authorized per operation read no access snapshot");
  return {
    kind: "decide",
    rule: batchRuleOf(authorization.rules, operation),
    callerPrincipal: caller.principal,
    facts: access.factsOf(operation.groupId),
    memberGroupFacts: operation.member.kind === "group" ? access.factsOf(operation.member.id) : undefined,
  };
}

/** The declared rule of the unary RPC a batch operation stands for. */
function batchRuleOf(rules: BatchAccessRules, operation: MembershipOperation): AccessRuleSpec {
  switch (operation.kind) {
    case "add":
      return rules.add;
    case "remove":
      return rules.remove;
    case "change_role":
      return rules.changeRole;
    case "update":
      return rules.update;
    case "invite":
      return rules.invite;
    case "respond":
      return rules.respond;
    case "decide":
      return rules.decide;
    case "request":
    case "expire":
      // Neither is a batch operation: RequestToJoin is the caller's own unary call, expiry the sweeper's.
      throw new Error(`a ${operation.kind} operation cannot be authorized per batch operation`);
  }
}

/** A change taking a never-expiring ADMIN away must leave the group another. */
async function ensureKeepsADirectAdmin(state: ChunkState, change: MembershipChange): Promise<void> {
  const directAdminCount = await state.ledger.adminCount(change.groupId, async () => {
    const stored = await state.deps.ctx.memberships.countPermanentAdmins(change.groupId, state.tx);
    // A dry run's earlier chunks were rolled back: add what they simulated.
    const sync = state.sync;
    return sync?.dryRun === true && change.groupId === sync.groupId ? stored + sync.adminDelta : stored;
  });
  ensureKeepsAnAdmin({
    groupId: change.groupId,
    member: change.member,
    currentRole: "ADMIN",
    newRole: change.after?.role,
    getsExpireTime: change.after?.expireTime !== undefined,
    directAdminCount,
  });
}

/** A new group edge must close no cycle and nest not too deep, checked on the graph in the database. */
async function ensureEdgeAllowedNow(state: ChunkState, edge: { readonly parentId: string; readonly childId: string }): Promise<void> {
  const { ctx, caller } = state.deps;
  // The check reads the graph in the database: write this chunk's earlier changes first.
  await ctx.membershipBulk.applyWrites(state.ledger.drain(), state.tx);
  if (!state.nestingLocked) {
    await ctx.nestingLock.take(state.tx);
    state.nestingLocked = true;
  }
  await ensureEdgeAllowed(ctx, caller, edge.parentId, edge.childId, state.tx);
}

/** Writes the net change of every member touched, then each written group's member count, then the changes' records. */
async function writeChanges(state: ChunkState): Promise<void> {
  const { ctx } = state.deps;
  await ctx.membershipBulk.applyWrites(state.ledger.drain(), state.tx);
  for (const [groupId, delta] of state.ledger.memberCountDeltas()) await ctx.groups.bumpMembership(groupId, delta, state.tx);
  await ctx.history.append(state.records, state.tx);
}

/**
 * The sync group's members this chunk sent, with their role now: a member
 * sent stays, whatever became of its operation (one that is not a member has
 * nothing to keep). Recorded in the transaction, except in a dry run (which
 * is rolled back: its caller records them after).
 */
async function markSyncMembers(state: ChunkState, sync: ChunkSync, operations: readonly MembershipOperation[]): Promise<SyncMark[]> {
  const marks = new Map<string, Role>();
  for (const operation of operations) {
    if (operation.groupId !== sync.groupId) continue;
    const current = state.ledger.current(sync.groupId, operation.member.principal);
    if (current !== undefined) marks.set(current.member, current.role);
  }
  const syncMarks = [...marks].map(([member, role]) => ({ member, role }));
  if (!sync.dryRun) await sync.marks.mark(sync.syncId, syncMarks, state.now, state.tx);
  return syncMarks;
}

function outcomeOf(change: MembershipChange | RosterError): BatchOutcome {
  if (isRosterError(change)) return { ok: false, error: change };
  return { ok: true, membership: reportedMembership(change), changed: change.effect !== "unchanged" };
}
