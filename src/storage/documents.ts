/**
 * The shapes of Roster's MongoDB documents and the converters between them
 * and the domain records. Only storage sees documents; the app sees records.
 *
 * Groups carry two derived fields the domain does not: `ancestorIds` (the
 * parent chain, root first, maintained on create and re-parenting) so that
 * "MANAGE on any ancestor" and "descendants of a group" are single indexed
 * queries, and `sortName` (lower-cased display name) for case-insensitive
 * ordering. `membershipVersion` and `childVersion` are bumped by membership
 * and child-group changes so that concurrent transactions which must not both
 * succeed (last-admin removal, a child created while its parent is deleted)
 * write the same document and conflict.
 */
import { ObjectId } from "mongodb";
import type {
  AclEntry,
  GrantablePermission,
  GroupRecord,
  GroupState,
  JoinPolicy,
  MemberVisibility,
  MembershipRecord,
  Role,
  Visibility,
} from "../domain/model.ts";

export const collectionNames = {
  groups: "groups",
  memberships: "memberships",
  groupRequests: "group_requests",
  locks: "roster_locks",
} as const;

export interface LabelDoc {
  key: string;
  value: string;
}

export interface AclEntryDoc {
  principal: string;
  permission: GrantablePermission;
}

export interface GroupDoc {
  _id: string;
  namespace: string;
  slug: string;
  displayName: string;
  sortName: string;
  description: string;
  parentId: string;
  ancestorIds: string[];
  depth: number;
  /** An array, not an object: label keys may contain dots, which MongoDB paths cannot address. */
  labels: LabelDoc[];
  visibility: Visibility;
  memberVisibility: MemberVisibility;
  /** Absent: CLOSED (groups stored before join policies existed need no migration). */
  joinPolicy?: JoinPolicy;
  /** Absent: none. */
  signupFields?: string[];
  /** Absent: 0 (off). */
  authenticationAssuranceTimeout?: number;
  state: GroupState;
  memberCount: number;
  acl: AclEntryDoc[];
  createTime: Date;
  updateTime: Date;
  deleteTime?: Date;
  createdBy: string;
  updatedBy: string;
  etag: string;
  membershipVersion: number;
  childVersion: number;
}

/**
 * A direct membership. `status` absent means ACTIVE and `expireTime` absent
 * means it never expires, so memberships stored before either existed need
 * no migration; `message` and `fields` (signup field values, an array
 * because field names become document paths nowhere) only when set.
 */
export interface MembershipDoc {
  _id?: ObjectId;
  groupId: string;
  member: string;
  role: Role;
  createTime: Date;
  updateTime: Date;
  createdBy: string;
  status?: "INVITED" | "REQUESTED";
  expireTime?: Date;
  message?: string;
  fields?: FieldDoc[];
}

export interface FieldDoc {
  name: string;
  value: string;
}

/** Idempotency record of CreateGroup: `_id` is "<caller principal> <request id>". */
export interface GroupRequestDoc {
  _id: string;
  groupId: string;
  createTime: Date;
}

export interface LockDoc {
  _id: string;
  version: number;
}

/** A group as storage returns it: the domain record plus its parent chain. */
export interface GroupNode extends GroupRecord {
  /** Ancestor ids, root first, ending with `parentId` ("" parent → empty). */
  readonly ancestorIds: readonly string[];
}

/** The lower-cased display name used for ordering (and its keyset tokens). */
export function sortNameOf(displayName: string): string {
  return displayName.toLowerCase();
}

export function labelsToDoc(labels: Readonly<Record<string, string>>): LabelDoc[] {
  return Object.keys(labels)
    .sort()
    .map((key) => ({ key, value: labels[key] ?? "" }));
}

export function aclToDoc(acl: readonly AclEntry[]): AclEntryDoc[] {
  return acl.map((entry) => ({ principal: entry.principal, permission: entry.permission }));
}

export function groupFromDoc(doc: GroupDoc): GroupNode {
  const labels: Record<string, string> = {};
  for (const label of doc.labels) labels[label.key] = label.value;
  return {
    id: doc._id,
    namespace: doc.namespace,
    slug: doc.slug,
    displayName: doc.displayName,
    description: doc.description,
    parentId: doc.parentId,
    labels,
    visibility: doc.visibility,
    memberVisibility: doc.memberVisibility,
    joinPolicy: doc.joinPolicy ?? "CLOSED",
    signupFields: [...(doc.signupFields ?? [])],
    authenticationAssuranceTimeout: doc.authenticationAssuranceTimeout ?? 0,
    state: doc.state,
    memberCount: doc.memberCount,
    acl: doc.acl.map((entry) => ({ principal: entry.principal, permission: entry.permission })),
    createTime: doc.createTime,
    updateTime: doc.updateTime,
    deleteTime: doc.deleteTime,
    createdBy: doc.createdBy,
    updatedBy: doc.updatedBy,
    etag: doc.etag,
    ancestorIds: [...doc.ancestorIds],
  };
}

export function groupToDoc(group: GroupNode): GroupDoc {
  const doc: GroupDoc = {
    _id: group.id,
    namespace: group.namespace,
    slug: group.slug,
    displayName: group.displayName,
    sortName: sortNameOf(group.displayName),
    description: group.description,
    parentId: group.parentId,
    ancestorIds: [...group.ancestorIds],
    depth: group.ancestorIds.length,
    labels: labelsToDoc(group.labels),
    visibility: group.visibility,
    memberVisibility: group.memberVisibility,
    state: group.state,
    memberCount: group.memberCount,
    acl: aclToDoc(group.acl),
    createTime: group.createTime,
    updateTime: group.updateTime,
    createdBy: group.createdBy,
    updatedBy: group.updatedBy,
    etag: group.etag,
    membershipVersion: 0,
    childVersion: 0,
  };
  if (group.deleteTime !== undefined) doc.deleteTime = group.deleteTime;
  if (group.joinPolicy !== "CLOSED") doc.joinPolicy = group.joinPolicy;
  if (group.signupFields.length > 0) doc.signupFields = [...group.signupFields];
  if (group.authenticationAssuranceTimeout > 0) doc.authenticationAssuranceTimeout = group.authenticationAssuranceTimeout;
  return doc;
}

/** Strips storage-only fields, for values leaving the app. */
export function groupRecordOf(node: GroupNode): GroupRecord {
  const { ancestorIds: _ancestors, ...record } = node;
  return record;
}

/** Records made by `keptGroupRecordOf`, by the node they were made from. */
const keptRecords = new WeakMap<GroupNode, GroupRecord>();

/**
 * `groupRecordOf`, the same object for as long as `node` lives: the read
 * model replaces a group's node whenever the group changes, so the record's
 * identity stands for the version read, and GetGroup keeps its response by
 * it (src/convert/read-responses.ts). Weak: it goes with the node.
 */
export function keptGroupRecordOf(node: GroupNode): GroupRecord {
  let record = keptRecords.get(node);
  if (record === undefined) keptRecords.set(node, (record = groupRecordOf(node)));
  return record;
}

export function membershipFromDoc(doc: MembershipDoc): MembershipRecord {
  const record: { -readonly [K in keyof MembershipRecord]: MembershipRecord[K] } = {
    groupId: doc.groupId,
    member: doc.member,
    role: doc.role,
    createTime: doc.createTime,
    updateTime: doc.updateTime,
    createdBy: doc.createdBy,
  };
  if (doc.status !== undefined) record.status = doc.status;
  if (doc.expireTime !== undefined) record.expireTime = doc.expireTime;
  if (doc.message !== undefined) record.message = doc.message;
  if (doc.fields !== undefined) record.fields = Object.fromEntries(doc.fields.map((field) => [field.name, field.value]));
  return record;
}

/**
 * A membership with the id of its document (change events name a changed or
 * removed membership by it alone), status and expiry included: whether it
 * confers anything is decided at each read (domain/membership-status.ts).
 */
export interface StoredMembership extends MembershipRecord {
  readonly id: string;
}

/** The string form of a document id (an ObjectId's hex), as change events' document keys are matched on. */
export function documentIdOf(id: unknown): string {
  return id instanceof ObjectId ? id.toHexString() : JSON.stringify(id);
}

export function storedMembershipFromDoc(doc: MembershipDoc): StoredMembership {
  return { ...membershipFromDoc(doc), id: documentIdOf(doc._id) };
}

/** The document of a stored membership (without its `_id`): what an update event is applied to. */
export function storedMembershipToDoc(membership: StoredMembership): MembershipDoc {
  return membershipToDoc(membership);
}

export function membershipToDoc(membership: MembershipRecord): MembershipDoc {
  const doc: MembershipDoc = {
    groupId: membership.groupId,
    member: membership.member,
    role: membership.role,
    createTime: membership.createTime,
    updateTime: membership.updateTime,
    createdBy: membership.createdBy,
  };
  if (membership.status !== undefined) doc.status = membership.status;
  if (membership.expireTime !== undefined) doc.expireTime = membership.expireTime;
  if (membership.message !== undefined && membership.message !== "") doc.message = membership.message;
  const fields = Object.entries(membership.fields ?? {});
  if (fields.length > 0) doc.fields = fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value }));
  return doc;
}
