/**
 * A RosterApp over a fresh database of the test MongoDB, plus helpers that
 * call the app the way the RPC pipeline does: authorize with the method's
 * declared rule (the table proven equal to the proto options), then run the
 * use case with the same request memo.
 */
import { MongoClient, type CommandStartedEvent, type Db } from "mongodb";
import { expect } from "vitest";
import { createRosterApp } from "../../src/app/roster-app.ts";
import { createRequestMemo } from "../../src/app/request-memo.ts";
import type { AccessTarget, CallOptions, GroupInput, RosterApp, RosterAppDeps } from "../../src/app/index.ts";
import { isRosterError } from "../../src/domain/errors.ts";
import type { Caller, GroupRecord } from "../../src/domain/model.ts";
import { accessRules, type RpcName } from "../domain/access-rules-table.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../support/mongo.ts";

export interface AppFixture {
  readonly app: RosterApp;
  readonly client: MongoClient;
  readonly db: Db;
  /** Every command the app's client sent (recorded only with `monitorCommands`). */
  readonly commands: CommandStartedEvent[];
  /** Authorize `caller` for `rpc` on `target` (as the pipeline does), then run `use` with the same memo. */
  rpc<T>(caller: Caller, rpc: RpcName, target: AccessTarget, use: (options: CallOptions) => Promise<T>): Promise<T>;
  /** A second app over the same database (e.g. with a creator group configured). */
  withDeps(deps: Partial<RosterAppDeps>): Promise<RosterApp>;
  stop(): Promise<void>;
}

let shared: { mongo: TestMongo; users: number } | undefined;

export async function startAppFixture(
  prefix: string,
  deps: Partial<RosterAppDeps> = {},
  { monitorCommands = false }: { monitorCommands?: boolean } = {},
): Promise<AppFixture> {
  shared ??= { mongo: await startTestMongo(), users: 0 };
  shared.users += 1;
  const client = new MongoClient(shared.mongo.uri, { monitorCommands });
  const commands: CommandStartedEvent[] = [];
  if (monitorCommands) client.on("commandStarted", (event) => commands.push(event));
  await client.connect();
  const db = client.db(uniqueDbName(prefix));
  const database = { client, db };
  const app = await createRosterApp({ database, ...deps });
  return {
    app,
    client,
    db,
    commands,
    async rpc(caller, rpc, target, use) {
      const memo = createRequestMemo();
      await app.access.authorize(caller, accessRules[rpc], target, { memo });
      return use({ memo });
    },
    withDeps: (more) => createRosterApp({ database, ...deps, ...more }),
    async stop() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
      if (shared !== undefined) {
        shared.users -= 1;
        if (shared.users === 0) {
          const { mongo } = shared;
          shared = undefined;
          await mongo.stop();
        }
      }
    },
  };
}

export function user(name: string): Caller {
  return { principal: `user:${name}`, isSystemAdmin: false };
}

export const systemAdmin: Caller = { principal: "user:root", isSystemAdmin: true };

/** The shared CreateGroup input builder, offered here with the other app helpers. */
export { groupInput } from "../support/group-input.ts";

/** "<kind>: <message>" of the RosterError `promise` rejects with (fails the test otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (!isRosterError(error)) throw error;
    return `${error.kind}: ${error.message}`;
  }
  expect.fail("expected a RosterError, the call succeeded");
}

/** Creates a group as `caller` through the CreateGroup rule. */
export function createGroup(fx: AppFixture, caller: Caller, input: GroupInput, requestId = ""): Promise<GroupRecord> {
  return fx.rpc(caller, "CreateGroup", { groupId: input.parentId }, (o) => fx.app.groups.create(caller, input, requestId, o));
}

/** Adds `member` with `role` to `groupId` as `caller` through the AddMember rule. */
export async function addMember(
  fx: AppFixture,
  caller: Caller,
  groupId: string,
  member: string,
  role: "MEMBER" | "MANAGER" | "ADMIN" = "MEMBER",
): Promise<void> {
  await fx.rpc(caller, "AddMember", { groupId, member, role }, (o) => fx.app.memberships.add(caller, groupId, member, role, o));
}
