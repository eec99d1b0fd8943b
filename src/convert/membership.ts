/** Memberships between the domain and protobuf. */
import { create } from "@bufbuild/protobuf";
import type { CheckMembershipResult, PrincipalGroupEntry } from "../app/index.ts";
import type { MembershipRecord } from "../domain/model.ts";
import {
  MembershipSchema,
  PrincipalGroupSchema,
  type Membership,
  type PrincipalGroup,
} from "../../gen/roster/v1/membership_pb.ts";
import { CheckMembershipResponseSchema, type CheckMembershipResponse } from "../../gen/roster/v1/membership_service_pb.ts";
import { roleToProto } from "./enums.ts";
import { groupToProto } from "./group.ts";
import { timestampOf } from "./timestamps.ts";

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
  });
}

/** One of a principal's groups as proto PrincipalGroup. */
export function principalGroupToProto(entry: PrincipalGroupEntry): PrincipalGroup {
  return create(PrincipalGroupSchema, { group: groupToProto(entry.group), role: roleToProto(entry.role), direct: entry.direct });
}

/** CheckMembership's answer (also each group's answer of CheckMemberships) as proto. */
export function checkMembershipToProto(result: CheckMembershipResult): CheckMembershipResponse {
  return create(CheckMembershipResponseSchema, { isMember: result.isMember, role: roleToProto(result.role), path: [...result.path] });
}
