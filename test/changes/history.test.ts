/**
 * The history, over both doors: every mutating RPC and batch operation
 * writes the record of each change it makes (actor, reason, request id,
 * RPC, roles or fields before and after), nothing for what changed
 * nothing or failed; the reason's limit; ListGroupHistory's pages and
 * filters. Who may read a history is in change-authorization.test.ts.
 */
import { toJson, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { Permission, Role } from "../../gen/roster/v1/access_pb.ts";
import { ChangeSchema, type Change } from "../../gen/roster/v1/change_pb.ts";
import { JoinPolicy, Visibility } from "../../gen/roster/v1/group_pb.ts";
import type { BatchMembershipsRequestSchema, BatchMembershipsResponse } from "../../gen/roster/v1/membership_service_pb.ts";

type BatchRequest = MessageInitShape<typeof BatchMembershipsRequestSchema>;
import { doorClients, doorFailure, doors, type DoorClients } from "../fixtures/door-clients.ts";
import { useServiceSuite } from "../fixtures/roster-with-user-clients.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

const suite = useServiceSuite("history");

/** A record without its generated id and time. */
function recorded(change: Change): JsonObject {
  const json = toJson(ChangeSchema, change) as JsonObject;
  expect(json["id"]).toMatch(/^[0-9a-f]{24}$/);
  expect(json["time"]).toEqual(expect.any(String));
  delete json["id"];
  delete json["time"];
  return json;
}

const tooLong = "x".repeat(1025);

describe.each(doors)("history over %s", (door) => {
  let alice: DoorClients;
  let bob: DoorClients;
  const headers = (requestId: string) => ({ headers: { "x-request-id": requestId } });

  beforeAll(async () => {
    const endpoints = { grpcAddress: suite.roster.address, webUrl: suite.roster.httpUrl };
    alice = doorClients(door, endpoints, await suite.roster.token("alice"));
    bob = doorClients(door, endpoints, await suite.roster.token("bob"));
  });

  async function history(groupId: string, member = ""): Promise<JsonObject[]> {
    const page = await alice.changes.listGroupHistory({ groupId, member, pageSize: 100 });
    return page.changes.map(recorded);
  }

  async function newGroup(): Promise<string> {
    const created = await alice.groups.createGroup({ group: { slug: uniqueSlug("h"), displayName: "H" } });
    return created.group?.id ?? "";
  }

  it("records every GroupService change with its actor, reason, request id and RPC, newest first", async () => {
    const slug = uniqueSlug("audit");
    const created = await alice.groups.createGroup(
      { group: { namespace: "acme", slug, displayName: "Payroll", labels: { cost: "7" } }, reason: "new team" },
      headers(`create-${door}`),
    );
    const id = created.group?.id ?? "";
    const { group } = await alice.groups.updateGroup(
      {
        group: { id, displayName: "Payroll EU", description: "wages" },
        updateMask: { paths: ["display_name", "description"] },
        reason: "rename",
      },
      headers(`update-${door}`),
    );
    // An update that sets the stored values again changes nothing and records nothing.
    await alice.groups.updateGroup({
      group: { id, displayName: "Payroll EU" },
      updateMask: { paths: ["display_name"] },
      etag: group?.etag ?? "",
    });
    await alice.groups.setGroupAcl({ groupId: id, entries: [{ principal: "user:bob", permission: Permission.READ }], reason: "auditor" });
    await alice.groups.setGroupAcl({ groupId: id, entries: [{ principal: "user:bob", permission: Permission.READ }] });
    await alice.groups.deleteGroup({ id, reason: "team merged" });
    await alice.groups.undeleteGroup({ id }, headers(`undelete-${door}`));

    const common = { actor: "user:alice", groupId: id, namespace: "acme" };
    expect(await history(id)).toEqual([
      {
        ...common,
        kind: "CHANGE_KIND_GROUP_UNDELETED",
        changedFields: ["state"],
        before: { state: "GROUP_STATE_DELETED" },
        after: { state: "GROUP_STATE_ACTIVE" },
        requestId: `undelete-${door}`,
        method: "roster.v1.GroupService/UndeleteGroup",
      },
      {
        ...common,
        kind: "CHANGE_KIND_GROUP_DELETED",
        changedFields: ["state"],
        before: { state: "GROUP_STATE_ACTIVE" },
        after: { state: "GROUP_STATE_DELETED" },
        reason: "team merged",
        requestId: expect.stringMatching(/^.{8,}$/) as string,
        method: "roster.v1.GroupService/DeleteGroup",
      },
      {
        ...common,
        kind: "CHANGE_KIND_GROUP_ACL_CHANGED",
        changedFields: ["acl"],
        before: {},
        after: { acl: [{ principal: "user:bob", permission: "PERMISSION_READ" }] },
        reason: "auditor",
        requestId: expect.any(String) as string,
        method: "roster.v1.GroupService/SetGroupAcl",
      },
      {
        ...common,
        kind: "CHANGE_KIND_GROUP_UPDATED",
        changedFields: ["display_name", "description"],
        before: { displayName: "Payroll" },
        after: { displayName: "Payroll EU", description: "wages" },
        reason: "rename",
        requestId: `update-${door}`,
        method: "roster.v1.GroupService/UpdateGroup",
      },
      {
        ...common,
        kind: "CHANGE_KIND_MEMBER_ADDED",
        member: "user:alice",
        roleAfter: "ROLE_ADMIN",
        reason: "new team",
        requestId: `create-${door}`,
        method: "roster.v1.GroupService/CreateGroup",
      },
      {
        ...common,
        kind: "CHANGE_KIND_GROUP_CREATED",
        changedFields: [
          "namespace",
          "slug",
          "display_name",
          "description",
          "parent_id",
          "labels",
          "policies.visibility",
          "policies.member_visibility",
          "policies.join_policy",
          "policies.signup_fields",
          "policies.authentication_assurance_timeout",
        ],
        after: {
          namespace: "acme",
          slug,
          displayName: "Payroll",
          labels: { cost: "7" },
          policies: { visibility: "VISIBILITY_PRIVATE", memberVisibility: "MEMBER_VISIBILITY_MEMBERS", joinPolicy: "JOIN_POLICY_CLOSED" },
        },
        reason: "new team",
        requestId: `create-${door}`,
        method: "roster.v1.GroupService/CreateGroup",
      },
    ]);
  });

  it("CreateGroup with initial members records them in its transaction, after the group and its creator", async () => {
    const created = await alice.groups.createGroup({
      group: { slug: uniqueSlug("init"), displayName: "Init" },
      members: [{ member: "user:bob", role: Role.MANAGER }, { member: "service:ci" }],
      reason: "kick-off",
    });
    const id = created.group?.id ?? "";
    const method = "roster.v1.GroupService/CreateGroup";
    expect((await history(id)).map((c) => [c["kind"], c["member"] ?? "", c["roleAfter"] ?? "", c["reason"], c["method"]])).toEqual([
      ["CHANGE_KIND_MEMBER_ADDED", "service:ci", "ROLE_MEMBER", "kick-off", method],
      ["CHANGE_KIND_MEMBER_ADDED", "user:bob", "ROLE_MANAGER", "kick-off", method],
      ["CHANGE_KIND_MEMBER_ADDED", "user:alice", "ROLE_ADMIN", "kick-off", method],
      ["CHANGE_KIND_GROUP_CREATED", "", "", "kick-off", method],
    ]);
  });

  it("records member added, role changed and removed; what changed nothing or failed records nothing", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:bob", reason: "joins payroll" }, headers(`add-${door}`));
    await alice.memberships.addMember({ groupId: g, member: "user:bob", role: Role.ADMIN, reason: "already a member: no change" });
    await alice.memberships.updateMemberRole({ groupId: g, member: "user:bob", role: Role.MANAGER, reason: "team lead" });
    await alice.memberships.updateMemberRole({ groupId: g, member: "user:bob", role: Role.MANAGER, reason: "the same role: no change" });
    expect(await doorFailure(alice.memberships.removeMember({ groupId: g, member: "user:alice", reason: "last admin" }))).toEqual({
      code: "FAILED_PRECONDITION",
      message: expect.stringContaining("ADMIN") as string,
    });
    // Leaving is allowed to the member itself: the record names bob as the actor.
    await bob.memberships.removeMember({ groupId: g, member: "user:bob", reason: "moved on" });

    const changes = await history(g);
    expect(changes.slice(0, 3)).toEqual([
      {
        kind: "CHANGE_KIND_MEMBER_REMOVED",
        actor: "user:bob",
        groupId: g,
        member: "user:bob",
        roleBefore: "ROLE_MANAGER",
        reason: "moved on",
        requestId: expect.any(String) as string,
        method: "roster.v1.MembershipService/RemoveMember",
      },
      {
        kind: "CHANGE_KIND_MEMBER_ROLE_CHANGED",
        actor: "user:alice",
        groupId: g,
        member: "user:bob",
        roleBefore: "ROLE_MEMBER",
        roleAfter: "ROLE_MANAGER",
        reason: "team lead",
        requestId: expect.any(String) as string,
        method: "roster.v1.MembershipService/UpdateMemberRole",
      },
      {
        kind: "CHANGE_KIND_MEMBER_ADDED",
        actor: "user:alice",
        groupId: g,
        member: "user:bob",
        roleAfter: "ROLE_MEMBER",
        reason: "joins payroll",
        requestId: `add-${door}`,
        method: "roster.v1.MembershipService/AddMember",
      },
    ]);
    // Then only the creation (group_created, the creator's member_added).
    expect(changes.slice(3).map((c) => c["kind"])).toEqual(["CHANGE_KIND_MEMBER_ADDED", "CHANGE_KIND_GROUP_CREATED"]);
  });

  it("records invitations, answers, join requests, decisions and expire_time changes of the membership lifecycle", async () => {
    const carol = doorClients(door, { grpcAddress: suite.roster.address, webUrl: suite.roster.httpUrl }, await suite.roster.token("carol"));
    const created = await alice.groups.createGroup({
      group: {
        slug: uniqueSlug("life"),
        displayName: "L",
        policies: { visibility: Visibility.AUTHENTICATED, joinPolicy: JoinPolicy.REQUEST },
      },
    });
    const g = created.group?.id ?? "";
    await alice.memberships.inviteMember({ groupId: g, member: "user:bob", role: Role.MANAGER, reason: "new lead" });
    await bob.memberships.respondToInvitation({ groupId: g, accept: true, reason: "glad to" });
    await alice.memberships.inviteMember({ groupId: g, member: "user:dave", reason: "maybe" });
    await alice.memberships.removeMember({ groupId: g, member: "user:dave", reason: "revoked" });
    await carol.memberships.requestToJoin({ groupId: g, reason: "need access" });
    await bob.memberships.decideJoinRequest({ groupId: g, member: "user:carol", approve: false, reason: "not now" });
    await alice.memberships.updateMembership({
      groupId: g,
      member: "user:bob",
      expireTime: timestampFromDate(new Date(Date.now() + 86_400_000)),
      updateMask: { paths: ["expire_time"] },
      reason: "contract ends",
    });
    const { results } = await alice.memberships.batchUpdateMemberships({
      operations: [{ operation: { case: "invite", value: { groupId: g, member: "user:erin" } }, reason: "batch invite" }],
    });
    expect(results[0]?.status?.code ?? 0).toBe(0);
    await alice.groups.updateGroup({
      group: { id: g, policies: { joinPolicy: JoinPolicy.OPEN, signupFields: ["team"] } },
      updateMask: { paths: ["policies.join_policy", "policies.signup_fields"] },
      reason: "open it",
    });
    expect((await history(g))[0]).toMatchObject({
      kind: "CHANGE_KIND_GROUP_UPDATED",
      changedFields: ["policies.join_policy", "policies.signup_fields"],
      before: { policies: { joinPolicy: "JOIN_POLICY_REQUEST" } },
      after: { policies: { joinPolicy: "JOIN_POLICY_OPEN", signupFields: ["team"] } },
      reason: "open it",
    });
    const rows = (await history(g))
      .slice(1, 9)
      .map((c) => [c["kind"], c["actor"], c["member"], c["roleBefore"], c["roleAfter"], c["changedFields"], c["reason"]]);
    expect(rows).toEqual([
      ["CHANGE_KIND_MEMBER_INVITED", "user:alice", "user:erin", undefined, "ROLE_MEMBER", undefined, "batch invite"],
      [
        "CHANGE_KIND_MEMBER_EXPIRE_TIME_CHANGED",
        "user:alice",
        "user:bob",
        "ROLE_MANAGER",
        "ROLE_MANAGER",
        ["expire_time"],
        "contract ends",
      ],
      ["CHANGE_KIND_PENDING_MEMBERSHIP_REMOVED", "user:bob", "user:carol", "ROLE_MEMBER", undefined, undefined, "not now"],
      ["CHANGE_KIND_JOIN_REQUESTED", "user:carol", "user:carol", undefined, "ROLE_MEMBER", undefined, "need access"],
      ["CHANGE_KIND_PENDING_MEMBERSHIP_REMOVED", "user:alice", "user:dave", "ROLE_MEMBER", undefined, undefined, "revoked"],
      ["CHANGE_KIND_MEMBER_INVITED", "user:alice", "user:dave", undefined, "ROLE_MEMBER", undefined, "maybe"],
      ["CHANGE_KIND_MEMBER_ADDED", "user:bob", "user:bob", undefined, "ROLE_MANAGER", undefined, "glad to"],
      ["CHANGE_KIND_MEMBER_INVITED", "user:alice", "user:bob", undefined, "ROLE_MANAGER", undefined, "new lead"],
    ]);
  });

  it("BatchUpdateMemberships: one record per operation that changed something, with its own reason or the request's", async () => {
    const g = await newGroup();
    await alice.memberships.addMember({ groupId: g, member: "user:carol" });
    await alice.memberships.addMember({ groupId: g, member: "user:gone", role: Role.MANAGER });
    const { results } = await alice.memberships.batchUpdateMemberships({
      reason: "quarterly review",
      operations: [
        { operation: { case: "add", value: { groupId: g, member: "user:dave" } } },
        { operation: { case: "changeRole", value: { groupId: g, member: "user:carol", role: Role.MANAGER } }, reason: "promoted" },
        { operation: { case: "add", value: { groupId: g, member: "user:carol" } } },
        { operation: { case: "remove", value: { groupId: g, member: "user:nobody" } } },
        { operation: { case: "add", value: { groupId: g, member: "user:erin" } }, reason: tooLong },
        { operation: { case: "remove", value: { groupId: g, member: "user:gone" } }, reason: "left" },
      ],
    });
    expect(results.map((r) => [r.status?.code ?? 0, r.status?.message ?? ""])).toEqual([
      [0, ""],
      [0, ""],
      [0, ""],
      [5, expect.stringContaining("user:nobody") as string],
      [3, "reason: must be at most 1024 characters (got 1025)"],
      [0, ""],
    ]);
    const method = "roster.v1.MembershipService/BatchUpdateMemberships";
    expect((await history(g)).slice(0, 3)).toEqual([
      expect.objectContaining({
        kind: "CHANGE_KIND_MEMBER_REMOVED",
        member: "user:gone",
        roleBefore: "ROLE_MANAGER",
        reason: "left",
        method,
      }),
      expect.objectContaining({
        kind: "CHANGE_KIND_MEMBER_ROLE_CHANGED",
        member: "user:carol",
        roleBefore: "ROLE_MEMBER",
        roleAfter: "ROLE_MANAGER",
        reason: "promoted",
        method,
      }),
      expect.objectContaining({
        kind: "CHANGE_KIND_MEMBER_ADDED",
        member: "user:dave",
        roleAfter: "ROLE_MEMBER",
        reason: "quarterly review",
        method,
      }),
    ]);
    expect(await history(g, "user:erin")).toEqual([]);
  });

  it("refuses a reason over 1,024 characters on every mutating request, naming the field, and changes nothing", async () => {
    const g = await newGroup();
    const refusal = { code: "INVALID_ARGUMENT", message: "reason: must be at most 1024 characters (got 1025)" };
    const calls: (() => Promise<unknown>)[] = [
      () => alice.groups.createGroup({ group: { slug: uniqueSlug("r"), displayName: "R" }, reason: tooLong }),
      () => alice.groups.updateGroup({ group: { id: g, displayName: "R" }, updateMask: { paths: ["display_name"] }, reason: tooLong }),
      () => alice.groups.setGroupAcl({ groupId: g, entries: [], reason: tooLong }),
      () => alice.groups.deleteGroup({ id: g, reason: tooLong }),
      () => alice.groups.undeleteGroup({ id: g, reason: tooLong }),
      () => alice.memberships.addMember({ groupId: g, member: "user:bob", reason: tooLong }),
      () => alice.memberships.removeMember({ groupId: g, member: "user:alice", reason: tooLong }),
      () => alice.memberships.updateMemberRole({ groupId: g, member: "user:alice", role: Role.MANAGER, reason: tooLong }),
      () =>
        alice.memberships.batchUpdateMemberships({
          operations: [{ operation: { case: "add", value: { groupId: g, member: "user:bob" } } }],
          reason: tooLong,
        }),
    ];
    for (const call of calls) expect(await doorFailure(call())).toEqual(refusal);
    // 1,024 characters (also outside the BMP) are fine.
    await alice.memberships.addMember({ groupId: g, member: "user:bob", reason: "😀".repeat(1024) });
    expect((await history(g)).map((c) => c["kind"])).toEqual([
      "CHANGE_KIND_MEMBER_ADDED",
      "CHANGE_KIND_MEMBER_ADDED",
      "CHANGE_KIND_GROUP_CREATED",
    ]);
  });

  it("ListGroupHistory pages newest first with keyset tokens, filters by member and time, and validates its fields", async () => {
    const g = await newGroup();
    for (let i = 0; i < 5; i += 1) await alice.memberships.addMember({ groupId: g, member: `user:p${i}` });
    const all = (await alice.changes.listGroupHistory({ groupId: g })).changes;
    expect(all.map((c) => c.member)).toEqual(["user:p4", "user:p3", "user:p2", "user:p1", "user:p0", "user:alice", ""]);

    const seen: Change[] = [];
    let pageToken = "";
    do {
      const page = await alice.changes.listGroupHistory({ groupId: g, pageSize: 3, pageToken });
      expect(page.changes.length).toBeLessThanOrEqual(3);
      seen.push(...page.changes);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen.map((c) => c.id)).toEqual(all.map((c) => c.id));

    expect((await alice.changes.listGroupHistory({ groupId: g, member: "user:p2" })).changes.map((c) => c.kind)).toEqual([all[2]?.kind]);
    const p2Time = all[2]?.time;
    const since = (await alice.changes.listGroupHistory({ groupId: g, since: p2Time })).changes;
    expect(since.map((c) => c.member).slice(-1)).toEqual(["user:p2"]);
    expect((await alice.changes.listGroupHistory({ groupId: g, until: timestampFromDate(new Date(0)) })).changes).toEqual([]);

    const page = await alice.changes.listGroupHistory({ groupId: g, pageSize: 2 });
    expect(await doorFailure(alice.changes.listGroupHistory({ groupId: g, member: "user:p2", pageToken: page.nextPageToken }))).toEqual({
      code: "INVALID_ARGUMENT",
      message: "page_token: was issued for a different request (the other fields must be unchanged)",
    });
    expect(
      await doorFailure(
        alice.changes.listGroupHistory({ groupId: g, since: timestampFromDate(new Date(2000)), until: timestampFromDate(new Date(1000)) }),
      ),
    ).toEqual({
      code: "INVALID_ARGUMENT",
      message: "until: must be after since",
    });
    expect(await doorFailure(alice.changes.listGroupHistory({ groupId: g, member: "bob" }))).toEqual({
      code: "INVALID_ARGUMENT",
      message: 'member: must be "user:<id>", "group:<group id>" or "service:<id>"',
    });
    expect(await doorFailure(alice.changes.listGroupHistory({ groupId: "" }))).toEqual({
      code: "INVALID_ARGUMENT",
      message: "group_id: is required",
    });
  });

  /** Sends `messages` on one BatchMemberships stream and returns every response. */
  async function runStream(messages: readonly BatchRequest[]): Promise<BatchMembershipsResponse[]> {
    const responses: BatchMembershipsResponse[] = [];
    for await (const response of alice.memberships.batchMemberships(createAsyncIterable([...messages]))) responses.push(response);
    return responses;
  }

  if (door === "gRPC") {
    it("BatchMemberships: the stream's reason on its first message, an operation's own reason wins, a sync's removals carry the stream's", async () => {
      const g = await newGroup();
      await alice.memberships.addMember({ groupId: g, member: "user:old" });
      const imported = await runStream([
        { reason: "hr import" },
        request({ operation: { case: "add", value: { groupId: g, member: "user:new1" } } }),
        request({ operation: { case: "add", value: { groupId: g, member: "user:new2" } }, reason: "contractor" }),
      ]);
      expect(imported.map((r) => r.message.case)).toEqual(["result", "result"]);

      await runStream([
        { reason: "nightly sync", message: { case: "sync", value: { groupId: g, dryRun: false } } },
        ...["user:alice", "user:new1", "user:new2"].map((member) => request({ operation: { case: "add", value: { groupId: g, member } } })),
      ]);

      const method = "roster.v1.MembershipService/BatchMemberships";
      expect((await history(g)).slice(0, 3)).toEqual([
        expect.objectContaining({
          kind: "CHANGE_KIND_MEMBER_REMOVED",
          member: "user:old",
          roleBefore: "ROLE_MEMBER",
          reason: "nightly sync",
          method,
        }),
        expect.objectContaining({ kind: "CHANGE_KIND_MEMBER_ADDED", member: "user:new2", reason: "contractor", method }),
        expect.objectContaining({ kind: "CHANGE_KIND_MEMBER_ADDED", member: "user:new1", reason: "hr import", method }),
      ]);

      const failure = await doorFailure(
        runStream([
          request({ operation: { case: "add", value: { groupId: g, member: "user:late" } } }),
          request({ operation: { case: "add", value: { groupId: g, member: "user:later" } } }, "too late"),
        ]),
      );
      expect(failure).toEqual({ code: "INVALID_ARGUMENT", message: "reason: is only allowed on the first message of the stream" });
    });
  }
});

function request(operation: { operation: BatchOperationInit; reason?: string }, streamReason = ""): BatchRequest {
  return {
    reason: streamReason,
    message: { case: "operation", value: { reason: operation.reason ?? "", operation: operation.operation } },
  };
}

type BatchOperationInit =
  | { case: "add"; value: { groupId: string; member: string } }
  | { case: "remove"; value: { groupId: string; member: string } };
