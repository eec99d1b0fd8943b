/**
 * The application API of Roster, what the RPC layer calls: the factory, the
 * request memo and the types of each API (declared beside their factories).
 * Plain domain types only: no gen/, no transport, no driver types except in
 * the dependencies of `createRosterApp`.
 *
 * Authorization contract: the RPC pipeline's single authorization step calls
 * `access.authorize` BEFORE the handler, with the values the method's
 * AccessRule points at (the domain's `evaluateAccess` decides). Use-case
 * methods then trust that the caller was authorized for
 * the group they name and never re-check access themselves — except the
 * FILTERED methods (`groups.batchGet`, `groups.list`,
 * `memberships.listPrincipalGroups`), which filter with the same domain
 * functions inside the app, and the PER_ITEM batch, which authorizes each
 * operation. State rules that are not access rules (a deleted group cannot
 * be changed, the last direct ADMIN stays, cycles) are enforced by the use
 * cases whatever the caller.
 */
export { createRosterApp, type ReadModelHandle, type RosterApp, type RosterAppDeps } from "./roster-app.ts";
export type { ReadModelStatus } from "./read-model/read-model.ts";
export { createRequestMemo, type RequestMemo } from "./request-memo.ts";
export type { CallOptions, ChangeOptions } from "./call-options.ts";
export type { AppLogger } from "./app-context.ts";
export type { AccessApi, AccessTarget } from "./access-api.ts";
export type {
  AclResult,
  BatchGetResult,
  CallerAccess,
  GroupInput,
  GroupRef,
  GroupsApi,
  GroupUpdate,
  GroupUpdatePath,
  GroupValues,
  GroupWithAccess,
} from "./groups-api.ts";
export type { GroupPage, ListGroupsQuery } from "./list-groups.ts";
export type { GroupTokenRequest, GroupTokensApi, IssuedGroupToken } from "./group-tokens.ts";
export type {
  AddMemberResult,
  CheckMembershipQuery,
  CheckMembershipResult,
  Invitation,
  JoinDecision,
  JoinRequest,
  CheckMembershipsQuery,
  CheckMembershipsResult,
  ListMembershipsQuery,
  MembershipUpdate,
  ListPrincipalGroupsQuery,
  MembershipPage,
  MembershipsApi,
  PrincipalGroupEntry,
  PrincipalGroupPage,
} from "./memberships-api.ts";
export type { BatchAccessRules, BatchOutcome, BatchResult } from "./batch/apply-chunk.ts";
export type { BatchApi, BatchRequest, BatchResponse, BatchStats } from "./batch/batch-engine.ts";
export type { BatchItem, BatchOperation } from "./batch/check-operation.ts";
export type { BatchLimits } from "./batch/limits.ts";
export { EXPIRY_ACTOR, startExpirySweeper, type ExpiryApi, type ExpirySweeper, type ExpirySweepSettings } from "./expiry-sweeper.ts";
export type { SyncSummary } from "./batch/sync-run.ts";
export type { ChangesApi } from "./changes/changes-api.ts";
export type { ChangePage, ChangeQuery, FeedMessage, ListChangesQuery } from "./changes/change-feed.ts";
export type { ChangeSettings } from "./changes/change-settings.ts";
export type { GroupHistoryPage, GroupHistoryQuery } from "./changes/group-history.ts";
export type { HistoryRetention } from "./changes/history-retention.ts";
