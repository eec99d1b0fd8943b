/**
 * The access rules declared in proto/roster/v1/*_service.proto, written out
 * as plain AccessRuleSpec values so that the domain tables need no gen/
 * import. access-rules-mirror.test.ts proves this table equals the options
 * compiled into the generated descriptors.
 */
import type { AccessRuleSpec } from "../../src/domain/access-policy.ts";

const none: AccessRuleSpec = {
  requires: "UNSPECIFIED",
  groupField: "",
  namespaceField: "",
  slugField: "",
  roleField: "",
  memberField: "",
  selfAllowed: false,
  manageFields: [],
  memberGroupNeedsRead: false,
  parentField: "",
  memberDefaultsToCaller: false,
};

export const accessRules = {
  CreateGroup: { ...none, requires: "CREATE_GROUP", groupField: "group.parent_id" },
  GetGroup: { ...none, requires: "SEE_GROUP", groupField: "id", namespaceField: "namespace", slugField: "slug" },
  BatchGetGroups: { ...none, requires: "FILTERED" },
  ListGroups: { ...none, requires: "FILTERED" },
  UpdateGroup: {
    ...none,
    requires: "WRITE",
    groupField: "group.id",
    manageFields: ["group.policies", "group.parent_id"],
    parentField: "group.parent_id",
  },
  DeleteGroup: { ...none, requires: "MANAGE", groupField: "id" },
  UndeleteGroup: { ...none, requires: "MANAGE", groupField: "id" },
  GetGroupAcl: { ...none, requires: "MANAGE", groupField: "group_id" },
  SetGroupAcl: { ...none, requires: "MANAGE", groupField: "group_id" },
  AddMember: {
    ...none,
    requires: "WRITE",
    groupField: "group_id",
    roleField: "role",
    memberField: "member",
    memberGroupNeedsRead: true,
  },
  RemoveMember: { ...none, requires: "WRITE", groupField: "group_id", memberField: "member", selfAllowed: true },
  UpdateMemberRole: { ...none, requires: "MANAGE", groupField: "group_id" },
  GetMembership: { ...none, requires: "LIST_MEMBERS", groupField: "group_id", memberField: "member", selfAllowed: true },
  ListMemberships: { ...none, requires: "LIST_MEMBERS", groupField: "group_id" },
  ListPrincipalGroups: { ...none, requires: "FILTERED" },
  CheckMembership: {
    ...none,
    requires: "LIST_MEMBERS",
    groupField: "group_id",
    memberField: "principal",
    selfAllowed: true,
  },
  UpdateMembership: { ...none, requires: "WRITE", groupField: "group_id", roleField: "role", memberField: "member" },
  InviteMember: {
    ...none,
    requires: "WRITE",
    groupField: "group_id",
    roleField: "role",
    memberField: "member",
    memberGroupNeedsRead: true,
  },
  RespondToInvitation: { ...none, requires: "INVITEE", groupField: "group_id", memberField: "member", memberDefaultsToCaller: true },
  RequestToJoin: { ...none, requires: "JOIN", groupField: "group_id" },
  DecideJoinRequest: { ...none, requires: "WRITE", groupField: "group_id", roleField: "role", memberField: "member" },
  BatchMemberships: { ...none, requires: "PER_ITEM" },
  BatchUpdateMemberships: { ...none, requires: "PER_ITEM" },
} as const satisfies Record<string, AccessRuleSpec>;

/** The rules batch operations borrow from the unary RPCs (BatchAccessRules). */
export const batchRules = {
  add: accessRules.AddMember,
  remove: accessRules.RemoveMember,
  changeRole: accessRules.UpdateMemberRole,
  update: accessRules.UpdateMembership,
  invite: accessRules.InviteMember,
  respond: accessRules.RespondToInvitation,
  decide: accessRules.DecideJoinRequest,
};

export type RpcName = keyof typeof accessRules;
