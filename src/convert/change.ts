/** Change records and feed positions between the domain and protobuf. */
import { create } from "@bufbuild/protobuf";
import type { FeedMessage } from "../app/index.ts";
import type { ChangeKind as DomainChangeKind, ChangeRecord, GroupFieldValues } from "../domain/change-record.ts";
import { ChangeKind, ChangeSchema, GroupFieldsSchema, type Change, type GroupFields } from "../../gen/roster/v1/change_pb.ts";
import { WatchChangesResponseSchema, type WatchChangesResponse } from "../../gen/roster/v1/change_service_pb.ts";
import { groupStateToProto, joinPolicyToProto, memberVisibilityToProto, roleToProto, visibilityToProto } from "./enums.ts";
import { aclEntryToProto } from "./group.ts";
import { timestampOf } from "./timestamps.ts";

const kinds: Readonly<Record<DomainChangeKind, ChangeKind>> = {
  group_created: ChangeKind.GROUP_CREATED,
  group_updated: ChangeKind.GROUP_UPDATED,
  group_deleted: ChangeKind.GROUP_DELETED,
  group_undeleted: ChangeKind.GROUP_UNDELETED,
  group_acl_changed: ChangeKind.GROUP_ACL_CHANGED,
  member_added: ChangeKind.MEMBER_ADDED,
  member_removed: ChangeKind.MEMBER_REMOVED,
  member_role_changed: ChangeKind.MEMBER_ROLE_CHANGED,
  member_invited: ChangeKind.MEMBER_INVITED,
  join_requested: ChangeKind.JOIN_REQUESTED,
  pending_membership_removed: ChangeKind.PENDING_MEMBERSHIP_REMOVED,
  member_expire_time_changed: ChangeKind.MEMBER_EXPIRE_TIME_CHANGED,
};

function groupFieldsToProto(values: GroupFieldValues | undefined): GroupFields | undefined {
  if (values === undefined) return undefined;
  const { visibility, memberVisibility, joinPolicy, signupFields, authenticationAssuranceTimeout } = values;
  const policies =
    visibility === undefined &&
    memberVisibility === undefined &&
    joinPolicy === undefined &&
    signupFields === undefined &&
    authenticationAssuranceTimeout === undefined
      ? undefined
      : {
          ...(visibility === undefined ? {} : { visibility: visibilityToProto(visibility) }),
          ...(memberVisibility === undefined ? {} : { memberVisibility: memberVisibilityToProto(memberVisibility) }),
          ...(joinPolicy === undefined ? {} : { joinPolicy: joinPolicyToProto(joinPolicy) }),
          ...(signupFields === undefined ? {} : { signupFields: [...signupFields] }),
          ...(authenticationAssuranceTimeout === undefined ? {} : { authenticationAssuranceTimeout }),
        };
  return create(GroupFieldsSchema, {
    namespace: values.namespace ?? "",
    slug: values.slug ?? "",
    displayName: values.displayName ?? "",
    description: values.description ?? "",
    parentId: values.parentId ?? "",
    labels: { ...values.labels },
    ...(policies === undefined ? {} : { policies }),
    ...(values.state === undefined ? {} : { state: groupStateToProto(values.state) }),
    acl: (values.acl ?? []).map(aclEntryToProto),
  });
}

/** A recorded change as the proto Change clients receive. */
export function changeToProto(record: ChangeRecord): Change {
  return create(ChangeSchema, {
    id: record.id,
    kind: kinds[record.kind],
    time: timestampOf(record.time),
    actor: record.actor,
    groupId: record.groupId,
    namespace: record.namespace,
    member: record.member ?? "",
    roleBefore: roleToProto(record.roleBefore),
    roleAfter: roleToProto(record.roleAfter),
    changedFields: [...record.changedFields],
    before: groupFieldsToProto(record.before),
    after: groupFieldsToProto(record.after),
    reason: record.reason,
    requestId: record.requestId,
    method: record.method,
  });
}

/** One message of a watch as proto. */
export function feedMessageToProto(message: FeedMessage): WatchChangesResponse {
  if (message.kind === "change") {
    return create(WatchChangesResponseSchema, { event: { case: "change", value: changeToProto(message.change) }, token: message.token });
  }
  return create(WatchChangesResponseSchema, { event: { case: "checkpoint", value: {} }, token: message.token });
}
