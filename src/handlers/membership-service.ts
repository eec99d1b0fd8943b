/**
 * MembershipService: parse the request, call the app, convert the answer.
 * Access was decided by the pipeline's authorization step; the batch RPCs
 * (authorized per item) live in ./batch-memberships.ts.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { RosterApp } from "../app/index.ts";
import type { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { callOptionsOf, changeOptionsOf, consistencyTokenOf, requireCaller } from "../rpc/context.ts";
import { createBatchMembershipHandlers } from "./batch-memberships.ts";
import { roleFromProto } from "../convert/enums.ts";
import { checkMembershipToProto, membershipToProto, principalGroupToProto } from "../convert/membership.ts";

/** The MembershipService implementation served by both doors. */
export function createMembershipServiceHandlers(app: RosterApp): ServiceImpl<typeof MembershipService> {
  return {
    ...createBatchMembershipHandlers(app.batch),

    async addMember(req, ctx) {
      // ROLE_UNSPECIFIED on AddMember means MEMBER (proto comment).
      const role = roleFromProto(req.role, "role") ?? "MEMBER";
      const result = await app.memberships.add(requireCaller(ctx), req.groupId, req.member, role, changeOptionsOf(ctx, req.reason));
      return { membership: membershipToProto(result.membership), created: result.created, consistencyToken: consistencyTokenOf(ctx) };
    },

    async removeMember(req, ctx) {
      await app.memberships.remove(requireCaller(ctx), req.groupId, req.member, changeOptionsOf(ctx, req.reason));
      return { consistencyToken: consistencyTokenOf(ctx) };
    },

    async updateMemberRole(req, ctx) {
      const role = roleFromProto(req.role, "role");
      const membership = await app.memberships.updateRole(requireCaller(ctx), req.groupId, req.member, role, changeOptionsOf(ctx, req.reason));
      return { membership: membershipToProto(membership), consistencyToken: consistencyTokenOf(ctx) };
    },

    async getMembership(req, ctx) {
      const membership = await app.memberships.get(requireCaller(ctx), req.groupId, req.member, callOptionsOf(ctx));
      return { membership: membershipToProto(membership) };
    },

    async listMemberships(req, ctx) {
      const page = await app.memberships.list(
        requireCaller(ctx),
        {
          groupId: req.groupId,
          role: roleFromProto(req.role, "role"),
          transitive: req.transitive,
          pageSize: req.pageSize,
          pageToken: req.pageToken,
        },
        callOptionsOf(ctx),
      );
      return {
        memberships: page.memberships.map(membershipToProto),
        nextPageToken: page.nextPageToken,
        totalSize: page.totalSize,
      };
    },

    async listPrincipalGroups(req, ctx) {
      const page = await app.memberships.listPrincipalGroups(
        requireCaller(ctx),
        { principal: req.principal, transitive: req.transitive, pageSize: req.pageSize, pageToken: req.pageToken },
        callOptionsOf(ctx),
      );
      return { entries: page.entries.map(principalGroupToProto), nextPageToken: page.nextPageToken };
    },

    async checkMembership(req, ctx) {
      const result = await app.memberships.check(
        requireCaller(ctx),
        { groupId: req.groupId, principal: req.principal, directOnly: req.directOnly },
        callOptionsOf(ctx),
      );
      return checkMembershipToProto(result);
    },

    async checkMemberships(req, ctx) {
      const result = await app.memberships.checkMany(
        requireCaller(ctx),
        { principal: req.principal, groupIds: req.groupIds, directOnly: req.directOnly },
        callOptionsOf(ctx),
      );
      return {
        checks: result.checks.map((check) => ({ groupId: check.groupId, result: checkMembershipToProto(check.result) })),
        missingIds: [...result.missingIds],
      };
    },
  };
}
