/**
 * GroupService: parse the request, call the app, convert the answer. Access
 * was decided by the pipeline's authorization step before any of this runs
 * (see src/rpc/authorization-interceptor.ts); the handlers never re-check.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { RosterApp } from "../app/index.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { compileAccessRule } from "../rpc/access-rules.ts";
import { callOptionsOf, changeOptionsOf, consistencyTokenOf, requireCaller } from "../rpc/context.ts";
import { permissionFilterFromProto } from "../convert/enums.ts";
import { secondsOf, timestampOf } from "../convert/timestamps.ts";
import {
  aclEntriesFromProto,
  aclEntryToProto,
  callerAccessToProto,
  groupInputFromProto,
  groupToProto,
  groupUpdateFromProto,
} from "../convert/group.ts";
import { createReadResponses, type ReadResponses } from "../convert/read-responses.ts";

/** The GroupService implementation served by both doors; `responses` keeps GetGroup's answers per group version. */
export function createGroupServiceHandlers(
  app: RosterApp,
  responses: ReadResponses = createReadResponses(),
): ServiceImpl<typeof GroupService> {
  // UpdateGroup's rule depends on the stored group (manage_fields,
  // parent_field): the app decides those parts inside its transaction.
  const updateRule = compileAccessRule(GroupService.method.updateGroup).spec;
  // CreateGroup's initial members are added as AddMember adds members.
  const addMemberRule = compileAccessRule(MembershipService.method.addMember).spec;
  return {
    async createGroup(req, ctx) {
      const input = groupInputFromProto(req.group, req.members);
      const group = await app.groups.create(requireCaller(ctx), input, req.requestId, changeOptionsOf(ctx, req.reason), addMemberRule);
      return { group: groupToProto(group), consistencyToken: consistencyTokenOf(ctx) };
    },

    async getGroup(req, ctx) {
      const ref = req.id !== "" ? { id: req.id } : { namespace: req.namespace, slug: req.slug };
      const { group, access } = await app.groups.get(requireCaller(ctx), ref, callOptionsOf(ctx));
      return responses.getGroup(group, access);
    },

    async batchGetGroups(req, ctx) {
      const result = await app.groups.batchGet(requireCaller(ctx), req.ids, callOptionsOf(ctx));
      return { groups: result.groups.map(groupToProto), missingIds: [...result.missingIds] };
    },

    async listGroups(req, ctx) {
      const page = await app.groups.list(
        requireCaller(ctx),
        {
          namespace: req.namespace,
          parentId: req.parentId,
          query: req.query,
          showDeleted: req.showDeleted,
          pageSize: req.pageSize,
          pageToken: req.pageToken,
          orderBy: req.orderBy,
          permission: permissionFilterFromProto(req.permission, "permission"),
          memberPrincipals: req.memberPrincipals,
        },
        callOptionsOf(ctx),
      );
      return {
        groups: page.groups.map(groupToProto),
        nextPageToken: page.nextPageToken,
        totalSize: page.totalSize,
        callerAccess: Object.fromEntries([...page.access].map(([id, access]) => [id, callerAccessToProto(access)])),
      };
    },

    async updateGroup(req, ctx) {
      const group = await app.groups.update(requireCaller(ctx), groupUpdateFromProto(req), updateRule, changeOptionsOf(ctx, req.reason));
      return { group: groupToProto(group), consistencyToken: consistencyTokenOf(ctx) };
    },

    async deleteGroup(req, ctx) {
      const group = await app.groups.delete(requireCaller(ctx), req.id, req.etag, changeOptionsOf(ctx, req.reason));
      return { group: groupToProto(group), consistencyToken: consistencyTokenOf(ctx) };
    },

    async undeleteGroup(req, ctx) {
      const group = await app.groups.undelete(requireCaller(ctx), req.id, changeOptionsOf(ctx, req.reason));
      return { group: groupToProto(group), consistencyToken: consistencyTokenOf(ctx) };
    },

    async getGroupAcl(req, ctx) {
      const acl = await app.groups.getAcl(requireCaller(ctx), req.groupId, callOptionsOf(ctx));
      return { entries: acl.entries.map(aclEntryToProto), etag: acl.etag };
    },

    async issueGroupToken(req, ctx) {
      const issued = await app.groupTokens.issue(
        requireCaller(ctx),
        { groupId: req.groupId, audience: req.audience, ttlSeconds: req.ttl === undefined ? undefined : secondsOf(req.ttl) },
        callOptionsOf(ctx),
      );
      return { token: issued.token, expireTime: timestampOf(issued.expireTime), tokenId: issued.tokenId };
    },

    async setGroupAcl(req, ctx) {
      const entries = aclEntriesFromProto(req.entries);
      const acl = await app.groups.setAcl(requireCaller(ctx), req.groupId, entries, req.etag, changeOptionsOf(ctx, req.reason));
      return { entries: acl.entries.map(aclEntryToProto), etag: acl.etag, consistencyToken: consistencyTokenOf(ctx) };
    },
  };
}
