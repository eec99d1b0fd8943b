/**
 * The world the batch tests run in: the test MongoDB, a Roster server
 * in-process (real config, real gRPC door on a free port), fixtures created
 * through the app (fast, no RPC), and a direct database handle to check what
 * is really stored.
 */
import { MongoClient, type Db } from "mongodb";
import type { RosterApp } from "../../../src/app/index.ts";
import type { Caller, GroupRecord, MemberVisibility, Role, Visibility } from "../../../src/domain/model.ts";
import { groupInput } from "../../support/group-input.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../../support/mongo.ts";
import { startTestRoster, withDatabase, type TestRoster } from "../../support/roster-server.ts";

export const root: Caller = { principal: "user:root", isSystemAdmin: true };

export function userCaller(name: string): Caller {
  return { principal: `user:${name}`, isSystemAdmin: false };
}

export interface BatchWorld {
  readonly roster: TestRoster;
  readonly app: RosterApp;
  readonly db: Db;
  /** Creates a group (its creator becomes its only ADMIN) and returns its id. */
  group(creator: Caller, options?: { visibility?: Visibility; memberVisibility?: MemberVisibility; members?: Readonly<Record<string, Role>> }): Promise<string>;
  getGroup(id: string): Promise<GroupRecord>;
  /** member → role of the group's direct members, as stored. */
  members(groupId: string): Promise<Map<string, Role>>;
  stop(): Promise<void>;
}

let slugCounter = 0;

export async function startBatchWorld(prefix: string, env: Readonly<Record<string, string>> = {}, mongo?: TestMongo): Promise<BatchWorld> {
  const ownMongo = mongo === undefined;
  const store = mongo ?? (await startTestMongo());
  const dbName = uniqueDbName(prefix);
  const roster = await startTestRoster({ mongoUri: store.uri, dbName, admins: [root.principal], env });
  const client = new MongoClient(withDatabase(store.uri, dbName));
  await client.connect();
  const db = client.db(dbName);
  const app = roster.server.app;
  return {
    roster,
    app,
    db,
    async group(creator, options = {}) {
      slugCounter += 1;
      const slug = `batch-${process.pid}-${slugCounter}`;
      const group = await app.groups.create(creator, groupInput(slug, options), "");
      for (const [member, role] of Object.entries(options.members ?? {})) await app.memberships.add(root, group.id, member, role);
      return group.id;
    },
    async getGroup(id) {
      return (await app.groups.get(root, { id })).group;
    },
    async members(groupId) {
      const docs = await db.collection<{ member: string; role: Role }>("memberships").find({ groupId }).toArray();
      return new Map(docs.map((doc) => [doc.member, doc.role]));
    },
    async stop() {
      await client.close();
      await roster.stop();
      if (ownMongo) await store.stop();
    },
  };
}
