/**
 * Proto enums ↔ the domain's string unions. Unspecified values follow the
 * proto comments (visibility PRIVATE, member visibility MEMBERS); values a
 * client may send but that mean nothing (an unknown number, an ACL entry
 * without permission) are invalid_argument naming the field.
 */
import { invalidArgument } from "../domain/errors.ts";
import type {
  GrantablePermission,
  GroupState,
  JoinPolicy,
  MembershipStatus,
  MemberVisibility,
  Permission,
  Role,
  Visibility,
} from "../domain/model.ts";
import { Permission as ProtoPermission, Role as ProtoRole } from "../../gen/roster/v1/access_pb.ts";
import {
  GroupState as ProtoGroupState,
  JoinPolicy as ProtoJoinPolicy,
  MemberVisibility as ProtoMemberVisibility,
  Visibility as ProtoVisibility,
} from "../../gen/roster/v1/group_pb.ts";
import { MembershipStatus as ProtoMembershipStatus } from "../../gen/roster/v1/membership_pb.ts";

/** ROLE_UNSPECIFIED → undefined (the caller decides what "unset" means: MEMBER on AddMember, any role in filters). */
export function roleFromProto(value: ProtoRole, field: string): Role | undefined {
  switch (value) {
    case ProtoRole.UNSPECIFIED:
      return undefined;
    case ProtoRole.MEMBER:
      return "MEMBER";
    case ProtoRole.MANAGER:
      return "MANAGER";
    case ProtoRole.ADMIN:
      return "ADMIN";
    default:
      throw invalidArgument(field, `unknown role ${String(value)}`);
  }
}

/** A role in a response; undefined (not a member) → ROLE_UNSPECIFIED. */
export function roleToProto(role: Role | undefined): ProtoRole {
  switch (role) {
    case undefined:
      return ProtoRole.UNSPECIFIED;
    case "MEMBER":
      return ProtoRole.MEMBER;
    case "MANAGER":
      return ProtoRole.MANAGER;
    case "ADMIN":
      return ProtoRole.ADMIN;
  }
}

/** An ACL entry's permission: READ, WRITE or MANAGE; anything else names the field. */
export function grantablePermissionFromProto(value: ProtoPermission, field: string): GrantablePermission {
  switch (value) {
    case ProtoPermission.READ:
      return "READ";
    case ProtoPermission.WRITE:
      return "WRITE";
    case ProtoPermission.MANAGE:
      return "MANAGE";
    default:
      throw invalidArgument(field, "must be PERMISSION_READ, PERMISSION_WRITE or PERMISSION_MANAGE");
  }
}

/** A minimum-permission filter: PERMISSION_UNSPECIFIED → undefined (no filter), else as grantablePermissionFromProto. */
export function permissionFilterFromProto(value: ProtoPermission, field: string): GrantablePermission | undefined {
  return value === ProtoPermission.UNSPECIFIED ? undefined : grantablePermissionFromProto(value, field);
}

export function permissionToProto(permission: Permission): ProtoPermission {
  switch (permission) {
    case "NONE":
      return ProtoPermission.UNSPECIFIED;
    case "READ":
      return ProtoPermission.READ;
    case "WRITE":
      return ProtoPermission.WRITE;
    case "MANAGE":
      return ProtoPermission.MANAGE;
  }
}

/** VISIBILITY_UNSPECIFIED is PRIVATE (proto comment). */
export function visibilityFromProto(value: ProtoVisibility, field: string): Visibility {
  switch (value) {
    case ProtoVisibility.UNSPECIFIED:
    case ProtoVisibility.PRIVATE:
      return "PRIVATE";
    case ProtoVisibility.AUTHENTICATED:
      return "AUTHENTICATED";
    default:
      throw invalidArgument(field, `unknown visibility ${String(value)}`);
  }
}

export function visibilityToProto(visibility: Visibility): ProtoVisibility {
  return visibility === "AUTHENTICATED" ? ProtoVisibility.AUTHENTICATED : ProtoVisibility.PRIVATE;
}

/** MEMBER_VISIBILITY_UNSPECIFIED is MEMBERS (proto comment). */
export function memberVisibilityFromProto(value: ProtoMemberVisibility, field: string): MemberVisibility {
  switch (value) {
    case ProtoMemberVisibility.UNSPECIFIED:
    case ProtoMemberVisibility.MEMBERS:
      return "MEMBERS";
    case ProtoMemberVisibility.MANAGERS:
      return "MANAGERS";
    default:
      throw invalidArgument(field, `unknown member visibility ${String(value)}`);
  }
}

export function memberVisibilityToProto(memberVisibility: MemberVisibility): ProtoMemberVisibility {
  return memberVisibility === "MANAGERS" ? ProtoMemberVisibility.MANAGERS : ProtoMemberVisibility.MEMBERS;
}

export function groupStateToProto(state: GroupState): ProtoGroupState {
  return state === "DELETED" ? ProtoGroupState.DELETED : ProtoGroupState.ACTIVE;
}

/** JOIN_POLICY_UNSPECIFIED is CLOSED (proto comment). */
export function joinPolicyFromProto(value: ProtoJoinPolicy, field: string): JoinPolicy {
  switch (value) {
    case ProtoJoinPolicy.UNSPECIFIED:
    case ProtoJoinPolicy.CLOSED:
      return "CLOSED";
    case ProtoJoinPolicy.REQUEST:
      return "REQUEST";
    case ProtoJoinPolicy.OPEN:
      return "OPEN";
    default:
      throw invalidArgument(field, `unknown join policy ${String(value)}`);
  }
}

export function joinPolicyToProto(policy: JoinPolicy): ProtoJoinPolicy {
  return policy === "OPEN" ? ProtoJoinPolicy.OPEN : policy === "REQUEST" ? ProtoJoinPolicy.REQUEST : ProtoJoinPolicy.CLOSED;
}

/** A status filter entry; UNSPECIFIED means nothing in a filter and is refused. */
export function membershipStatusFromProto(value: ProtoMembershipStatus, field: string): MembershipStatus {
  switch (value) {
    case ProtoMembershipStatus.ACTIVE:
      return "ACTIVE";
    case ProtoMembershipStatus.INVITED:
      return "INVITED";
    case ProtoMembershipStatus.REQUESTED:
      return "REQUESTED";
    default:
      throw invalidArgument(field, `must be ACTIVE, INVITED or REQUESTED (got ${String(value)})`);
  }
}

/** undefined (no membership) → UNSPECIFIED. */
export function membershipStatusToProto(status: MembershipStatus | undefined): ProtoMembershipStatus {
  switch (status) {
    case "ACTIVE":
      return ProtoMembershipStatus.ACTIVE;
    case "INVITED":
      return ProtoMembershipStatus.INVITED;
    case "REQUESTED":
      return ProtoMembershipStatus.REQUESTED;
    case undefined:
      return ProtoMembershipStatus.UNSPECIFIED;
  }
}
