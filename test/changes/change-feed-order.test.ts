/**
 * The change feed's order and its limits, over both doors:
 * - commit order: two transactions that commit in the other order than
 *   they started are delivered in commit order, and a consumer resuming
 *   from the first delivered token gets the other exactly once;
 * - a token older than the change history the store still holds is
 *   FAILED_PRECONDITION telling the consumer to resynchronize (embedded
 *   store only: its change-log window is set small here; a MONGODB_URI
 *   deployment's oplog cannot be shrunk by a test).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeKind, type Change } from "../../gen/roster/v1/change_pb.ts";
import type { ChangeDraft } from "../../src/domain/change-record.ts";
import { startEmbeddedMongo, type EmbeddedMongo } from "@roster/embedded-mongo";
import { closeDatabase, connectDatabase, createDatabase, type Database } from "../../src/storage/database.ts";
import { createHistoryStore } from "../../src/storage/history-store.ts";
import { doorClients, doorFailure, doors, type DoorClients, type DoorEndpoints } from "../fixtures/door-clients.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, withDatabase, type TestRoster } from "../fixtures/roster-in-process.ts";
import { openWatch } from "../fixtures/watch-client.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

const externalDeployment = (process.env["MONGODB_URI"] ?? "") !== "";

function members(changes: readonly Change[]): string[] {
  return changes.map((change) => `${ChangeKind[change.kind]} ${change.member}`);
}

describe("commit order", () => {
  let mongo: TestMongo;
  let roster: TestRoster;
  let database: Database;
  let endpoints: DoorEndpoints;
  let groupId: string;

  beforeAll(async () => {
    mongo = await startTestMongo();
    const dbName = uniqueDbName("change_order");
    roster = await startTestRoster({
      mongoUri: mongo.uri,
      dbName,
      admins: ["user:root"],
      env: { ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS: "300" },
    });
    endpoints = { grpcAddress: roster.address, webUrl: roster.httpUrl };
    database = createDatabase(withDatabase(mongo.uri, dbName), { appName: "change-order-test", serverSelectionTimeoutMs: 5_000 });
    await connectDatabase(database);
    const root = doorClients("gRPC", endpoints, await roster.token("root"));
    groupId = (await root.groups.createGroup({ group: { slug: uniqueSlug("order"), displayName: "Order" } })).group?.id ?? "";
  });

  afterAll(async () => {
    await closeDatabase(database);
    await roster.stop();
    await mongo.stop();
  });

  /** A member's addition to the group, as the app's membership engine records it. */
  function addition(member: string): ChangeDraft {
    return {
      kind: "member_added",
      time: new Date(),
      actor: "user:root",
      groupId,
      namespace: "",
      member,
      roleBefore: undefined,
      roleAfter: "MEMBER",
      changedFields: [],
      before: undefined,
      after: undefined,
      reason: "",
      requestId: "",
      method: "",
    };
  }

  /** Two transactions writing records: the first to start commits last. */
  async function commitOutOfOrder(tag: string): Promise<void> {
    const history = createHistoryStore(database);
    const first = database.client.startSession();
    const second = database.client.startSession();
    try {
      first.startTransaction();
      await history.append([addition(`user:${tag}-started-first`)], { session: first });
      second.startTransaction();
      await history.append([addition(`user:${tag}-started-second`)], { session: second });
      await second.commitTransaction();
      await first.commitTransaction();
    } finally {
      await first.endSession();
      await second.endSession();
    }
  }

  describe.each(doors)("over %s", (door) => {
    let root: DoorClients;
    beforeAll(async () => {
      root = doorClients(door, endpoints, await roster.token("root"));
    });

    it("ListChanges: commit order, and resuming after the first delivered change gives the other exactly once", async () => {
      const start = (await root.changes.listChanges({ groupIds: [groupId] })).nextToken;
      await commitOutOfOrder(`list-${door}`);
      const page = await root.changes.listChanges({ startToken: start, groupIds: [groupId], pageSize: 1 });
      expect(members(page.changes)).toEqual([`MEMBER_ADDED user:list-${door}-started-second`]);
      const rest = await root.changes.listChanges({ startToken: page.nextToken, groupIds: [groupId] });
      expect(members(rest.changes)).toEqual([`MEMBER_ADDED user:list-${door}-started-first`]);
      expect(rest.caughtUp).toBe(true);
      expect((await root.changes.listChanges({ startToken: rest.nextToken, groupIds: [groupId] })).changes).toEqual([]);
    });

    it("WatchChanges: commit order live, and a watch resumed from the first delivered token gets the other exactly once", async () => {
      const watch = openWatch(door, endpoints, await roster.token("root"), { groupIds: [groupId] });
      try {
        expect((await watch.next()).event.case).toBe("checkpoint");
        await commitOutOfOrder(`watch-${door}`);
        const delivered = await watch.nextChange();
        expect(members([delivered.change])).toEqual([`MEMBER_ADDED user:watch-${door}-started-second`]);
        expect(members([(await watch.nextChange()).change])).toEqual([`MEMBER_ADDED user:watch-${door}-started-first`]);
        watch.cancel();
        const resumed = openWatch(door, endpoints, await roster.token("root"), { startToken: delivered.token, groupIds: [groupId] });
        try {
          const { changes } = await resumed.changesUntilCheckpoint(10_000);
          expect(members(changes)).toEqual([`MEMBER_ADDED user:watch-${door}-started-first`]);
        } finally {
          resumed.cancel();
        }
      } finally {
        watch.cancel();
      }
    });
  });
});

describe.skipIf(externalDeployment)("a token older than the change history (embedded only: the window is set small)", () => {
  let store: EmbeddedMongo;
  let roster: TestRoster;
  let endpoints: DoorEndpoints;

  beforeAll(async () => {
    store = await startEmbeddedMongo({ port: 0, changeLogRetention: 40 });
    roster = await startTestRoster({ mongoUri: store.uri, dbName: uniqueDbName("change_lost"), admins: ["user:root"] });
    endpoints = { grpcAddress: roster.address, webUrl: roster.httpUrl };
  });

  afterAll(async () => {
    await roster.stop();
    await store.stop();
  });

  it.each(doors)("is FAILED_PRECONDITION on ListChanges and WatchChanges over %s, saying to resynchronize", async (door) => {
    const root = doorClients(door, endpoints, await roster.token("root"));
    const groupId = (await root.groups.createGroup({ group: { slug: uniqueSlug("lost"), displayName: "Lost" } })).group?.id ?? "";
    const old = (await root.changes.listChanges({})).nextToken;
    await root.memberships.addMember({ groupId, member: "user:kept-for-now" });
    const stillThere = await root.changes.listChanges({ startToken: old });
    expect(members(stillThere.changes)).toEqual(["MEMBER_ADDED user:kept-for-now"]);
    // Every change also writes other documents: 40 additions push the token out of a 40-entry window.
    for (let i = 0; i < 40; i += 1) await root.memberships.addMember({ groupId, member: `user:filler-${i}` });

    const expected = {
      code: "FAILED_PRECONDITION",
      message:
        "start_token: the change history no longer reaches back to this token; resynchronize from the list RPCs (ListGroups, ListMemberships) and continue from a new token",
    };
    expect(await doorFailure(root.changes.listChanges({ startToken: old }))).toEqual(expected);
    const watch = openWatch(door, endpoints, await roster.token("root"), { startToken: old });
    expect(await watch.ended).toEqual({ code: expected.code, details: expected.message });
    // A recent token still works.
    const recent = (await root.changes.listChanges({})).nextToken;
    await root.memberships.addMember({ groupId, member: "user:recent" });
    expect(members((await root.changes.listChanges({ startToken: recent })).changes)).toEqual(["MEMBER_ADDED user:recent"]);
  });
});
