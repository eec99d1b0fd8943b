/** Memberships between the domain and protobuf. */
import { create } from "@bufbuild/protobuf";
import type { BatchOperation, CheckMembershipResult, PrincipalGroupEntry } from "../app/index.ts";
import { statusOf } from "../domain/membership-status.ts";
import type { MembershipRecord } from "../domain/model.ts";
import {
  MembershipSchema,
  PrincipalGroupSchema,
  type AddMemberOperation,
  type DecideJoinRequestOperation,
  type InviteMemberOperation,
  type Membership,
  type PrincipalGroup,
  type RespondToInvitationOperation,
  type UpdateMembershipOperation,
} from "../../gen/roster/v1/membership_pb.ts";
import { CheckMembershipResponseSchema, type CheckMembershipResponse } from "../../gen/roster/v1/membership_service_pb.ts";
import { membershipStatusToProto, roleFromProto, roleToProto } from "./enums.ts";
import { groupToProto } from "./group.ts";
import { dateFromProto, timestampOf } from "./timestamps.ts";

/** A direct (or, in transitive listings, expanded) membership as proto. */
export function membershipToProto(membership: MembershipRecord): Membership {
  return create(MembershipSchema, {
    groupId: membership.groupId,
    member: membership.member,
    role: roleToProto(membership.role),
    createTime: timestampOf(membership.createTime),
    updateTime: timestampOf(membership.updateTime),
    createdBy: membership.createdBy,
    viaGroupIds: [...(membership.viaGroupIds ?? [])],
    status: membershipStatusToProto(statusOf(membership)),
    expireTime: timestampOf(membership.expireTime),
    message: membership.message ?? "",
    fields: { ...membership.fields },
  });
}

/*
 * The operations of the lifecycle RPCs. Each converter reads the fields the
 * unary request and its batch operation share (InviteMemberRequest and
 * InviteMemberOperation, ...), so both are parsed by one function.
 */

/** AddMember / the `add` operation. */
export function addOperationFromProto(message: Pick<AddMemberOperation, "groupId" | "member" | "role" | "expireTime">): BatchOperation {
  return {
    kind: "add",
    groupId: message.groupId,
    member: message.member,
    role: roleFromProto(message.role, "role"),
    expireTime: dateFromProto(message.expireTime, "expire_time"),
  };
}

/** UpdateMembership / the `update` operation. */
export function updateOperationFromProto(message: Omit<UpdateMembershipOperation, "$typeName" | "$unknown">): BatchOperation {
  return {
    kind: "update",
    groupId: message.groupId,
    member: message.member,
    role: roleFromProto(message.role, "role"),
    expireTime: dateFromProto(message.expireTime, "expire_time"),
    mask: [...(message.updateMask?.paths ?? [])],
  };
}

/** InviteMember / the `invite` operation. */
export function inviteOperationFromProto(message: Omit<InviteMemberOperation, "$typeName" | "$unknown">): BatchOperation {
  return {
    kind: "invite",
    groupId: message.groupId,
    member: message.member,
    role: roleFromProto(message.role, "role"),
    message: message.message,
    expireTime: dateFromProto(message.expireTime, "expire_time"),
  };
}

/** RespondToInvitation / the `respond` operation. */
export function respondOperationFromProto(message: Omit<RespondToInvitationOperation, "$typeName" | "$unknown">): BatchOperation {
  return { kind: "respond", groupId: message.groupId, member: message.member, accept: message.accept };
}

/** DecideJoinRequest / the `decide` operation. */
export function decideOperationFromProto(message: Omit<DecideJoinRequestOperation, "$typeName" | "$unknown">): BatchOperation {
  return {
    kind: "decide",
    groupId: message.groupId,
    member: message.member,
    approve: message.approve,
    role: roleFromProto(message.role, "role"),
  };
}

/** One of a principal's groups as proto PrincipalGroup. */
export function principalGroupToProto(entry: PrincipalGroupEntry): PrincipalGroup {
  return create(PrincipalGroupSchema, {
    group: groupToProto(entry.group),
    role: roleToProto(entry.role),
    direct: entry.direct,
    status: membershipStatusToProto(entry.status),
    expireTime: timestampOf(entry.expireTime),
  });
}

/** CheckMembership's answer (also each group's answer of CheckMemberships) as proto. */
export function checkMembershipToProto(result: CheckMembershipResult): CheckMembershipResponse {
  return create(CheckMembershipResponseSchema, {
    isMember: result.isMember,
    role: roleToProto(result.role),
    path: [...result.path],
    status: membershipStatusToProto(result.status),
    expireTime: timestampOf(result.expireTime),
  });
}
