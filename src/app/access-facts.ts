/**
 * Builds the domain's AccessFacts for (caller, group) from the caller's
 * closure and the group's ancestors. Pure given its inputs; the loaders at
 * the bottom fetch exactly those inputs (the ancestors in one `$in` query).
 */
import { allowedActions, canSeeGroup, effectivePermission, type AccessFacts } from "../domain/access-policy.ts";
import type { Caller, Permission, Role } from "../domain/model.ts";
import type { GroupNode } from "../storage/documents.ts";
import type { StoreCall } from "../storage/store-call.ts";
import type { AppContext } from "./app-context.ts";
import type { FactsMemo } from "./read-model/facts-memo.ts";
import { loadPrincipalClosure, type MembershipAnswer, type PrincipalClosure } from "./principal-closure.ts";
import { readsOf } from "./read-source.ts";
import { createMemoSlot, memoized, type RequestMemo } from "./request-memo.ts";

/**
 * Whether the closure manages `group` without help from its ancestors: an
 * ADMIN edge into it, or an ACL MANAGE grant to the principal or one of its
 * groups. (A deleted group's own ADMINs still count for that group.)
 */
export function managesDirectly(group: GroupNode, closure: PrincipalClosure): boolean {
  const role = group.state === "ACTIVE" ? closure.roles.get(group.id) : closure.deletedRoles.get(group.id);
  if (role === "ADMIN") return true;
  return group.acl.some((entry) => entry.permission === "MANAGE" && closure.aclPrincipals.has(entry.principal));
}

/**
 * The caller's facts on `group`. `ancestors` maps ids to the groups of the
 * parent chain (missing ones are ignored); only live ancestors confer MANAGE.
 */
export function accessFactsOf(
  caller: Caller,
  group: GroupNode,
  closure: PrincipalClosure,
  ancestors: ReadonlyMap<string, GroupNode>,
): AccessFacts {
  const role = group.state === "ACTIVE" ? closure.roles.get(group.id) : closure.deletedRoles.get(group.id);
  const aclGrants: Permission[] = group.acl.filter((entry) => closure.aclPrincipals.has(entry.principal)).map((entry) => entry.permission);
  const ancestorManage = group.ancestorIds.some((id) => {
    const ancestor = ancestors.get(id);
    return ancestor !== undefined && ancestor.state === "ACTIVE" && managesDirectly(ancestor, closure);
  });
  return {
    groupId: group.id,
    state: group.state,
    isSystemAdmin: caller.isSystemAdmin,
    role,
    aclGrants,
    ancestorManage,
    visibility: group.visibility,
    memberVisibility: group.memberVisibility,
    joinPolicy: group.joinPolicy,
    invited: group.state === "ACTIVE" && closure.pending.get(group.id)?.status === "INVITED",
    assurance:
      group.authenticationAssuranceTimeout > 0
        ? { timeoutSeconds: group.authenticationAssuranceTimeout, authTime: caller.authTime, now: closure.readAt }
        : undefined,
  };
}

/** What the caller may do on a group (proto CallerAccess): GetGroup's caller_access and every ListGroups entry's. */
export interface CallerAccess {
  /** Highest role, direct or through nested groups; undefined when not a member. */
  readonly role: Role | undefined;
  readonly effectivePermission: Permission;
  /** domain allowedActions(facts): "group.read", "members.add", ... */
  readonly permissions: readonly string[];
}

/**
 * The access made from each facts object the read model keeps (below), once,
 * frozen: a kept GetGroup answer's access is the same object on every call
 * (read-responses.ts keys by it). Only kept facts are entered: a weak entry
 * per call for facts made afresh would be work for every young collection.
 */
const keptAccesses = new WeakMap<AccessFacts, CallerAccess>();

/** The caller's access on a group, from its facts there. */
export function callerAccessOf(facts: AccessFacts): CallerAccess {
  return keptAccesses.get(facts) ?? accessOf(facts);
}

function accessOf(facts: AccessFacts): CallerAccess {
  return { role: facts.role, effectivePermission: effectivePermission(facts), permissions: allowedActions(facts) };
}

/** Facts by "<principal> <group id> <etag>". */
const factsSlot = createMemoSlot<AccessFacts>("access facts");
/** Groups by id (undefined: no such group). */
const groupSlot = createMemoSlot<GroupNode | undefined>("group");
/** Live groups by "<namespace>\n<slug>" (undefined: none). */
const liveSlugSlot = createMemoSlot<GroupNode | undefined>("live group by slug");
/** In the read model's memo, across requests: facts by keptFactsKey. */
const keptFactsSlot = createMemoSlot<AccessFacts>("kept access facts");
/** In the read model's memo, across requests: the visible ones of some group ids, and until when, by keptVisibleKey. */
const keptVisibleSlot = createMemoSlot<VisibleGroupIds>("kept visible group ids");
/** In the read model's memo, across requests: CheckMembership's answers, frozen, by keptAnswerKey. */
const keptAnswerSlot = createMemoSlot<MembershipAnswer>("kept membership answers");

/** The caller's facts on one group (closure memoised per request). */
export function loadAccessFacts(
  ctx: AppContext,
  caller: Caller,
  group: GroupNode,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<AccessFacts> {
  // Keyed by etag too: facts on a group version the memo did not load are computed afresh.
  return memoized(memo, call, factsSlot, `${caller.principal} ${group.id} ${group.etag}`, factsLoader(ctx, caller, group, call, memo));
}

/**
 * loadAccessFacts' loader. Made by a function rather than bound to a name
 * there: under tsx, esbuild names every such closure with a property
 * definition, per call (with the snapshot's `factsOf` below, ~4% of the
 * service's CPU per CheckMembership in `npm run bench:rpc`).
 */
function factsLoader(
  ctx: AppContext,
  caller: Caller,
  group: GroupNode,
  call: StoreCall,
  memo: RequestMemo | undefined,
): () => Promise<AccessFacts> {
  return async () => {
    const kept = keptFactsOf(ctx, group, call);
    if (kept === undefined) return (await freshFacts(ctx, caller, group, call, memo)).facts;
    const key = keptFactsKey(caller, group);
    const found = kept.get(keptFactsSlot, key, ctx.clock().getTime());
    if (found !== undefined) return found;
    const generation = kept.generation();
    // Not the request memo's closure: one loaded before `generation` was read
    // could come from older facts and be kept as if it were current.
    const { facts, closure } = await freshFacts(ctx, caller, group, call, undefined);
    const access = accessOf(facts);
    keptAccesses.set(facts, Object.freeze({ ...access, permissions: Object.freeze(access.permissions) }));
    kept.set(keptFactsSlot, key, facts, { generation, validUntilMs: closure.validUntilMs, weight: 1 });
    return facts;
  };
}

/** The caller's facts on `group` computed now, with the closure they came from (through `memo`, when given). */
async function freshFacts(
  ctx: AppContext,
  caller: Caller,
  group: GroupNode,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<{ facts: AccessFacts; closure: PrincipalClosure }> {
  const [closure, ancestors] = await both(
    call,
    () => loadPrincipalClosure(ctx, caller.principal, call, memo),
    () => loadAncestors(ctx, [group], call),
  );
  return { facts: accessFactsOf(caller, group, closure, ancestors), closure };
}

/**
 * The read model's memo (facts-memo.ts), when the caller's facts on `group`
 * may be kept there across requests: read from the model, and not depending
 * on the clock or the token's auth_time (no authentication assurance
 * timeout; everything else in them is the model's facts and the closure's,
 * which hold until the model applies a change or the closure's
 * `validUntilMs`). Computing them on every call (a closure copy, an
 * ancestors read, two promise layers), with the visible path groups below,
 * cost CheckMembership ~30 µs of the service's CPU per call in
 * `npm run bench:rpc` (~170 → ~135 µs with both kept).
 */
function keptFactsOf(ctx: AppContext, group: GroupNode, call: StoreCall): FactsMemo | undefined {
  return group.authenticationAssuranceTimeout > 0 ? undefined : readsOf(ctx, call).facts;
}

/** Everything of the caller the kept values depend on: the principal and the token's isSystemAdmin (auth_time never: see keptFactsOf). */
function keptCallerKey(caller: Caller): string {
  return `${caller.principal}\n${String(caller.isSystemAdmin)}`;
}

/** Everything of the caller and the group the kept facts depend on (the group's version). */
function keptFactsKey(caller: Caller, group: GroupNode): string {
  return `${keptCallerKey(caller)}\n${group.id}\n${group.etag}`;
}

/** What a CheckMembership asks: is `principal` in `group` (directly, with `directOnly`)? */
export interface MembershipQuestion {
  readonly principal: string;
  readonly group: GroupNode;
  readonly directOnly: boolean;
}

/** Everything a kept answer to `question` depends on besides the model's facts: the caller (its path shows only groups it may see) and the question. */
function keptAnswerKey(caller: Caller, question: MembershipQuestion): string {
  return `${keptCallerKey(caller)}\n${question.principal}\n${question.group.id}\n${String(question.directOnly)}`;
}

/** A membership answer, and until when (epoch ms) it holds without a change: the first expiry among the memberships it rests on. */
export interface AnswerUntil {
  readonly answer: MembershipAnswer;
  readonly validUntilMs: number;
}

/**
 * CheckMembership's answer to `question` for `caller`, kept in the read
 * model's memo across requests by the same rules as the kept facts
 * (keptFactsOf: read from the model, never for a group with an
 * authentication assurance timeout, forgotten at every applied change, held
 * only until `validUntilMs`), and frozen, so the response made from it is
 * kept with it (src/convert/read-responses.ts). `answer` computes it: with
 * the request memo, or, when the answer is to be kept, with none (loads made
 * before the memo's generation was read could be older than it).
 * Recomputing the closure copy, the path, its visible groups and the
 * response's key on every call cost a repeated CheckMembership about someone
 * else ~5 µs of CPU per call in the handler alone (its gRPC handler called
 * in process, without HTTP/2: 19.7 → 14.9 µs, with the weighted LRU's
 * cheaper hits), and less garbage for every young collection.
 */
export function keptMembershipAnswer(
  ctx: AppContext,
  caller: Caller,
  question: MembershipQuestion,
  call: StoreCall,
  memo: RequestMemo | undefined,
  answer: (memo: RequestMemo | undefined) => Promise<AnswerUntil>,
): MembershipAnswer | Promise<MembershipAnswer> {
  const kept = keptFactsOf(ctx, question.group, call);
  if (kept === undefined) return answer(memo).then(answerOf);
  const key = keptAnswerKey(caller, question);
  const found = kept.get(keptAnswerSlot, key, ctx.clock().getTime());
  // The kept answer as it is: the caller's await takes it without a promise of this function's own.
  if (found !== undefined) return found;
  return keptAnswerMade(kept, key, answer);
}

function answerOf(made: AnswerUntil): MembershipAnswer {
  return made.answer;
}

/** A new answer, computed without the request memo and kept frozen (keptMembershipAnswer). */
async function keptAnswerMade(
  kept: FactsMemo,
  key: string,
  answer: (memo: RequestMemo | undefined) => Promise<AnswerUntil>,
): Promise<MembershipAnswer> {
  const generation = kept.generation();
  const made = await answer(undefined);
  const frozen = Object.freeze({ ...made.answer, path: Object.freeze([...made.answer.path]) });
  kept.set(keptAnswerSlot, key, frozen, { generation, validUntilMs: made.validUntilMs, weight: 1 });
  return frozen;
}

/** Everything the kept visible ones of `groupIds` depend on besides the model's facts. */
function keptVisibleKey(caller: Caller, groupIds: readonly string[]): string {
  return `${keptCallerKey(caller)}\n${groupIds.join("\n")}`;
}

/** A group by id, memoised for the request (reads outside transactions only). */
export function loadGroup(ctx: AppContext, id: string, call: StoreCall, memo: RequestMemo | undefined): Promise<GroupNode | undefined> {
  return memoized(memo, call, groupSlot, id, () => readsOf(ctx, call).groups.get(id, call));
}

/** The live group named `slug` in `namespace`, memoised for the request (reads outside transactions only). */
export function loadLiveGroupBySlug(
  ctx: AppContext,
  namespace: string,
  slug: string,
  call: StoreCall,
  memo: RequestMemo | undefined,
): Promise<GroupNode | undefined> {
  return memoized(memo, call, liveSlugSlot, `${namespace}\n${slug}`, () => readsOf(ctx, call).groups.getLiveBySlug(namespace, slug, call));
}

/**
 * Whether the closure's principal may create top-level groups: anyone when no
 * ROSTER_CREATOR_GROUP is configured, else its (transitive) members. System
 * administrators always may; the domain rules add that.
 */
export function isCreator(ctx: AppContext, closure: PrincipalClosure): boolean {
  return ctx.creatorGroupId === undefined || closure.roles.has(ctx.creatorGroupId);
}

/**
 * What the caller's access rests on, read now: its closure, and its facts on
 * each of `groups` (one closure walk and one ancestors query, whatever the
 * number of groups). For decisions that must use facts read at a given point
 * (inside a transaction, at the start of a batch chunk), so nothing memoised.
 */
export interface AccessSnapshot {
  readonly closure: PrincipalClosure;
  /** The caller's facts on a group given to `loadAccessSnapshot`; undefined for any other id. */
  factsOf(groupId: string): AccessFacts | undefined;
}

/** Loads an AccessSnapshot of `caller` on `groups` (see there). */
export async function loadAccessSnapshot(
  ctx: AppContext,
  caller: Caller,
  groups: readonly GroupNode[],
  call: StoreCall,
): Promise<AccessSnapshot> {
  const [closure, ancestors] = await both(
    call,
    () => loadPrincipalClosure(ctx, caller.principal, call, undefined),
    () => loadAncestors(ctx, groups, call),
  );
  const facts = new Map(groups.map((group) => [group.id, accessFactsOf(caller, group, closure, ancestors)]));
  return { closure, factsOf: lookupIn(facts) };
}

/** A lookup in `facts`, not an arrow in the literal above (see factsLoader). */
function lookupIn(facts: ReadonlyMap<string, AccessFacts>): (groupId: string) => AccessFacts | undefined {
  return (groupId) => facts.get(groupId);
}

/** Some group ids' visible ones, and until when (epoch ms) that holds without a change. */
export interface VisibleGroupIds {
  readonly visible: ReadonlySet<string>;
  /** The caller's closure's `validUntilMs`. */
  readonly validUntilMs: number;
}

/**
 * Which of `groupIds` the caller can see now (the domain's `canSeeGroup`):
 * for error messages built from stored data, which name only those.
 */
export async function loadVisibleGroupIds(
  ctx: AppContext,
  caller: Caller,
  groupIds: readonly string[],
  call: StoreCall,
): Promise<ReadonlySet<string>> {
  return (await loadVisibleGroupIdsUntil(ctx, caller, groupIds, call)).visible;
}

/**
 * loadVisibleGroupIds with the time its answer holds until. From the read
 * model, kept in its memo across requests (visibility does not depend on the
 * clock or the token's auth_time: no assurance in it), so a repeated
 * CheckMembership about someone else reads nothing to filter its path.
 */
export async function loadVisibleGroupIdsUntil(
  ctx: AppContext,
  caller: Caller,
  groupIds: readonly string[],
  call: StoreCall,
): Promise<VisibleGroupIds> {
  const kept = readsOf(ctx, call).facts;
  if (kept === undefined) return visibleAmong(ctx, caller, groupIds, call);
  const key = keptVisibleKey(caller, groupIds);
  const found = kept.get(keptVisibleSlot, key, ctx.clock().getTime());
  if (found !== undefined) return found;
  const generation = kept.generation();
  const visible = await visibleAmong(ctx, caller, groupIds, call);
  kept.set(keptVisibleSlot, key, visible, { generation, validUntilMs: visible.validUntilMs, weight: 1 });
  return visible;
}

/** The visible ones of `groupIds`, and until when (epoch ms) that holds without a change: the caller's closure's `validUntilMs`. */
async function visibleAmong(ctx: AppContext, caller: Caller, groupIds: readonly string[], call: StoreCall): Promise<VisibleGroupIds> {
  const groups = await readsOf(ctx, call).groups.getMany([...new Set(groupIds)], call);
  const snapshot = await loadAccessSnapshot(ctx, caller, groups, call);
  const visible = new Set(
    groups
      .filter((group) => {
        const facts = snapshot.factsOf(group.id);
        return facts !== undefined && canSeeGroup(facts);
      })
      .map((group) => group.id),
  );
  return { visible, validUntilMs: snapshot.closure.validUntilMs };
}

/**
 * Runs two loads concurrently outside transactions; inside one (a session is
 * set) sequentially, because a transaction's session must not carry
 * concurrent operations.
 */
export async function both<A, B>(call: StoreCall, a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> {
  if (call.session !== undefined) return [await a(), await b()];
  return Promise.all([a(), b()]);
}

/** The ancestors of all `groups`, fetched in one query. */
export async function loadAncestors(ctx: AppContext, groups: readonly GroupNode[], call: StoreCall): Promise<Map<string, GroupNode>> {
  const ids = new Set<string>();
  for (const group of groups) for (const id of group.ancestorIds) ids.add(id);
  const ancestors = new Map<string, GroupNode>();
  for (const ancestor of await readsOf(ctx, call).groups.getMany([...ids], call)) ancestors.set(ancestor.id, ancestor);
  return ancestors;
}
