/**
 * BatchMemberships (bidirectional stream) and BatchUpdateMemberships (unary):
 * convert protobuf at the edge and hand the operations to the app's batch
 * engine, which applies them in chunks and authorizes each with the declared
 * access rule of the matching unary RPC (AddMember, RemoveMember,
 * UpdateMemberRole), read here once from the proto options. The pipeline only
 * authenticated the call (REQUIREMENT_PER_ITEM).
 *
 * Per-item failures become `OperationStatus {code, message}` with the same
 * code mapping as whole calls (`codeOfKind`); failures of the stream itself
 * are thrown and mapped by the pipeline like any RPC error.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { BatchAccessRules, BatchApi, BatchItem, BatchRequest, BatchResponse, BatchResult } from "../app/index.ts";
import { invalidArgument, isRosterError } from "../domain/errors.ts";
import {
  OperationResultSchema,
  SyncSummarySchema,
  type MembershipOperation,
  type OperationResult,
  type SyncSummary,
} from "../../gen/roster/v1/membership_pb.ts";
import {
  BatchMembershipsResponseSchema,
  MembershipService,
  type BatchMembershipsRequest,
  type BatchMembershipsResponse,
} from "../../gen/roster/v1/membership_service_pb.ts";
import { compileAccessRule } from "../rpc/access-rules.ts";
import { changeOptionsOf, consistencyTokenOf, requireCaller } from "../rpc/context.ts";
import { codeOfKind } from "../rpc/error-mapping.ts";
import { roleFromProto } from "../convert/enums.ts";
import {
  addOperationFromProto,
  decideOperationFromProto,
  inviteOperationFromProto,
  membershipToProto,
  respondOperationFromProto,
  updateOperationFromProto,
} from "../convert/membership.ts";

/** The message of an operation without one. */
const operationRequired = "is required (add, remove, change_role, update, invite, respond or decide)";

/** The access rules the batch operations borrow from the unary RPCs, as declared in the proto. */
export function batchAccessRules(): BatchAccessRules {
  return {
    add: compileAccessRule(MembershipService.method.addMember).spec,
    remove: compileAccessRule(MembershipService.method.removeMember).spec,
    changeRole: compileAccessRule(MembershipService.method.updateMemberRole).spec,
    update: compileAccessRule(MembershipService.method.updateMembership).spec,
    invite: compileAccessRule(MembershipService.method.inviteMember).spec,
    respond: compileAccessRule(MembershipService.method.respondToInvitation).spec,
    decide: compileAccessRule(MembershipService.method.decideJoinRequest).spec,
  };
}

/** One proto operation as a batch item; what cannot even be converted becomes the item's error. */
export function batchItemFromProto(operation: MembershipOperation): BatchItem {
  const { tag, reason } = operation;
  try {
    const op = operation.operation;
    switch (op.case) {
      case "add":
        return { tag, reason, operation: addOperationFromProto(op.value) };
      case "remove":
        return { tag, reason, operation: { kind: "remove", groupId: op.value.groupId, member: op.value.member } };
      case "changeRole":
        return {
          tag,
          reason,
          operation: {
            kind: "change_role",
            groupId: op.value.groupId,
            member: op.value.member,
            role: roleFromProto(op.value.role, "role"),
          },
        };
      case "update":
        return { tag, reason, operation: updateOperationFromProto(op.value) };
      case "invite":
        return { tag, reason, operation: inviteOperationFromProto(op.value) };
      case "respond":
        return { tag, reason, operation: respondOperationFromProto(op.value) };
      case "decide":
        return { tag, reason, operation: decideOperationFromProto(op.value) };
      case undefined:
        return { tag, reason, operation: invalidArgument("operation", operationRequired) };
    }
  } catch (error) {
    if (isRosterError(error)) return { tag, reason, operation: error };
    throw error;
  }
}

/**
 * One stream message with the stream's reason it carries; a message
 * carrying nothing at all counts as an operation without one.
 */
export function batchRequestFromProto(request: BatchMembershipsRequest): BatchRequest {
  const { message, reason } = request;
  switch (message.case) {
    case "operation":
      return { kind: "operation", item: batchItemFromProto(message.value), reason };
    case "sync":
      return { kind: "sync", groupId: message.value.groupId, dryRun: message.value.dryRun, reason };
    case undefined:
      if (reason !== "") return { kind: "reason_only", reason };
      return { kind: "operation", item: { tag: "", operation: invalidArgument("operation", operationRequired) } };
  }
}

/** One result as proto; `consistencyToken` is the call's latest commit when the result is sent (it includes the operation). */
export function batchResultToProto(result: BatchResult, consistencyToken: string): OperationResult {
  const outcome = result.outcome;
  if (!outcome.ok) {
    return create(OperationResultSchema, {
      index: result.index,
      tag: result.tag,
      status: { code: codeOfKind[outcome.error.kind], message: outcome.error.message },
    });
  }
  return create(OperationResultSchema, {
    index: result.index,
    tag: result.tag,
    status: { code: 0, message: "" },
    membership: membershipToProto(outcome.membership),
    changed: outcome.changed,
    consistencyToken,
  });
}

export function batchResponseToProto(response: BatchResponse, consistencyToken: string): BatchMembershipsResponse {
  if (response.kind === "result") {
    return create(BatchMembershipsResponseSchema, {
      message: { case: "result", value: batchResultToProto(response.result, consistencyToken) },
    });
  }
  const summary: SyncSummary = create(SyncSummarySchema, {
    ...response.summary,
    consistencyToken: response.summary.dryRun ? "" : consistencyToken,
  });
  return create(BatchMembershipsResponseSchema, { message: { case: "summary", value: summary } });
}

async function* requestsFromProto(requests: AsyncIterable<BatchMembershipsRequest>): AsyncGenerator<BatchRequest> {
  for await (const request of requests) yield batchRequestFromProto(request);
}

/** The two batch methods of MembershipService over the app's batch engine. */
export function createBatchMembershipHandlers(
  batch: BatchApi,
): Pick<ServiceImpl<typeof MembershipService>, "batchMemberships" | "batchUpdateMemberships"> {
  const rules = batchAccessRules();
  return {
    async *batchMemberships(requests: AsyncIterable<BatchMembershipsRequest>, ctx: HandlerContext) {
      const responses = batch.stream(requireCaller(ctx), requestsFromProto(requests), rules, changeOptionsOf(ctx, ""));
      for await (const response of responses) yield batchResponseToProto(response, consistencyTokenOf(ctx));
    },

    async batchUpdateMemberships(req, ctx) {
      const results = await batch.applyAll(
        requireCaller(ctx),
        req.operations.map(batchItemFromProto),
        rules,
        changeOptionsOf(ctx, req.reason),
      );
      const consistencyToken = consistencyTokenOf(ctx);
      return { results: results.map((result) => batchResultToProto(result, consistencyToken)), consistencyToken };
    },
  };
}
