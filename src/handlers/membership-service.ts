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
import { membershipStatusFromProto, roleFromProto } from "../convert/enums.ts";
import {
  checkMembershipToProto,
  decideOperationFromProto,
  inviteOperationFromProto,
  membershipToProto,
  principalGroupToProto,
  updateOperationFromProto,
} from "../convert/membership.ts";
import { createReadResponses, type ReadResponses } from "../convert/read-responses.ts";
import { dateFromProto } from "../convert/timestamps.ts";

/** The MembershipService implementation served by both doors; `responses` keeps CheckMembership's answers. */
export function createMembershipServiceHandlers(
  app: RosterApp,
  responses: ReadResponses = createReadResponses(),
): ServiceImpl<typeof MembershipService> {
  return {
    ...createBatchMembershipHandlers(app.batch),

    async addMember(req, ctx) {
      // ROLE_UNSPECIFIED on AddMember means MEMBER (proto comment).
      const role = roleFromProto(req.role, "role") ?? "MEMBER";
      const expireTime = dateFromProto(req.expireTime, "expire_time");
      const result = await app.memberships.add(
        requireCaller(ctx),
        req.groupId,
        req.member,
        role,
        changeOptionsOf(ctx, req.reason),
        expireTime,
      );
      return { membership: membershipToProto(result.membership), created: result.created, consistencyToken: consistencyTokenOf(ctx) };
    },

    async updateMembership(req, ctx) {
      const operation = updateOperationFromProto(req);
      if (operation.kind !== "update") throw new Error("an update converted to another operation");
      const membership = await app.memberships.update(requireCaller(ctx), operation, changeOptionsOf(ctx, req.reason));
      return { membership: membershipToProto(membership) };
    },

    async inviteMember(req, ctx) {
      const operation = inviteOperationFromProto(req);
      if (operation.kind !== "invite") throw new Error("an invitation converted to another operation");
      return {
        membership: membershipToProto(await app.memberships.invite(requireCaller(ctx), operation, changeOptionsOf(ctx, req.reason))),
      };
    },

    async respondToInvitation(req, ctx) {
      const membership = await app.memberships.respond(
        requireCaller(ctx),
        req.groupId,
        req.member,
        req.accept,
        changeOptionsOf(ctx, req.reason),
      );
      return { membership: membershipToProto(membership) };
    },

    async requestToJoin(req, ctx) {
      const membership = await app.memberships.requestToJoin(
        requireCaller(ctx),
        { groupId: req.groupId, message: req.message, fields: { ...req.fields } },
        changeOptionsOf(ctx, req.reason),
      );
      return { membership: membershipToProto(membership) };
    },

    async decideJoinRequest(req, ctx) {
      const operation = decideOperationFromProto(req);
      if (operation.kind !== "decide") throw new Error("a decision converted to another operation");
      return {
        membership: membershipToProto(
          await app.memberships.decideJoinRequest(requireCaller(ctx), operation, changeOptionsOf(ctx, req.reason)),
        ),
      };
    },

    async removeMember(req, ctx) {
      await app.memberships.remove(requireCaller(ctx), req.groupId, req.member, changeOptionsOf(ctx, req.reason));
      return { consistencyToken: consistencyTokenOf(ctx) };
    },

    async updateMemberRole(req, ctx) {
      const role = roleFromProto(req.role, "role");
      const membership = await app.memberships.updateRole(
        requireCaller(ctx),
        req.groupId,
        req.member,
        role,
        changeOptionsOf(ctx, req.reason),
      );
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
          statuses: req.statuses.map((status, i) => membershipStatusFromProto(status, `statuses[${i}]`)),
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
        {
          principal: req.principal,
          transitive: req.transitive,
          pageSize: req.pageSize,
          pageToken: req.pageToken,
          statuses: req.statuses.map((status, i) => membershipStatusFromProto(status, `statuses[${i}]`)),
        },
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
      return responses.checkMembership(result);
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
