/**
 * One pipeline, two doors: the same table of calls runs through gRPC (grpc-js
 * on the gRPC door) and through Connect JSON, Connect binary and gRPC-web
 * (connect-node clients on the web door), against one real Roster. Each
 * protocol works in its own namespace; afterwards the outcomes — codes,
 * messages and responses with server-generated values masked — must be
 * identical across all four. A group read by the same caller through every
 * protocol must come back byte-for-byte the same JSON.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { createConnectGetGroup } from "../../bench/support/connect-getgroup.ts";
import { createProtocolClient, protocolNames, type Outcome, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";
import { startRosterStack, type RosterStack } from "../fixtures/roster-both-doors.ts";

let stack: RosterStack;
let alice: string;
let bob: string;
let expired: string;

beforeAll(async () => {
  stack = await startRosterStack();
  alice = await stack.token("alice");
  bob = await stack.token("bob");
  expired = await stack.token("alice", { ttlSeconds: -120 });
});

afterAll(async () => {
  await stack.stop();
});

/** Server-generated values, replaced by stable placeholders before comparing protocols. */
const generatedKeys = new Set(["consistencyToken", "id", "groupId", "parentId", "etag", "createTime", "updateTime", "deleteTime"]);

/** Masks ids, etags and times (and the protocol's namespace) so outcomes of different runs compare equal. */
function mask(outcome: Outcome, namespace: string, ids: Map<string, string>): unknown {
  const placeholder = (value: string): string => {
    let seen = ids.get(value);
    if (seen === undefined) {
      seen = `<id${ids.size + 1}>`;
      ids.set(value, seen);
    }
    return seen;
  };
  const text = (value: string): string => {
    let out = value.split(namespace).join("<ns>");
    for (const [id, name] of ids) out = out.split(id).join(name);
    return out;
  };
  const walk = (value: JsonValue, key?: string): unknown => {
    if (typeof value === "string") {
      if (key !== undefined && generatedKeys.has(key) && value !== "") {
        return key === "id" || key === "groupId" || key === "parentId" ? placeholder(value) : `<${key}>`;
      }
      return text(value);
    }
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (value !== null && typeof value === "object") {
      // Map keys may be ids too (ListGroups' caller_access, by group id).
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), walk(v, k)]));
    }
    return value;
  };
  if (outcome.code === "OK") return { code: "OK", response: walk(outcome.response) };
  return { code: outcome.code, message: text(outcome.message) };
}

const outcomesByProtocol = new Map<ProtocolName, unknown[]>();

describe.each(protocolNames)("%s", (protocol) => {
  let client: ProtocolClient;
  const namespace = `ns-${protocol.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  const recorded: unknown[] = [];
  const ids = new Map<string, string>();
  let groupId = "";
  let etag = "";

  beforeAll(() => {
    client = createProtocolClient(protocol, { grpcAddress: stack.grpcAddress, webUrl: stack.webUrl });
    outcomesByProtocol.set(protocol, recorded);
  });
  afterAll(() => {
    client.close();
  });

  /** Calls and records the masked outcome for the cross-protocol comparison. */
  async function call(
    service: typeof GroupService | typeof MembershipService,
    method: string,
    request: object,
    token?: string,
  ): Promise<Outcome> {
    const outcome = await client.call(service, method, request, token);
    recorded.push({ call: `${service.name}/${method}`, ...(mask(outcome, namespace, ids) as object) });
    return outcome;
  }
  function ok(outcome: Outcome): Record<string, JsonValue> {
    if (outcome.code !== "OK") throw new Error(`expected OK, got ${Code[outcome.code]}: ${outcome.message}`);
    return outcome.response as Record<string, JsonValue>;
  }

  it("CreateGroup: the caller becomes its first ADMIN", async () => {
    const response = ok(await call(GroupService, "CreateGroup", { group: { namespace, slug: "team", displayName: "Team" } }, alice));
    const group = response["group"] as Record<string, JsonValue>;
    expect(group).toMatchObject({
      namespace,
      slug: "team",
      displayName: "Team",
      createdBy: "user:alice",
      memberCount: 1,
      state: "GROUP_STATE_ACTIVE",
    });
    groupId = group["id"] as string;
    etag = group["etag"] as string;
  });

  it("CreateGroup: the same slug again is ALREADY_EXISTS", async () => {
    const outcome = await call(GroupService, "CreateGroup", { group: { namespace, slug: "team", displayName: "Again" } }, alice);
    expect(outcome.code).toBe(Code.AlreadyExists);
  });

  it("CreateGroup: an invalid slug is INVALID_ARGUMENT naming the field", async () => {
    const outcome = await call(GroupService, "CreateGroup", { group: { namespace, slug: "Not A Slug", displayName: "x" } }, alice);
    expect(outcome).toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^group\.slug: /) as unknown });
  });

  it("no token, a malformed token and an expired token are UNAUTHENTICATED", async () => {
    for (const token of [undefined, "not-a-jwt", expired]) {
      const outcome = await call(GroupService, "GetGroup", { id: groupId }, token);
      expect(outcome.code).toBe(Code.Unauthenticated);
    }
  });

  it("GetGroup by namespace and slug tells the ADMIN what it may do", async () => {
    const response = ok(await call(GroupService, "GetGroup", { namespace, slug: "team" }, alice));
    expect(response["callerAccess"]).toMatchObject({ role: "ROLE_ADMIN" });
  });

  it("a stranger cannot see the group: NOT_FOUND, exactly like a missing one", async () => {
    const hidden = await call(GroupService, "GetGroup", { id: groupId }, bob);
    const missing = await call(GroupService, "GetGroup", { id: "nosuchgroup00000" }, bob);
    expect(hidden.code).toBe(Code.NotFound);
    expect(missing.code).toBe(Code.NotFound);
  });

  it("AddMember, then the member reads but may not update", async () => {
    const added = ok(await call(MembershipService, "AddMember", { groupId, member: "user:bob", role: Role.MEMBER }, alice));
    expect(added).toMatchObject({ created: true, membership: { member: "user:bob", role: "ROLE_MEMBER" } });
    const again = ok(await call(MembershipService, "AddMember", { groupId, member: "user:bob", role: Role.MEMBER }, alice));
    expect(again["created"] ?? false).toBe(false);

    const seen = ok(await call(GroupService, "GetGroup", { id: groupId }, bob));
    expect(seen["callerAccess"]).toMatchObject({ role: "ROLE_MEMBER" });
    const update = await call(
      GroupService,
      "UpdateGroup",
      { group: { id: groupId, displayName: "Bob's" }, updateMask: { paths: ["display_name"] } },
      bob,
    );
    expect(update.code).toBe(Code.PermissionDenied);
  });

  it("ListGroups, ListMemberships and CheckMembership", async () => {
    const listed = ok(await call(GroupService, "ListGroups", { namespace }, bob));
    expect((listed["groups"] as JsonValue[]).length).toBe(1);
    const members = ok(await call(MembershipService, "ListMemberships", { groupId }, alice));
    expect((members["memberships"] as { member: string }[]).map((m) => m.member).sort()).toEqual(["user:alice", "user:bob"]);
    const check = ok(await call(MembershipService, "CheckMembership", { groupId, principal: "user:bob" }, bob));
    expect(check).toMatchObject({ isMember: true, role: "ROLE_MEMBER" });
  });

  it("RemoveMember of a non-member is NOT_FOUND; DeleteGroup with a stale etag is ABORTED", async () => {
    expect((await call(MembershipService, "RemoveMember", { groupId, member: "user:carol" }, alice)).code).toBe(Code.NotFound);
    const renamed = ok(
      await call(
        GroupService,
        "UpdateGroup",
        { group: { id: groupId, displayName: "Team 2" }, updateMask: { paths: ["display_name"] } },
        alice,
      ),
    );
    expect((renamed["group"] as Record<string, JsonValue>)["etag"]).not.toBe(etag);
    expect((await call(GroupService, "DeleteGroup", { id: groupId, etag }, alice)).code).toBe(Code.Aborted);
  });

  it("a request above the 4 MiB message limit is RESOURCE_EXHAUSTED (not compared: each door words it its own way)", async () => {
    const huge = "x".repeat(4 * 1024 * 1024 + 1);
    const outcome = await client.call(
      GroupService,
      "CreateGroup",
      { group: { namespace, slug: "huge", displayName: "Huge", description: huge } },
      alice,
    );
    expect(outcome.code).toBe(Code.ResourceExhausted);
    const listed = ok(await client.call(GroupService, "ListGroups", { namespace, query: "huge" }, alice));
    expect(listed["groups"] ?? []).toEqual([]);
  });
});

describe("across protocols", () => {
  it("every protocol produced the same outcomes, call by call", () => {
    const reference = outcomesByProtocol.get("gRPC");
    expect(reference?.length).toBeGreaterThan(10);
    for (const protocol of protocolNames) {
      expect(outcomesByProtocol.get(protocol), protocol).toEqual(reference);
    }
  });

  it("the server logged one line per RPC naming door and protocol, never the token", () => {
    const lines = stack.logs().filter((line) => line["msg"] === "rpc" && line["method"] === "roster.v1.GroupService/CreateGroup");
    const seen = new Set(lines.map((line) => `${String(line["door"])}/${String(line["protocol"])}`));
    expect([...seen].sort()).toEqual(["grpc/grpc", "web/connect", "web/grpc-web"]);
    for (const line of lines) {
      expect(line).toMatchObject({
        code: expect.any(String) as unknown,
        ms: expect.any(Number) as unknown,
        requestId: expect.any(String) as unknown,
      });
      expect(String(line["peer"])).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    const raw = JSON.stringify(stack.logs());
    expect(raw).not.toContain(alice);
    expect(raw).not.toContain(bob);
  });

  it("metrics count every call once, by door (the pipeline's metrics step is not doubled by the web door)", async () => {
    const metric = stack.metrics.registry.getSingleMetric("roster_rpc_handled_total");
    const values = (await metric?.get())?.values ?? [];
    const count = (door: string, code: string): number | undefined =>
      values.find(
        (v) => v.labels["door"] === door && v.labels["method"] === "roster.v1.GroupService/CreateGroup" && v.labels["code"] === code,
      )?.value;
    expect(count("grpc", "ALREADY_EXISTS")).toBe(1);
    expect(count("web", "ALREADY_EXISTS")).toBe(3);
    expect(count("web", "INVALID_ARGUMENT")).toBe(3);
  });

  it("the same group read by the same caller is identical through all four", async () => {
    const clients = protocolNames.map((name) => createProtocolClient(name, { grpcAddress: stack.grpcAddress, webUrl: stack.webUrl }));
    try {
      const created = await clients[0]?.call(
        GroupService,
        "CreateGroup",
        { group: { slug: "shared", displayName: "Shared", labels: { tier: "gold" } } },
        alice,
      );
      if (created?.code !== "OK") throw new Error("CreateGroup failed");
      const id = ((created.response as Record<string, JsonValue>)["group"] as Record<string, JsonValue>)["id"];
      const reads = await Promise.all(clients.map((c) => c.call(GroupService, "GetGroup", { id }, alice)));
      for (const read of reads) expect(read).toEqual(reads[0]);
      expect(reads[0]?.code).toBe("OK");
    } finally {
      for (const c of clients) c.close();
    }
  });

  it("the bench's Connect GetGroup call works against the web door, and fails loudly on a wrong id", async () => {
    const grpcClient = createProtocolClient("gRPC", { grpcAddress: stack.grpcAddress, webUrl: stack.webUrl });
    const created = await grpcClient.call(GroupService, "CreateGroup", { group: { slug: "bench", displayName: "Bench" } }, alice);
    grpcClient.close();
    if (created.code !== "OK") throw new Error("CreateGroup failed");
    const id = ((created.response as Record<string, JsonValue>)["group"] as Record<string, JsonValue>)["id"] as string;
    for (const variant of [{}, { json: true }, { httpGet: true }, { h2c: true }, { prepared: true }, { prepared: true, h2c: true }]) {
      const bench = createConnectGetGroup({ baseUrl: stack.webUrl, token: alice, maxSockets: 4, ...variant });
      try {
        await Promise.all([bench.call(id), bench.call(id), bench.call(id)]);
        await expect(bench.call("nosuchgroup00000")).rejects.toMatchObject({ code: Code.NotFound });
      } finally {
        bench.close();
      }
    }
  });
});
