/**
 * Queries and writes on the `groups` collection. Read methods return
 * `GroupNode`s (domain record plus parent chain); write methods take the
 * StoreCall of the enclosing transaction. No access rules here: the app
 * decides what to ask for, this module only knows how to ask.
 */
import type { Collection, Filter, Sort, UpdateFilter } from "mongodb";
import type { Database } from "./database.ts";
import type { AclEntry, GroupState, JoinPolicy, MemberVisibility, Visibility } from "../domain/model.ts";
import {
  aclToDoc,
  collectionNames,
  groupFromDoc,
  groupToDoc,
  labelsToDoc,
  sortNameOf,
  type GroupDoc,
  type GroupNode,
} from "./documents.ts";
import { compareByCodePoint } from "../domain/text-length.ts";
import { driverCall } from "./driver-errors.ts";
import { operationOptions, type StoreCall } from "./store-call.ts";
import { graphWriteOptions } from "./transaction-end.ts";

/** The fields a group change may set; `deleteTime: null` removes it. */
export interface GroupChanges {
  readonly displayName?: string;
  readonly description?: string;
  readonly parentId?: string;
  readonly ancestorIds?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly visibility?: Visibility;
  readonly memberVisibility?: MemberVisibility;
  readonly joinPolicy?: JoinPolicy;
  readonly signupFields?: readonly string[];
  readonly authenticationAssuranceTimeout?: number;
  readonly state?: GroupState;
  readonly deleteTime?: Date | null;
  readonly acl?: readonly AclEntry[];
  readonly updateTime: Date;
  readonly updatedBy: string;
  readonly etag: string;
}

/**
 * Which groups a ListGroups caller may see, as id sets computed by the app
 * from the caller's closure. `undefined` scope fields mean "no such grant".
 */
export type GroupScope =
  | { readonly kind: "everything" }
  | {
      readonly kind: "caller";
      /** Live groups the caller is a (transitive) member of. */
      readonly memberOfIds: readonly string[];
      /** The caller and the groups it is in, as ACL principals. */
      readonly principals: readonly string[];
      /** ACL entries to those principals count with these permissions only; undefined = any. */
      readonly aclPermissions: readonly AclEntry["permission"][] | undefined;
      /** Live groups the caller manages directly (ADMIN role or ACL MANAGE): their descendants are managed too. */
      readonly manageRootIds: readonly string[];
      /** Deleted groups the caller is a (transitive) ADMIN of. */
      readonly deletedAdminOfIds: readonly string[];
      /** Whether groups with visibility AUTHENTICATED are in scope. */
      readonly authenticatedVisible: boolean;
    };

export interface GroupListCriteria {
  readonly scope: GroupScope;
  readonly includeDeleted: boolean;
  /** undefined = every namespace. */
  readonly namespace: string | undefined;
  /** undefined = any level; "" = top level. */
  readonly parentId: string | undefined;
  /** Case-insensitive substring of slug, display name or description; "" = any. */
  readonly text: string;
  /** Only these groups; undefined = no such restriction. */
  readonly ids?: readonly string[] | undefined;
}

export type GroupSortField = "sortName" | "createTime";

export interface GroupListOrder {
  readonly field: GroupSortField;
  readonly descending: boolean;
}

/** A keyset position: the sort key and id of the last group of the previous page. */
export interface GroupKeyset {
  readonly key: string | Date;
  readonly id: string;
}

export interface GroupStore {
  get(id: string, call: StoreCall): Promise<GroupNode | undefined>;
  /** The groups among `ids` that exist, in no particular order. */
  getMany(ids: readonly string[], call: StoreCall): Promise<GroupNode[]>;
  getLiveBySlug(namespace: string, slug: string, call: StoreCall): Promise<GroupNode | undefined>;
  /** The state of each existing group among `ids` (a projection: cheap for graph walks). */
  statesOf(ids: readonly string[], call: StoreCall): Promise<Map<string, GroupState>>;
  /** Inserts a new group; already_exists when its slug is live in its namespace. */
  insert(group: GroupNode, call: StoreCall): Promise<void>;
  /**
   * Applies `changes` if the stored etag still equals `current.etag`.
   * Returns the new group, or undefined when it changed meanwhile (or is gone).
   * already_exists when the change makes a slug live twice (undelete).
   */
  applyChanges(current: GroupNode, changes: GroupChanges, call: StoreCall): Promise<GroupNode | undefined>;
  /** Adds `delta` to member_count and bumps the membership version (serialises membership changes per group). */
  bumpMembership(id: string, delta: number, call: StoreCall): Promise<void>;
  /** Bumps the child version: makes child creation conflict with a concurrent delete of the parent. */
  touchChildren(id: string, call: StoreCall): Promise<void>;
  countLiveChildren(id: string, call: StoreCall): Promise<number>;
  /** The largest ancestor-chain length among `id`'s descendants (0 when it has none). */
  maxDescendantDepth(id: string, call: StoreCall): Promise<number>;
  /**
   * Rewrites the parent chains below `rootId` after its own chain became
   * `rootAncestors`: one query and one update per level of the subtree.
   */
  rewriteDescendantChains(rootId: string, rootAncestors: readonly string[], call: StoreCall): Promise<void>;
  /** Ids of live groups whose ACL grants `permission` (any when undefined) to one of `principals`. */
  idsGrantingTo(principals: readonly string[], permission: "MANAGE" | undefined, call: StoreCall): Promise<string[]>;
  /** One keyset page (at most `limit` groups) after `after`. */
  listPage(
    criteria: GroupListCriteria,
    order: GroupListOrder,
    after: GroupKeyset | undefined,
    limit: number,
    call: StoreCall,
  ): Promise<GroupNode[]>;
  count(criteria: GroupListCriteria, call: StoreCall): Promise<number>;
}

/** The already_exists message of a slug clash. */
export function slugTakenMessage(namespace: string, slug: string): string {
  const where = namespace === "" ? "the global namespace" : `namespace "${namespace}"`;
  return `a live group with slug "${slug}" already exists in ${where}`;
}

/** Escapes a user string for use inside a regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function createGroupStore({ db }: Database): GroupStore {
  const groups: Collection<GroupDoc> = db.collection<GroupDoc>(collectionNames.groups);

  const store: GroupStore = {
    async get(id, call) {
      const doc = await driverCall(() => groups.findOne({ _id: id }, operationOptions(call)));
      return doc === null ? undefined : groupFromDoc(doc);
    },

    async getMany(ids, call) {
      if (ids.length === 0) return [];
      const docs = await driverCall(() => groups.find({ _id: { $in: [...ids] } }, operationOptions(call)).toArray());
      return docs.map(groupFromDoc);
    },

    async getLiveBySlug(namespace, slug, call) {
      const doc = await driverCall(() => groups.findOne({ namespace, slug, state: "ACTIVE" }, operationOptions(call)));
      return doc === null ? undefined : groupFromDoc(doc);
    },

    async statesOf(ids, call) {
      const states = new Map<string, GroupState>();
      if (ids.length === 0) return states;
      const docs = await driverCall(() =>
        groups.find({ _id: { $in: [...ids] } }, { ...operationOptions(call), projection: { _id: 1, state: 1 } }).toArray(),
      );
      for (const doc of docs) states.set(doc._id, doc.state);
      return states;
    },

    async insert(group, call) {
      await driverCall(() => groups.insertOne(groupToDoc(group), graphWriteOptions(call)), slugTakenMessage(group.namespace, group.slug));
    },

    async applyChanges(current, changes, call) {
      const set: Partial<GroupDoc> = {
        updateTime: changes.updateTime,
        updatedBy: changes.updatedBy,
        etag: changes.etag,
      };
      const update: UpdateFilter<GroupDoc> = { $set: set };
      if (changes.displayName !== undefined) {
        set.displayName = changes.displayName;
        set.sortName = sortNameOf(changes.displayName);
      }
      if (changes.description !== undefined) set.description = changes.description;
      if (changes.parentId !== undefined) set.parentId = changes.parentId;
      if (changes.ancestorIds !== undefined) {
        set.ancestorIds = [...changes.ancestorIds];
        set.depth = changes.ancestorIds.length;
      }
      if (changes.labels !== undefined) set.labels = labelsToDoc(changes.labels);
      if (changes.visibility !== undefined) set.visibility = changes.visibility;
      if (changes.memberVisibility !== undefined) set.memberVisibility = changes.memberVisibility;
      if (changes.joinPolicy !== undefined) set.joinPolicy = changes.joinPolicy;
      if (changes.signupFields !== undefined) set.signupFields = [...changes.signupFields];
      if (changes.authenticationAssuranceTimeout !== undefined) set.authenticationAssuranceTimeout = changes.authenticationAssuranceTimeout;
      if (changes.state !== undefined) set.state = changes.state;
      if (changes.acl !== undefined) set.acl = aclToDoc(changes.acl);
      if (changes.deleteTime === null) update.$unset = { deleteTime: "" };
      else if (changes.deleteTime !== undefined) set.deleteTime = changes.deleteTime;
      const doc = await driverCall(
        () =>
          groups.findOneAndUpdate({ _id: current.id, etag: current.etag }, update, {
            ...graphWriteOptions(call),
            returnDocument: "after",
          }),
        slugTakenMessage(current.namespace, current.slug),
      );
      return doc === null ? undefined : groupFromDoc(doc);
    },

    async bumpMembership(id, delta, call) {
      await driverCall(() =>
        groups.updateOne({ _id: id }, { $inc: { memberCount: delta, membershipVersion: 1 } }, graphWriteOptions(call)),
      );
    },

    async touchChildren(id, call) {
      await driverCall(() => groups.updateOne({ _id: id }, { $inc: { childVersion: 1 } }, graphWriteOptions(call)));
    },

    async countLiveChildren(id, call) {
      return driverCall(() => groups.countDocuments({ parentId: id, state: "ACTIVE" }, operationOptions(call)));
    },

    async maxDescendantDepth(id, call) {
      const deepest = await driverCall(() =>
        groups.findOne({ ancestorIds: id }, { ...operationOptions(call), sort: { depth: -1 }, projection: { _id: 1, depth: 1 } }),
      );
      return deepest === null ? 0 : deepest.depth;
    },

    async rewriteDescendantChains(rootId, rootAncestors, call) {
      let frontier = new Map<string, readonly string[]>([[rootId, [...rootAncestors, rootId]]]);
      // Chains are at most 32 long, so the subtree has at most 33 levels; the
      // bound only guards against a corrupted (cyclic) parent graph.
      for (let level = 0; frontier.size > 0 && level <= 64; level++) {
        const parents = [...frontier.keys()];
        const children = await driverCall(() =>
          groups.find({ parentId: { $in: parents } }, { ...operationOptions(call), projection: { _id: 1, parentId: 1 } }).toArray(),
        );
        for (const [parentId, chain] of frontier) {
          await driverCall(() =>
            groups.updateMany({ parentId }, { $set: { ancestorIds: [...chain], depth: chain.length } }, graphWriteOptions(call)),
          );
        }
        const next = new Map<string, readonly string[]>();
        for (const child of children) {
          const chain = frontier.get(child.parentId);
          if (chain !== undefined) next.set(child._id, [...chain, child._id]);
        }
        frontier = next;
      }
    },

    async idsGrantingTo(principals, permission, call) {
      if (principals.length === 0) return [];
      const filter: Filter<GroupDoc> =
        permission === undefined
          ? { "acl.principal": { $in: [...principals] }, state: "ACTIVE" }
          : { acl: { $elemMatch: { principal: { $in: [...principals] }, permission } }, state: "ACTIVE" };
      const docs = await driverCall(() => groups.find(filter, { ...operationOptions(call), projection: { _id: 1 } }).toArray());
      return docs.map((doc) => doc._id);
    },

    async listPage(criteria, order, after, limit, call) {
      const direction = order.descending ? -1 : 1;
      const sort: Sort = order.field === "sortName" ? { sortName: direction, _id: direction } : { createTime: direction, _id: direction };
      const clauses = criteriaClauses(criteria);
      if (after !== undefined) clauses.push(keysetClause(order, after));
      const docs = await driverCall(() => groups.find({ $and: clauses }, { ...operationOptions(call), sort, limit }).toArray());
      return docs.map(groupFromDoc);
    },

    async count(criteria, call) {
      return driverCall(() => groups.countDocuments({ $and: criteriaClauses(criteria) }, operationOptions(call)));
    },
  };
  return store;
}

/**
 * The filter of a ListGroups request without its keyset position. The scope
 * is expressed in the query itself (an `$or` of indexed id sets and the
 * AUTHENTICATED visibility), so non-admin callers never page through groups
 * they cannot see.
 */
function criteriaClauses(criteria: GroupListCriteria): Filter<GroupDoc>[] {
  const clauses: Filter<GroupDoc>[] = [scopeClause(criteria.scope, criteria.includeDeleted)];
  if (criteria.namespace !== undefined) clauses.push({ namespace: criteria.namespace });
  if (criteria.parentId !== undefined) clauses.push({ parentId: criteria.parentId });
  if (criteria.ids !== undefined) clauses.push({ _id: { $in: [...criteria.ids] } });
  if (criteria.text !== "") {
    const pattern = escapeRegex(criteria.text);
    clauses.push({
      $or: [
        { slug: { $regex: pattern, $options: "i" } },
        { displayName: { $regex: pattern, $options: "i" } },
        { description: { $regex: pattern, $options: "i" } },
      ],
    });
  }
  return clauses;
}

function scopeClause(scope: GroupScope, includeDeleted: boolean): Filter<GroupDoc> {
  if (scope.kind === "everything") return includeDeleted ? {} : { state: "ACTIVE" };
  const acl: Filter<GroupDoc> =
    scope.aclPermissions === undefined
      ? { "acl.principal": { $in: [...scope.principals] } }
      : { acl: { $elemMatch: { principal: { $in: [...scope.principals] }, permission: { $in: [...scope.aclPermissions] } } } };
  const live: Filter<GroupDoc> = {
    state: "ACTIVE",
    $or: [
      { _id: { $in: [...scope.memberOfIds] } },
      acl,
      { ancestorIds: { $in: [...scope.manageRootIds] } },
      ...(scope.authenticatedVisible ? [{ visibility: "AUTHENTICATED" as const }] : []),
    ],
  };
  if (!includeDeleted) return live;
  const deleted: Filter<GroupDoc> = {
    state: "DELETED",
    $or: [
      { _id: { $in: [...scope.deletedAdminOfIds] } },
      { acl: { $elemMatch: { principal: { $in: [...scope.principals] }, permission: "MANAGE" } } },
      { ancestorIds: { $in: [...scope.manageRootIds] } },
    ],
  };
  return { $or: [live, deleted] };
}

/** Strictly after (key, id) in the sort order: key beyond, or the same key and a later id. */
function keysetClause(order: GroupListOrder, after: GroupKeyset): Filter<GroupDoc> {
  const beyond = order.descending ? "$lt" : "$gt";
  const field = order.field;
  return {
    $or: [{ [field]: { [beyond]: after.key } }, { [field]: after.key, _id: { [beyond]: after.id } }],
  };
}

/*
 * The same ListGroups filters and order evaluated on a group in memory (the
 * read model's listing), next to the query they mirror so that the two stay
 * one definition: `criteriaClauses` without the scope, `listPage`'s sort and
 * `keysetClause`.
 */

/** The test of `criteria`'s filters other than the scope (state, namespace, parent, ids, text) on a group. */
export function listFilterOf(criteria: GroupListCriteria): (group: GroupNode) => boolean {
  const pattern = criteria.text === "" ? undefined : new RegExp(escapeRegex(criteria.text), "i");
  const ids = criteria.ids === undefined ? undefined : new Set(criteria.ids);
  return (group) =>
    (group.state === "ACTIVE" || criteria.includeDeleted) &&
    (ids === undefined || ids.has(group.id)) &&
    (criteria.namespace === undefined || group.namespace === criteria.namespace) &&
    (criteria.parentId === undefined || group.parentId === criteria.parentId) &&
    (pattern === undefined || pattern.test(group.slug) || pattern.test(group.displayName) || pattern.test(group.description));
}

/** A group's position in a listing order: its sort key (lower-cased name, or create time in ms) and id. */
export interface ListPosition {
  readonly key: string | number;
  readonly id: string;
}

/** The position of `group` in `order`. */
export function listPositionOf(group: GroupNode, order: GroupListOrder): ListPosition {
  return { key: order.field === "sortName" ? sortNameOf(group.displayName) : group.createTime.getTime(), id: group.id };
}

/** The position of a keyset (the last group of a page) in `order`. */
export function keysetPosition(after: GroupKeyset): ListPosition {
  return { key: after.key instanceof Date ? after.key.getTime() : after.key, id: after.id };
}

/** Compares positions in ascending order, as the store's indexes do (strings by code point). */
export function compareListPositions(a: ListPosition, b: ListPosition): number {
  const byKey = typeof a.key === "number" && typeof b.key === "number" ? a.key - b.key : compareByCodePoint(String(a.key), String(b.key));
  return byKey !== 0 ? byKey : compareByCodePoint(a.id, b.id);
}
