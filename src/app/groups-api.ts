/**
 * GroupService use cases. Access was decided before these run (the RPC
 * pipeline's authorization step, see index.ts); what remains here are the
 * rules of the data: validation, etags, the lifecycle of deleted groups,
 * parent-chain cycles and depth, idempotent creation, and the transactions
 * that keep several documents consistent.
 */
import {
  canSeeGroup,
  evaluateAccess,
  groupNotFound,
  groupRefBySlug,
  type AccessRuleSpec,
  type AccessSituation,
} from "../domain/access-policy.ts";
import {
  aclChangedDraft,
  groupCreatedDraft,
  groupStateDraft,
  groupUpdatedDraft,
  membershipChangeDraft,
  type ChangeOrigin,
} from "../domain/change-record.ts";
import { aborted, failedPrecondition, isRosterError, notFound, RosterError } from "../domain/errors.ts";
import { ensureGroupActive, ensureGroupDeleted, ensureNoLiveChildren } from "../domain/group-lifecycle.ts";
import { changedGroupValues, manageFieldChanged, parseUpdateMask } from "../domain/group-update.ts";
import {
  validateAcl,
  validateBatchGetIds,
  validateGroupDraft,
  validateGroupId,
  validateInitialMembers,
  validateNamespace,
  validateRequestId,
  validateSlug,
  type AclEntryInput,
  type InitialMember,
  type InitialMemberInput,
} from "../domain/group-validation.ts";
import type { AclEntry, Caller, GroupDraft, GroupRecord, GroupValues as DomainGroupValues, MembershipRecord } from "../domain/model.ts";
import { describeCycle, MAX_NESTING_DEPTH } from "../domain/nesting.ts";
import { groupRecordOf, keptGroupRecordOf, type GroupNode } from "../storage/documents.ts";
import type { GroupChanges } from "../storage/group-store.ts";
import type { StoreCall } from "../storage/store-call.ts";
import { runTransaction } from "../storage/transaction.ts";
import {
  accessFactsOf,
  callerAccessOf,
  isCreator,
  type CallerAccess,
  loadAccessFacts,
  loadAccessSnapshot,
  loadAncestors,
  loadGroup,
  loadLiveGroupBySlug,
  loadVisibleGroupIds,
} from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import { applyChunkInTransaction, type BatchAccessRules } from "./batch/apply-chunk.ts";
import { defaultBatchLimits, type BatchLimits } from "./batch/limits.ts";

export type { CallerAccess } from "./access-facts.ts";
import { changeOriginOf, storeCallOf, type CallOptions, type ChangeOptions } from "./call-options.ts";
import { readCallOf, readsOf } from "./read-source.ts";
import { listGroups, type GroupPage, type ListGroupsQuery } from "./list-groups.ts";
import { loadPrincipalClosure } from "./principal-closure.ts";

/**
 * The mutable fields of a group, as the client supplies them (already parsed
 * from proto: an unspecified visibility arrives as "PRIVATE", an unspecified
 * member visibility as "MEMBERS", supplied by the converter).
 */
export type GroupValues = DomainGroupValues;

/** CreateGroup input: the mutable fields plus the immutable scope and slug, and the initial members. */
export interface GroupInput extends GroupDraft {
  /** Members besides the creator, added in the creating transaction; none when absent. */
  readonly members?: readonly InitialMemberInput[];
}

/** The update_mask paths UpdateGroup accepts (proto field names). */
export type GroupUpdatePath =
  | "display_name"
  | "description"
  | "labels"
  | "policies"
  | "policies.visibility"
  | "policies.member_visibility"
  | "policies.join_policy"
  | "policies.signup_fields"
  | "policies.authentication_assurance_timeout"
  | "parent_id";

/**
 * UpdateGroup input. `mask` undefined = no mask: every mutable field is
 * replaced by `values`. With a mask only the named fields change. The
 * converter passes mask paths through unchecked; the app refuses unknown ones
 * with invalid_argument("update_mask", ...), so the rule lives in one place.
 */
export interface GroupUpdate {
  readonly id: string;
  readonly values: GroupValues;
  readonly mask: readonly string[] | undefined;
  /** "" = no etag check. */
  readonly etag: string;
}

/** GetGroup: by id, or by namespace and slug. */
export type GroupRef = { readonly id: string } | { readonly namespace: string; readonly slug: string };

export interface GroupWithAccess {
  readonly group: GroupRecord;
  readonly access: CallerAccess;
}

export interface BatchGetResult {
  /** Found and visible, in request order, duplicates once. */
  readonly groups: readonly GroupRecord[];
  /** Missing or invisible, in request order. */
  readonly missingIds: readonly string[];
}

export interface AclResult {
  /** Sorted by principal. */
  readonly entries: readonly AclEntry[];
  readonly etag: string;
}

export interface GroupsApi {
  /**
   * Creates a group; the caller becomes its first ADMIN (memberCount 1). The
   * same caller repeating `requestId` (non-empty) gets the group created the
   * first time, even when both requests raced, as GetGroup shows it to the
   * caller now; not_found when it is deleted or the caller cannot see it.
   *
   * `input.members` are added in the same transaction by the batch engine,
   * each decided with `addMemberRule` (AddMember's declared rule, which the
   * caller as the new group's ADMIN meets but for the READ a `group:` member
   * needs); the first that fails fails the call, its error prefixed with
   * "members[i]: ", and nothing is created.
   */
  create(
    caller: Caller,
    input: GroupInput,
    requestId: string,
    options?: ChangeOptions,
    addMemberRule?: AccessRuleSpec,
  ): Promise<GroupRecord>;
  /**
   * Returns the group with the caller's access. not_found when missing or
   * not visible to the caller (a DELETED group is visible only with MANAGE),
   * by the same domain rule as the authorization step.
   */
  get(caller: Caller, ref: GroupRef, options?: CallOptions): Promise<GroupWithAccess>;
  /** 1–100 ids (invalid_argument "ids" otherwise); filtered by what the caller may see. */
  batchGet(caller: Caller, ids: readonly string[], options?: CallOptions): Promise<BatchGetResult>;
  /** Only groups the caller can see; keyset pagination. */
  list(caller: Caller, query: ListGroupsQuery, options?: CallOptions): Promise<GroupPage>;
  /**
   * Stale etag → aborted; parent change checked for cycles and depth.
   * `rule` is UpdateGroup's declared access rule, decided again here inside
   * the transaction on the stored group the update writes: which of its
   * manage_fields change and where its parent_field moves the group depend
   * on that version.
   */
  update(caller: Caller, update: GroupUpdate, rule: AccessRuleSpec, options?: ChangeOptions): Promise<GroupRecord>;
  /** Soft delete; failed_precondition with live children. `etag` "" = unchecked. */
  delete(caller: Caller, id: string, etag: string, options?: ChangeOptions): Promise<GroupRecord>;
  /** already_exists when the slug is live again in its namespace. */
  undelete(caller: Caller, id: string, options?: ChangeOptions): Promise<GroupRecord>;
  getAcl(caller: Caller, groupId: string, options?: CallOptions): Promise<AclResult>;
  /**
   * Replaces the ACL (≤ 256 entries, one per principal; permission "NONE"
   * stands for PERMISSION_UNSPECIFIED and is refused) and bumps the etag.
   */
  setAcl(caller: Caller, groupId: string, entries: readonly AclEntryInput[], etag: string, options?: ChangeOptions): Promise<AclResult>;
}

function etagMismatch(groupId: string): Error {
  return aborted(`the etag of group "${groupId}" does not match: it changed since it was read`);
}

function ensureEtag(group: GroupNode, etag: string): void {
  if (etag !== "" && etag !== group.etag) throw etagMismatch(group.id);
}

/** Loads a group inside a use case; not_found like a missing one. */
async function requireGroup(ctx: AppContext, id: string, call: StoreCall): Promise<GroupNode> {
  const group = await ctx.groups.get(id, call);
  if (group === undefined) throw groupNotFound(id);
  return group;
}

/**
 * Decides UpdateGroup's declared rule inside the update's transaction, on
 * `current` as the transaction read it: whether the update changes a
 * MANAGE-only field (manage_fields) and where it moves the group
 * (parent_field) depend on the stored group, so they are decided on the very
 * version the update writes. A change committed after the pipeline's check
 * therefore cannot turn a WRITE caller's request into an unchecked MANAGE
 * change; one committed after this read makes the write conflict, and the
 * transaction is decided again or the call ends ABORTED. The caller's facts
 * on the group and on its old and new parent come from one closure walk in
 * the same transaction.
 */
async function authorizeUpdate(
  ctx: AppContext,
  caller: Caller,
  rule: AccessRuleSpec,
  current: GroupNode,
  changes: Partial<DomainGroupValues>,
  newParent: GroupNode | undefined,
  tx: StoreCall,
): Promise<void> {
  const moves = changes.parentId !== undefined;
  const currentParent = moves && current.parentId !== "" ? await requireGroup(ctx, current.parentId, tx) : undefined;
  const involved = [current, currentParent, newParent].filter((g): g is GroupNode => g !== undefined);
  const snapshot = await loadAccessSnapshot(ctx, caller, involved, tx);
  const facts = snapshot.factsOf(current.id);
  if (facts === undefined) throw groupNotFound(current.id);
  const situation: AccessSituation = {
    manageFieldChanged: manageFieldChanged(changes, rule.manageFields),
    parentMove: moves
      ? {
          from: currentParent === undefined ? undefined : snapshot.factsOf(currentParent.id),
          to: newParent === undefined ? undefined : snapshot.factsOf(newParent.id),
          isCreator: isCreator(ctx, snapshot.closure),
        }
      : undefined,
  };
  const decision = evaluateAccess(rule, facts, situation);
  if (!decision.ok) throw decision.error;
}

/**
 * The new ancestor chain when `group` moves under `parent`, refusing cycles
 * (naming only the groups on the cycle the caller can see) and chains deeper
 * than the limit (without counting levels, which may run through groups the
 * caller cannot see).
 */
async function chainUnder(ctx: AppContext, caller: Caller, group: GroupNode, parent: GroupNode, call: StoreCall): Promise<string[]> {
  const setting = `setting parent_id of group "${group.id}" to "${parent.id}"`;
  if (parent.id === group.id || parent.ancestorIds.includes(group.id)) {
    const from = parent.ancestorIds.indexOf(group.id);
    const loop = parent.id === group.id ? [group.id, group.id] : [...parent.ancestorIds.slice(from), parent.id, group.id];
    const visible = await loadVisibleGroupIds(ctx, caller, loop, call);
    throw failedPrecondition(`${setting} would close the cycle ${describeCycle(loop, (id) => visible.has(id))}`);
  }
  const chain = [...parent.ancestorIds, parent.id];
  const deepest = await ctx.groups.maxDescendantDepth(group.id, call);
  const below = deepest === 0 ? 0 : deepest - group.ancestorIds.length;
  if (chain.length + below > MAX_NESTING_DEPTH) {
    throw failedPrecondition(`${setting} would make a parent chain deeper than the limit of ${MAX_NESTING_DEPTH} levels`);
  }
  return chain;
}

/**
 * Adds the initial members to the group `groupId` just inserted in `tx`, as
 * a chunk of the batch engine decided with AddMember's rule; throws the first
 * failure, naming its entry.
 */
async function addInitialMembers(
  ctx: AppContext,
  caller: Caller,
  groupId: string,
  members: readonly InitialMember[],
  addMemberRule: AccessRuleSpec | undefined,
  origin: ChangeOrigin,
  tx: StoreCall,
): Promise<void> {
  if (members.length === 0) return;
  if (addMemberRule === undefined) throw new Error("CreateGroup with members needs AddMember's access rule");
  // Only `add` operations are applied here: every kind is decided by AddMember's rule.
  const rules: BatchAccessRules = {
    add: addMemberRule,
    remove: addMemberRule,
    changeRole: addMemberRule,
    update: addMemberRule,
    invite: addMemberRule,
    respond: addMemberRule,
    decide: addMemberRule,
  };
  const items = members.map(({ member, role }, index) => ({
    index,
    item: { tag: "", operation: { kind: "add" as const, groupId, member: member.principal, role } },
  }));
  const { results } = await applyChunkInTransaction({ ctx, caller, authorization: { kind: "per_operation", rules }, origin }, items, tx);
  for (const result of results) {
    if (!result.outcome.ok) {
      const error = result.outcome.error;
      throw new RosterError(error.kind, `members[${result.index}]: ${error.message}`, { field: `members[${result.index}]`, cause: error });
    }
  }
}

export function createGroupsApi(ctx: AppContext, limits: BatchLimits = defaultBatchLimits): GroupsApi {
  /**
   * The answer to a replayed request_id of `caller`: undefined when the id is
   * new; else the group it created exactly as GetGroup shows it to the
   * caller now, while it is live and the caller can see it; NOT_FOUND
   * otherwise (access lost, group deleted), naming the request_id rather
   * than a group id the caller may not be entitled to.
   */
  async function replayOf(caller: Caller, requestId: string, call: StoreCall): Promise<GroupRecord | undefined> {
    const groupId = await ctx.groupRequests.find(caller.principal, requestId, call);
    if (groupId === undefined) return undefined;
    const group = await ctx.groups.get(groupId, call);
    // The loader and the domain rule of GetGroup (`get` below).
    if (group?.state === "ACTIVE" && canSeeGroup(await loadAccessFacts(ctx, caller, group, call, undefined))) return groupRecordOf(group);
    throw notFound(`the group created by request_id ${JSON.stringify(requestId)} was not found`);
  }

  const api: GroupsApi = {
    async create(caller, input, requestId, options, addMemberRule) {
      const draft = validateGroupDraft(input);
      validateRequestId(requestId);
      const origin = changeOriginOf(caller, options);
      const members = validateInitialMembers(input.members ?? [], caller.principal, limits.maxUnaryOperations);
      const call = storeCallOf(options);
      if (requestId !== "") {
        const existing = await replayOf(caller, requestId, call);
        if (existing !== undefined) return existing;
      }
      try {
        return await runTransaction(ctx.database, call, async (tx) => {
          if (requestId !== "") {
            const existing = await replayOf(caller, requestId, tx);
            if (existing !== undefined) return existing;
          }
          let ancestorIds: string[] = [];
          if (draft.parentId !== "") {
            const parent = await requireGroup(ctx, draft.parentId, tx);
            ensureGroupActive(parent);
            ancestorIds = [...parent.ancestorIds, parent.id];
            if (ancestorIds.length > MAX_NESTING_DEPTH) {
              throw failedPrecondition(
                `group "${parent.id}" is already ${parent.ancestorIds.length} levels deep; a child would exceed the limit of ${MAX_NESTING_DEPTH}`,
              );
            }
            // Conflicts with a concurrent DeleteGroup of the parent, which checks for live children.
            await ctx.groups.touchChildren(parent.id, tx);
          }
          const now = ctx.clock();
          const group: GroupNode = {
            id: ctx.newGroupId(),
            namespace: draft.namespace,
            slug: draft.slug,
            displayName: draft.displayName,
            description: draft.description,
            parentId: draft.parentId,
            labels: draft.labels,
            visibility: draft.visibility,
            memberVisibility: draft.memberVisibility,
            joinPolicy: draft.joinPolicy,
            signupFields: draft.signupFields,
            authenticationAssuranceTimeout: draft.authenticationAssuranceTimeout,
            state: "ACTIVE",
            memberCount: 1,
            acl: [],
            createTime: now,
            updateTime: now,
            deleteTime: undefined,
            createdBy: caller.principal,
            updatedBy: caller.principal,
            etag: ctx.newEtag(),
            ancestorIds,
          };
          const creator: MembershipRecord = {
            groupId: group.id,
            member: caller.principal,
            role: "ADMIN",
            createTime: now,
            updateTime: now,
            createdBy: caller.principal,
          };
          await ctx.groups.insert(group, tx);
          await ctx.memberships.insert(creator, tx);
          // The group's records first, then the initial members' (written by the batch engine, in this transaction).
          const joined = membershipChangeDraft(
            { effect: "added", groupId: group.id, member: caller.principal, before: undefined, after: creator },
            group.namespace,
            origin,
            now,
          );
          await ctx.history.append([groupCreatedDraft(group, origin), ...(joined === undefined ? [] : [joined])], tx);
          await addInitialMembers(ctx, caller, group.id, members, addMemberRule, origin, tx);
          if (requestId !== "") await ctx.groupRequests.insert(caller.principal, requestId, group.id, now, tx);
          return groupRecordOf(members.length === 0 ? group : await requireGroup(ctx, group.id, tx));
        });
      } catch (error) {
        // A concurrent request with the same request_id won the race (its
        // record or its slug committed first): answer with its group.
        if (requestId !== "" && isRosterError(error) && error.kind === "already_exists") {
          const existing = await replayOf(caller, requestId, call);
          if (existing !== undefined) return existing;
        }
        throw error;
      }
    },

    async get(caller, ref, options): Promise<GroupWithAccess> {
      const call = await readCallOf(ctx, options);
      let group: GroupNode | undefined;
      let name: string;
      if ("id" in ref) {
        validateGroupId(ref.id, "id");
        name = ref.id;
        group = await loadGroup(ctx, ref.id, call, options?.memo);
      } else {
        const namespace = validateNamespace(ref.namespace, "namespace");
        const slug = validateSlug(ref.slug, "slug");
        name = groupRefBySlug(namespace, slug);
        group = await loadLiveGroupBySlug(ctx, namespace, slug, call, options?.memo);
      }
      if (group === undefined) throw groupNotFound(name);
      const facts = await loadAccessFacts(ctx, caller, group, call, options?.memo);
      // Same domain function as the authorization step: if the pipeline was
      // bypassed, an invisible group still reads as a missing one.
      if (!canSeeGroup(facts)) throw groupNotFound(name);
      return {
        // One record per node: its identity is the version the handlers keep
        // GetGroup's response by (src/convert/read-responses.ts).
        group: keptGroupRecordOf(group),
        access: callerAccessOf(facts),
      };
    },

    async batchGet(caller, ids, options) {
      const unique = validateBatchGetIds(ids);
      const call = await readCallOf(ctx, options);
      const [found, closure] = await Promise.all([
        readsOf(ctx, call).groups.getMany(unique, call),
        loadPrincipalClosure(ctx, caller.principal, call, options?.memo),
      ]);
      const ancestors = await loadAncestors(ctx, found, call);
      const byId = new Map(found.map((group) => [group.id, group]));
      const groups: GroupRecord[] = [];
      const missingIds: string[] = [];
      for (const id of unique) {
        const group = byId.get(id);
        if (group !== undefined && canSeeGroup(accessFactsOf(caller, group, closure, ancestors))) {
          groups.push(groupRecordOf(group));
        } else {
          missingIds.push(id);
        }
      }
      return { groups, missingIds };
    },

    list(caller, query, options) {
      return listGroups(ctx, caller, query, options);
    },

    async update(caller, update, rule, options) {
      validateGroupId(update.id, "group.id");
      const mask = parseUpdateMask(update.mask ?? []);
      const origin = changeOriginOf(caller, options);
      const call = storeCallOf(options);
      return runTransaction(ctx.database, call, async (tx) => {
        const current = await requireGroup(ctx, update.id, tx);
        ensureGroupActive(current);
        ensureEtag(current, update.etag);
        const changes = changedGroupValues(current, update.values, mask);
        if (Object.keys(changes).length === 0) return groupRecordOf(current);
        const parent =
          changes.parentId === undefined || changes.parentId === "" ? undefined : await requireGroup(ctx, changes.parentId, tx);
        await authorizeUpdate(ctx, caller, rule, current, changes, parent, tx);
        let ancestorIds: string[] | undefined;
        if (changes.parentId !== undefined) {
          await ctx.nestingLock.take(tx);
          if (parent === undefined) {
            ancestorIds = [];
          } else {
            ensureGroupActive(parent);
            ancestorIds = await chainUnder(ctx, caller, current, parent, tx);
            await ctx.groups.touchChildren(parent.id, tx);
          }
        }
        const now = ctx.clock();
        const groupChanges: GroupChanges = {
          ...changes,
          ...(ancestorIds === undefined ? {} : { ancestorIds }),
          updateTime: now,
          updatedBy: caller.principal,
          etag: ctx.newEtag(),
        };
        const updated = await ctx.groups.applyChanges(current, groupChanges, tx);
        if (updated === undefined) throw etagMismatch(current.id);
        if (ancestorIds !== undefined) await ctx.groups.rewriteDescendantChains(current.id, ancestorIds, tx);
        const record = groupUpdatedDraft(current, changes, origin, now);
        if (record !== undefined) await ctx.history.append([record], tx);
        return groupRecordOf(updated);
      });
    },

    async delete(caller, id, etag, options) {
      validateGroupId(id, "id");
      const origin = changeOriginOf(caller, options);
      const call = storeCallOf(options);
      return runTransaction(ctx.database, call, async (tx) => {
        const current = await requireGroup(ctx, id, tx);
        ensureGroupActive(current);
        ensureEtag(current, etag);
        ensureNoLiveChildren(id, await ctx.groups.countLiveChildren(id, tx));
        const now = ctx.clock();
        const updated = await ctx.groups.applyChanges(
          current,
          { state: "DELETED", deleteTime: now, updateTime: now, updatedBy: caller.principal, etag: ctx.newEtag() },
          tx,
        );
        if (updated === undefined) throw etagMismatch(id);
        await ctx.history.append([groupStateDraft(current, "DELETED", origin, now)], tx);
        return groupRecordOf(updated);
      });
    },

    async undelete(caller, id, options) {
      validateGroupId(id, "id");
      const origin = changeOriginOf(caller, options);
      const call = storeCallOf(options);
      return runTransaction(ctx.database, call, async (tx) => {
        const current = await requireGroup(ctx, id, tx);
        ensureGroupDeleted(current);
        if (current.parentId !== "") {
          const parent = await ctx.groups.get(current.parentId, tx);
          if (parent?.state !== "ACTIVE") {
            throw failedPrecondition(`the parent of group "${id}" is deleted; undelete the parent first`);
          }
          await ctx.groups.touchChildren(parent.id, tx);
        }
        const now = ctx.clock();
        const updated = await ctx.groups.applyChanges(
          current,
          { state: "ACTIVE", deleteTime: null, updateTime: now, updatedBy: caller.principal, etag: ctx.newEtag() },
          tx,
        );
        if (updated === undefined) throw etagMismatch(id);
        await ctx.history.append([groupStateDraft(current, "ACTIVE", origin, now)], tx);
        return groupRecordOf(updated);
      });
    },

    async getAcl(_caller, groupId, options): Promise<AclResult> {
      validateGroupId(groupId, "group_id");
      const group = await loadGroup(ctx, groupId, await readCallOf(ctx, options), options?.memo);
      if (group === undefined) throw groupNotFound(groupId);
      return { entries: group.acl, etag: group.etag };
    },

    async setAcl(caller, groupId, entries, etag, options): Promise<AclResult> {
      validateGroupId(groupId, "group_id");
      const acl = validateAcl(entries);
      const origin = changeOriginOf(caller, options);
      const call = storeCallOf(options);
      return runTransaction(ctx.database, call, async (tx) => {
        const current = await requireGroup(ctx, groupId, tx);
        ensureGroupActive(current);
        ensureEtag(current, etag);
        const now = ctx.clock();
        const updated = await ctx.groups.applyChanges(
          current,
          { acl, updateTime: now, updatedBy: caller.principal, etag: ctx.newEtag() },
          tx,
        );
        if (updated === undefined) throw etagMismatch(groupId);
        const record = aclChangedDraft(current, acl, origin, now);
        if (record !== undefined) await ctx.history.append([record], tx);
        return { entries: updated.acl, etag: updated.etag };
      });
    },
  };
  return api;
}
