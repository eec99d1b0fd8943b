/**
 * Groups between protobuf and the domain: `groupToProto` for responses, and
 * the request parsers that turn a proto Group into the app's plain inputs.
 * Field names in errors are the proto paths the client sent ("group.policies.visibility").
 */
import { create, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { CallerAccess as AppCallerAccess, GroupInput, GroupUpdate, GroupUpdatePath, GroupValues } from "../app/index.ts";
import { invalidArgument } from "../domain/errors.ts";
import type { AclEntry as DomainAclEntry, GroupRecord } from "../domain/model.ts";
import {
  AclEntrySchema,
  CallerAccessSchema,
  GroupSchema,
  JoinPolicy as ProtoJoinPolicy,
  MemberVisibility as ProtoMemberVisibility,
  Visibility as ProtoVisibility,
  type AclEntry,
  type CallerAccess,
  type Group,
} from "../../gen/roster/v1/group_pb.ts";
import { UpdateGroupRequestSchema, type InitialMember, type UpdateGroupRequest } from "../../gen/roster/v1/group_service_pb.ts";
import {
  grantablePermissionFromProto,
  groupStateToProto,
  joinPolicyFromProto,
  joinPolicyToProto,
  memberVisibilityFromProto,
  memberVisibilityToProto,
  permissionToProto,
  roleFromProto,
  roleToProto,
  visibilityFromProto,
  visibilityToProto,
} from "./enums.ts";
import { timestampOf } from "./timestamps.ts";

/** The update_mask paths UpdateGroup accepts, in the order the proto documents them. */
export const groupUpdatePaths: readonly GroupUpdatePath[] = [
  "display_name",
  "description",
  "labels",
  "policies",
  "policies.visibility",
  "policies.member_visibility",
  "policies.join_policy",
  "policies.signup_fields",
  "policies.authentication_assurance_timeout",
  "parent_id",
];

/** A stored group as the proto message clients receive. */
export function groupToProto(group: GroupRecord): Group {
  return create(GroupSchema, {
    id: group.id,
    namespace: group.namespace,
    slug: group.slug,
    displayName: group.displayName,
    description: group.description,
    parentId: group.parentId,
    labels: { ...group.labels },
    policies: {
      visibility: visibilityToProto(group.visibility),
      memberVisibility: memberVisibilityToProto(group.memberVisibility),
      joinPolicy: joinPolicyToProto(group.joinPolicy),
      signupFields: [...group.signupFields],
      authenticationAssuranceTimeout: group.authenticationAssuranceTimeout,
    },
    state: groupStateToProto(group.state),
    memberCount: group.memberCount,
    createTime: timestampOf(group.createTime),
    updateTime: timestampOf(group.updateTime),
    deleteTime: timestampOf(group.deleteTime),
    createdBy: group.createdBy,
    updatedBy: group.updatedBy,
    etag: group.etag,
  });
}

/** The caller's access as proto CallerAccess. */
export function callerAccessToProto(access: AppCallerAccess): CallerAccess {
  return create(CallerAccessSchema, {
    role: roleToProto(access.role),
    effectivePermission: permissionToProto(access.effectivePermission),
    permissions: [...access.permissions],
  });
}

/** The group the request carries; `field` ("group") is required. */
export function requireGroup(group: Group | undefined, field = "group"): Group {
  if (group === undefined) throw invalidArgument(field, "is required");
  return group;
}

/**
 * The mutable fields of a request group, with proto defaults applied
 * (unspecified visibility is PRIVATE, member visibility MEMBERS). Content
 * rules (lengths, label keys) are checked by the app with the same field names.
 */
export function groupValuesFromProto(group: Group, prefix = "group"): GroupValues {
  return {
    displayName: group.displayName,
    description: group.description,
    parentId: group.parentId,
    labels: { ...group.labels },
    visibility: visibilityFromProto(group.policies?.visibility ?? ProtoVisibility.UNSPECIFIED, `${prefix}.policies.visibility`),
    memberVisibility: memberVisibilityFromProto(
      group.policies?.memberVisibility ?? ProtoMemberVisibility.UNSPECIFIED,
      `${prefix}.policies.member_visibility`,
    ),
    joinPolicy: joinPolicyFromProto(group.policies?.joinPolicy ?? ProtoJoinPolicy.UNSPECIFIED, `${prefix}.policies.join_policy`),
    signupFields: [...(group.policies?.signupFields ?? [])],
    authenticationAssuranceTimeout: group.policies?.authenticationAssuranceTimeout ?? 0,
  };
}

/** CreateGroup's input: the mutable fields plus namespace and slug. */
export function groupInputFromProto(group: Group | undefined, members: readonly InitialMember[] = []): GroupInput {
  const g = requireGroup(group);
  return {
    ...groupValuesFromProto(g),
    namespace: g.namespace,
    slug: g.slug,
    members: members.map((entry, i) => ({ member: entry.member, role: roleFromProto(entry.role, `members[${i}].role`) })),
  };
}

/**
 * UpdateGroup's input. An absent or empty mask (or the single path "*")
 * replaces every mutable field; otherwise every path must be one of
 * `groupUpdatePaths`: "update_mask: unknown field 'x'".
 */
export function groupUpdateFromProto(request: UpdateGroupRequest): GroupUpdate {
  const group = requireGroup(request.group);
  const paths = request.updateMask?.paths ?? [];
  let mask: string[] | undefined;
  if (paths.length === 0 || (paths.length === 1 && paths[0] === "*")) {
    mask = undefined;
  } else {
    mask = [];
    for (const path of paths) {
      if (!groupUpdatePaths.some((p) => p === path)) {
        throw invalidArgument("update_mask", `unknown field '${path}'`);
      }
      if (!mask.includes(path)) mask.push(path);
    }
  }
  return { id: group.id, values: groupValuesFromProto(group), mask, etag: request.etag };
}

/**
 * How to read the group update a request of type `input` carries, or
 * undefined when it carries none. An access rule that declares
 * manage_fields or a parent_field compares that update with the stored group,
 * so it can only be declared on such a request (UpdateGroupRequest).
 */
export function groupUpdateReaderFor(input: DescMessage): ((request: Message) => GroupUpdate) | undefined {
  if (input.typeName !== UpdateGroupRequestSchema.typeName) return undefined;
  return (request) => groupUpdateFromProto(request as UpdateGroupRequest);
}

/** ACL entries of a request; permissions must be READ, WRITE or MANAGE ("entries[2].permission: ..."). */
export function aclEntriesFromProto(entries: readonly AclEntry[], field = "entries"): DomainAclEntry[] {
  return entries.map((entry, i) => ({
    principal: entry.principal,
    permission: grantablePermissionFromProto(entry.permission, `${field}[${i}].permission`),
  }));
}

/** One stored ACL entry as proto. */
export function aclEntryToProto(entry: DomainAclEntry): AclEntry {
  return create(AclEntrySchema, { principal: entry.principal, permission: permissionToProto(entry.permission) });
}
