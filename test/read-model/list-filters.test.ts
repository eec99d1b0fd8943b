/**
 * ListGroups' permission and member_principals filters answered from the
 * read model: for every caller and combination of the filters (a minimum
 * permission, direct members, deleted groups, two orders, pages of three),
 * the model's listing (pages, totals, the caller's access) is the database's
 * (fully_consistent), and the model lists without a query on `groups`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListGroupsQuery } from "../../src/app/index.ts";
import type { GroupPage } from "../../src/app/list-groups.ts";
import { fullyConsistent, minimizeLatency, type ReadConsistency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { readOptions, startReplica, type Replica } from "../fixtures/read-model-replicas.ts";

const ns = "lf";
const caller = (name: string): Caller => ({ principal: `user:${name}`, isSystemAdmin: false });
const owner = caller("lf-owner");
const viewer = "user:lf-viewer";
const peer = "user:lf-peer";
const callers = [caller("lf-viewer"), caller("lf-peer"), caller("lf-nested"), caller("lf-outsider"), owner];

let mongo: TestMongo;
let replica: Replica;
let teamId: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  replica = await startReplica(mongo.uri, uniqueDbName("list_filters"), { maxLagMs: 5_000, cachedMemberships: 10_000 });
  const app = replica.app;
  const make = async (key: string, members: Record<string, "MEMBER" | "MANAGER" | "ADMIN">, overrides = {}): Promise<string> => {
    const group = await app.groups.create(owner, groupInput(`lf-${key}`, { namespace: ns, ...overrides }), "", {});
    for (const [member, role] of Object.entries(members)) await app.memberships.add(owner, group.id, member, role, {});
    return group.id;
  };
  teamId = await make("team", { [viewer]: "MEMBER", "user:lf-nested": "MEMBER" });
  const team = `group:${teamId}`;
  await make("read", { [viewer]: "MEMBER", [peer]: "MEMBER" });
  await make("quiet", { [viewer]: "MEMBER", [peer]: "MEMBER" }, { memberVisibility: "MANAGERS" });
  await make("write", { [viewer]: "MANAGER", [team]: "MEMBER" });
  const manage = await make("manage", { [viewer]: "ADMIN" });
  await make("child", { [peer]: "MEMBER" }, { parentId: manage });
  const grandchild = await make("grandchild", { [team]: "MANAGER" }, { parentId: manage });
  await make("great", { [peer]: "ADMIN" }, { parentId: grandchild });
  const aclw = await make("aclw", { [peer]: "MEMBER" });
  await app.groups.setAcl(owner, aclw, [{ principal: viewer, permission: "WRITE" }], "");
  const aclTeam = await make("acl-team", { [peer]: "MEMBER" });
  await app.groups.setAcl(owner, aclTeam, [{ principal: team, permission: "READ" }], "");
  const aclManage = await make("acl-manage", {});
  await app.groups.setAcl(owner, aclManage, [{ principal: team, permission: "MANAGE" }], "");
  await make("acl-child", { [peer]: "MEMBER" }, { parentId: aclManage });
  await make("public", { [peer]: "MEMBER" }, { visibility: "AUTHENTICATED" });
  await make("public-team", { [team]: "MEMBER" }, { visibility: "AUTHENTICATED" });
  await make("public-quiet", {}, { visibility: "AUTHENTICATED" });
  await make("hidden", { [peer]: "MEMBER" });
  const gone = await make("gone", { [viewer]: "ADMIN", [peer]: "MEMBER" });
  await app.groups.delete(owner, gone, "", {});
  const goneAcl = await make("gone-acl", {});
  await app.groups.setAcl(owner, goneAcl, [{ principal: viewer, permission: "MANAGE" }], "");
  await app.groups.delete(owner, goneAcl, "", {});
  await make("pending", {});
});

afterAll(async () => {
  await replica.close();
  await mongo.stop();
});

/** Every page of a listing under `consistency` (pages of three), with each page's total and the caller's access. */
async function listAll(who: Caller, query: ListGroupsQuery, consistency: ReadConsistency): Promise<unknown[]> {
  const pages: unknown[] = [];
  let pageToken = "";
  for (let i = 0; i < 50; i++) {
    const page: GroupPage = await replica.app.groups.list(who, { ...query, pageToken }, readOptions(consistency));
    pages.push({
      slugs: page.groups.map((group) => group.slug),
      totalSize: page.totalSize,
      access: page.groups.map((group) => page.access.get(group.id)),
    });
    pageToken = page.nextPageToken;
    if (pageToken === "") return pages;
  }
  throw new Error("more than 50 pages");
}

const memberFilters = (): string[][] => [[], [peer], [viewer, peer], [`group:${teamId}`], ["user:lf-nobody"]];
const permissions = [undefined, "READ", "WRITE", "MANAGE"] as const;

describe("ListGroups' permission and member filters from the read model", () => {
  it("list exactly what the database lists, for every caller and combination of filters", async () => {
    let compared = 0;
    let nonEmpty = 0;
    for (const who of callers) {
      for (const permission of permissions) {
        for (const memberPrincipals of memberFilters()) {
          for (const [showDeleted, orderBy] of [
            [false, ""],
            [true, "create_time desc"],
          ] as const) {
            const query: ListGroupsQuery = {
              namespace: ns,
              parentId: undefined,
              query: "",
              showDeleted,
              pageSize: 3,
              pageToken: "",
              orderBy,
              permission,
              memberPrincipals,
            };
            const what = `${who.principal} ${JSON.stringify({ permission, memberPrincipals, showDeleted })}`;
            replica.clearCommands();
            const model = await listAll(who, query, minimizeLatency);
            const groupQueries = replica.readCommands().filter((event) => event.command[event.commandName] === "groups");
            expect(
              groupQueries.map((event) => event.commandName),
              `${what}: the model asked the database`,
            ).toEqual([]);
            expect(model, what).toEqual(await listAll(who, query, fullyConsistent));
            compared += 1;
            if ((model[0] as { slugs: string[] }).slugs.length > 0) nonEmpty += 1;
          }
        }
      }
    }
    expect(compared).toBe(callers.length * permissions.length * memberFilters().length * 2);
    // The combinations are not vacuous: most list something.
    expect(nonEmpty).toBeGreaterThan(compared / 2);
  }, 120_000);

  it("lists the expected groups for the viewer (the filters mean what ListGroups says)", async () => {
    const slugs = async (query: Partial<ListGroupsQuery>): Promise<string[]> => {
      const page = await replica.app.groups.list(
        caller("lf-viewer"),
        { namespace: ns, parentId: undefined, query: "", showDeleted: false, pageSize: 100, pageToken: "", orderBy: "", ...query },
        readOptions(minimizeLatency),
      );
      return page.groups.map((group) => group.slug.slice("lf-".length)).sort();
    };
    expect(await slugs({ permission: "MANAGE" })).toEqual(["acl-child", "acl-manage", "child", "grandchild", "great", "manage"]);
    expect(await slugs({ permission: "WRITE" })).toEqual([
      "acl-child",
      "acl-manage",
      "aclw",
      "child",
      "grandchild",
      "great",
      "manage",
      "write",
    ]);
    expect(await slugs({ memberPrincipals: [peer] })).toEqual(["acl-child", "acl-team", "aclw", "child", "great", "read"]);
    expect(await slugs({ memberPrincipals: [`group:${teamId}`], permission: "MANAGE" })).toEqual(["grandchild"]);
  });
});
