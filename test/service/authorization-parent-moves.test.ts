/**
 * The authorization matrix of parent moves: every kind of caller ×
 * taking a group out of its parent (to the top level, or under another
 * parent), with the update_mask `parent_id` and with no mask (a full
 * replace), with and without ROSTER_CREATOR_GROUP, through both doors (gRPC,
 * and Connect JSON on the web door), with the exact code and message each
 * gets.
 *
 * G is a child of P as caller-profiles.ts describes it, with one more
 * profile: parent-creator, ADMIN of P like parent-admin. A case expected to
 * move G moves a fresh G of its own; the refused cases of a configuration
 * share one G, which each of them checks is still under P afterwards (a
 * refusal that moved it anyway fails that case, or the next one). Both are MANAGERs of P2, the destination of moves, and so is
 * admin. The creator group C holds admin and parent-creator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import type { AclEntry } from "../../src/domain/model.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { createProtocolClient, type Outcome, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";
import { callerProfiles, makeProfileAcl, makeProfileTarget, profilePrincipals } from "../fixtures/caller-profiles.ts";
import { makeGroup, root } from "../fixtures/groups-through-app.ts";

const callers = [...callerProfiles, "parent admin in the creator group"] as const;
type CallerName = (typeof callers)[number];
const principals: Readonly<Record<CallerName, string>> = { ...profilePrincipals, "parent admin in the creator group": "parent-creator" };

const doors: readonly ProtocolName[] = ["gRPC", "Connect JSON"];
const configs = ["without ROSTER_CREATOR_GROUP", "with ROSTER_CREATOR_GROUP"] as const;
type ConfigName = (typeof configs)[number];
const moves = ["detach", "move to P2"] as const;
type MoveName = (typeof moves)[number];
const masks = ["mask parent_id", "no mask"] as const;

/** What a case expects, with G, P and P2 filled in by the case. */
type Expected = "OK" | { readonly code: number; readonly message: (ids: { g: string; p: string }) => string };
const notFound: Expected = { code: 5, message: ({ g }) => `group "${g}" not found` };
const needsManageOnGroup: Expected = {
  code: 7,
  message: ({ g }) => `permission denied: MANAGE on group ${g} is required to change group.parent_id`,
};
const needsManageOnParent: Expected = {
  code: 7,
  message: ({ g, p }) => `permission denied: MANAGE on group ${p} is required to move group ${g} out of it`,
};
const needsCreatorGroup: Expected = {
  code: 7,
  message: ({ g }) => `permission denied: membership of the creator group is required to make group ${g} top-level`,
};

/** The outcome of each caller, by move and configuration (masks do not change it). */
function expected(caller: CallerName, move: MoveName, config: ConfigName): Expected {
  switch (caller) {
    case "stranger":
      return notFound;
    case "member":
    case "manager":
    case "acl grantee":
    case "nested acl grantee":
      return needsManageOnGroup;
    case "admin":
      // ADMIN of G (and in the creator group), but G would leave P's managers.
      return needsManageOnParent;
    case "parent admin":
      return move === "detach" && config === "with ROSTER_CREATOR_GROUP" ? needsCreatorGroup : "OK";
    case "parent admin in the creator group":
    case "system admin":
      return "OK";
  }
}

interface World {
  readonly roster: TestRoster;
  readonly parentId: string;
  readonly destinationId: string;
  readonly acl: readonly AclEntry[];
  /** The G the refused cases share (they leave it where it is). */
  readonly refusedTargetId: string;
  readonly tokens: ReadonlyMap<CallerName, string>;
  readonly clients: ReadonlyMap<ProtocolName, ProtocolClient>;
}

let mongo: TestMongo;
const worlds = new Map<ConfigName, World>();

async function makeWorld(roster: TestRoster, acl: readonly AclEntry[]): Promise<World> {
  const app = roster.server.app;
  const parentId = await makeGroup(app, { members: { "user:parent-admin": "ADMIN", "user:parent-creator": "ADMIN" } });
  const destinationId = await makeGroup(app, {
    members: { "user:admin": "MANAGER", "user:parent-admin": "MANAGER", "user:parent-creator": "MANAGER" },
  });
  const tokens = new Map<CallerName, string>();
  for (const caller of callers) tokens.set(caller, await roster.token(principals[caller]));
  const endpoints = { grpcAddress: roster.address, webUrl: roster.httpUrl };
  const clients = new Map(doors.map((door) => [door, createProtocolClient(door, endpoints)] as const));
  const refusedTargetId = await makeProfileTarget(app, parentId, acl);
  return { roster, parentId, destinationId, acl, refusedTargetId, tokens, clients };
}

beforeAll(async () => {
  mongo = await startTestMongo();
  const dbName = uniqueDbName("authz_moves");
  const plain = await startTestRoster({ mongoUri: mongo.uri, dbName, admins: ["user:root"] });
  const app = plain.server.app;
  const acl = await makeProfileAcl(app);
  const creators = await makeGroup(app, { members: { "user:admin": "MEMBER", "user:parent-creator": "MEMBER" } });
  const restricted = await startTestRoster({
    mongoUri: mongo.uri,
    dbName,
    admins: ["user:root"],
    env: { ROSTER_CREATOR_GROUP: creators },
  });
  worlds.set("without ROSTER_CREATOR_GROUP", await makeWorld(plain, acl));
  worlds.set("with ROSTER_CREATOR_GROUP", await makeWorld(restricted, acl));
}, 120_000);

afterAll(async () => {
  for (const world of worlds.values()) {
    for (const client of world.clients.values()) client.close();
    await world.roster.stop();
  }
  await mongo.stop();
});

const cases = configs.flatMap((config) =>
  doors.flatMap((door) =>
    moves.flatMap((move) => masks.flatMap((mask) => callers.map((caller) => ({ config, door, move, mask, caller })))),
  ),
);

describe("authorization matrix of parent moves, over both doors", () => {
  it.each(cases)("$config, $door: $move with $mask by $caller", async ({ config, door, move, mask, caller }) => {
    const world = worlds.get(config);
    const client = world?.clients.get(door);
    if (world === undefined || client === undefined) throw new Error("world not set up");
    const app = world.roster.server.app;
    const want = expected(caller, move, config);
    const groupId = want === "OK" ? await makeProfileTarget(app, world.parentId, world.acl) : world.refusedTargetId;
    const stored = await app.groups.get(root, { id: groupId });
    const newParentId = move === "detach" ? "" : world.destinationId;
    const group =
      mask === "no mask"
        ? {
            id: groupId,
            displayName: stored.group.displayName,
            description: stored.group.description,
            labels: { ...stored.group.labels },
            parentId: newParentId,
            // The stored policies (PRIVATE / MEMBERS), written out as a client replacing every field would.
            policies: { visibility: 1, memberVisibility: 1 },
          }
        : { id: groupId, parentId: newParentId };
    const request = mask === "no mask" ? { group } : { group, updateMask: { paths: ["parent_id"] } };
    const outcome: Outcome = await client.call(GroupService, "UpdateGroup", request, world.tokens.get(caller));

    const after = await app.groups.get(root, { id: groupId });
    if (want === "OK") {
      expect(outcome).toMatchObject({
        code: "OK",
        response: { group: { id: groupId, ...(newParentId === "" ? {} : { parentId: newParentId }) } },
      });
      expect(after.group.parentId).toBe(newParentId);
    } else {
      expect(outcome).toEqual({ code: want.code, message: want.message({ g: groupId, p: world.parentId }) });
      expect(after.group.parentId).toBe(world.parentId);
    }
  });
});
