/**
 * The `history` collection's documents (one per recorded change) and their
 * converters. Absent fields are left out rather than stored empty: a
 * membership change, the common record, is a small document, and a bulk
 * import writes one per member.
 */
import type { ObjectId } from "mongodb";
import type { ChangeDraft, ChangeKind, ChangeRecord, GroupFieldValues, RecordedGroupField } from "../domain/change-record.ts";
import type { GroupState, JoinPolicy, MemberVisibility, Role, Visibility } from "../domain/model.ts";
import { aclToDoc, labelsToDoc, type AclEntryDoc, type LabelDoc } from "./documents.ts";

export const historyCollection = "history";

/** The changed fields of a group change, as stored. */
export interface GroupFieldsDoc {
  namespace?: string;
  slug?: string;
  displayName?: string;
  description?: string;
  parentId?: string;
  /** An array, as in GroupDoc: label keys may contain dots. */
  labels?: LabelDoc[];
  visibility?: Visibility;
  memberVisibility?: MemberVisibility;
  joinPolicy?: JoinPolicy;
  signupFields?: string[];
  authenticationAssuranceTimeout?: number;
  state?: GroupState;
  acl?: AclEntryDoc[];
}

export interface HistoryDoc {
  /** Increases with time within a process: the tie-breaker of records of one commit (same time). */
  _id: ObjectId;
  time: Date;
  actor: string;
  kind: ChangeKind;
  groupId: string;
  namespace: string;
  member?: string;
  roleBefore?: Role;
  roleAfter?: Role;
  changedFields?: RecordedGroupField[];
  before?: GroupFieldsDoc;
  after?: GroupFieldsDoc;
  reason?: string;
  requestId?: string;
  method?: string;
  /** On the last record a transaction writes: its end, for readers of the change stream (transaction-end.ts). */
  endsCommit?: true;
}

function fieldsToDoc(values: GroupFieldValues): GroupFieldsDoc {
  const doc: GroupFieldsDoc = {};
  if (values.namespace !== undefined) doc.namespace = values.namespace;
  if (values.slug !== undefined) doc.slug = values.slug;
  if (values.displayName !== undefined) doc.displayName = values.displayName;
  if (values.description !== undefined) doc.description = values.description;
  if (values.parentId !== undefined) doc.parentId = values.parentId;
  if (values.labels !== undefined) doc.labels = labelsToDoc(values.labels);
  if (values.visibility !== undefined) doc.visibility = values.visibility;
  if (values.memberVisibility !== undefined) doc.memberVisibility = values.memberVisibility;
  if (values.joinPolicy !== undefined) doc.joinPolicy = values.joinPolicy;
  if (values.signupFields !== undefined) doc.signupFields = [...values.signupFields];
  if (values.authenticationAssuranceTimeout !== undefined) doc.authenticationAssuranceTimeout = values.authenticationAssuranceTimeout;
  if (values.state !== undefined) doc.state = values.state;
  if (values.acl !== undefined) doc.acl = aclToDoc(values.acl);
  return doc;
}

function fieldsFromDoc(doc: GroupFieldsDoc): GroupFieldValues {
  const values: { -readonly [K in keyof GroupFieldValues]: GroupFieldValues[K] } = {};
  if (doc.namespace !== undefined) values.namespace = doc.namespace;
  if (doc.slug !== undefined) values.slug = doc.slug;
  if (doc.displayName !== undefined) values.displayName = doc.displayName;
  if (doc.description !== undefined) values.description = doc.description;
  if (doc.parentId !== undefined) values.parentId = doc.parentId;
  if (doc.labels !== undefined) values.labels = Object.fromEntries(doc.labels.map((label) => [label.key, label.value]));
  if (doc.visibility !== undefined) values.visibility = doc.visibility;
  if (doc.memberVisibility !== undefined) values.memberVisibility = doc.memberVisibility;
  if (doc.joinPolicy !== undefined) values.joinPolicy = doc.joinPolicy;
  if (doc.signupFields !== undefined) values.signupFields = doc.signupFields;
  if (doc.authenticationAssuranceTimeout !== undefined) values.authenticationAssuranceTimeout = doc.authenticationAssuranceTimeout;
  if (doc.state !== undefined) values.state = doc.state;
  if (doc.acl !== undefined) values.acl = doc.acl.map((entry) => ({ principal: entry.principal, permission: entry.permission }));
  return values;
}

/** The document of a draft, with the id storage gives it. */
export function historyToDoc(draft: ChangeDraft, id: ObjectId): HistoryDoc {
  const doc: HistoryDoc = {
    _id: id,
    time: draft.time,
    actor: draft.actor,
    kind: draft.kind,
    groupId: draft.groupId,
    namespace: draft.namespace,
  };
  if (draft.member !== undefined) doc.member = draft.member;
  if (draft.roleBefore !== undefined) doc.roleBefore = draft.roleBefore;
  if (draft.roleAfter !== undefined) doc.roleAfter = draft.roleAfter;
  if (draft.changedFields.length > 0) doc.changedFields = [...draft.changedFields];
  if (draft.before !== undefined) doc.before = fieldsToDoc(draft.before);
  if (draft.after !== undefined) doc.after = fieldsToDoc(draft.after);
  if (draft.reason !== "") doc.reason = draft.reason;
  if (draft.requestId !== "") doc.requestId = draft.requestId;
  if (draft.method !== "") doc.method = draft.method;
  return doc;
}

export function historyFromDoc(doc: HistoryDoc): ChangeRecord {
  return {
    id: doc._id.toHexString(),
    kind: doc.kind,
    time: doc.time,
    actor: doc.actor,
    groupId: doc.groupId,
    namespace: doc.namespace,
    member: doc.member,
    roleBefore: doc.roleBefore,
    roleAfter: doc.roleAfter,
    changedFields: doc.changedFields ?? [],
    before: doc.before === undefined ? undefined : fieldsFromDoc(doc.before),
    after: doc.after === undefined ? undefined : fieldsFromDoc(doc.after),
    reason: doc.reason ?? "",
    requestId: doc.requestId ?? "",
    method: doc.method ?? "",
  };
}
