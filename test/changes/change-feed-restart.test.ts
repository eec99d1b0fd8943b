/**
 * A watcher survives a store restart: the embedded store runs as its own
 * process with a data directory and is restarted on the same port while a
 * WatchChanges stream is open. Whatever the open stream does meanwhile
 * (it resumes server-side, or ends with UNAVAILABLE), a client that resumes
 * from its last token gets every later change exactly once, and tokens
 * handed out before the restart stay valid after it. Embedded only: a
 * MONGODB_URI deployment cannot be restarted by a test.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChangeKind, type Change } from "../../gen/roster/v1/change_pb.ts";
import { doorClients, doors, type DoorClients, type DoorEndpoints } from "../fixtures/door-clients.ts";
import { spawnEmbeddedMongo, uniqueDbName, type SpawnedEmbeddedMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { openWatch, type Watch } from "../fixtures/watch-client.ts";
import { uniqueSlug } from "../fixtures/groups-through-app.ts";

const externalDeployment = (process.env["MONGODB_URI"] ?? "") !== "";

function summary(change: Change): string {
  return `${ChangeKind[change.kind]} ${change.member}`;
}

/** Retries `call` while the store is coming back (the RPC fails UNAVAILABLE or DEADLINE_EXCEEDED meanwhile). */
async function whenBack<T>(call: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * Reads `watch` until it delivers `count` changes or ends; returns the
 * changes, the last token received and how it ended (undefined: still open).
 */
async function drain(watch: Watch, count: number, timeoutMs: number): Promise<{ changes: Change[]; token: string; end: string | undefined }> {
  const changes: Change[] = [];
  let token = "";
  const until = Date.now() + timeoutMs;
  while (changes.length < count) {
    try {
      const message = await watch.next(Math.max(1, until - Date.now()));
      token = message.token;
      if (message.event.case === "change") changes.push(message.event.value);
    } catch {
      const ended = await Promise.race([watch.ended, new Promise<undefined>((resolve) => setTimeout(resolve, 10))]);
      return { changes, token, end: ended === undefined ? undefined : `${ended.code}: ${ended.details}` };
    }
  }
  return { changes, token, end: undefined };
}

describe.skipIf(externalDeployment)("a watcher and a store restart (embedded only: the test restarts the store process)", () => {
  let dataDir: string;
  let store: SpawnedEmbeddedMongo;
  let port: number;
  let roster: TestRoster;
  let endpoints: DoorEndpoints;

  // A store and a service per case: each case restarts its store once. (Restarting the same store a second time
  // under one service sometimes left the service's driver unable to reach it for over 60 s: reported, not fixed here.)
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "roster-restart-"));
    store = await spawnEmbeddedMongo({ dataDir });
    port = Number(new URL(store.uri.replace("mongodb://", "http://")).port);
    roster = await startTestRoster({
      mongoUri: store.uri,
      dbName: uniqueDbName("change_restart"),
      admins: ["user:root"],
      env: { ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS: "300" },
    });
    endpoints = { grpcAddress: roster.address, webUrl: roster.httpUrl };
  }, 120_000);

  afterEach(async () => {
    await roster.stop();
    await store.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  // The budget covers the waits below (the store coming back, the open stream, the resumed one) on a loaded machine.
  it.each(doors)("over %s: resuming from the last token after the restart loses and repeats nothing", { timeout: 120_000 }, async (door) => {
    const alice: DoorClients = doorClients(door, endpoints, await roster.token("alice"));
    const groupId = (await alice.groups.createGroup({ group: { slug: uniqueSlug("restart"), displayName: "R" } })).group?.id ?? "";
    const watch = openWatch(door, endpoints, await roster.token("alice"), { groupIds: [groupId] });
    try {
      expect((await watch.next()).event.case).toBe("checkpoint");
      await alice.memberships.addMember({ groupId, member: "user:before" });
      const before = await watch.nextChange();
      expect(summary(before.change)).toBe("MEMBER_ADDED user:before");

      await store.stop();
      store = await spawnEmbeddedMongo({ dataDir, port });
      await whenBack(() => alice.memberships.addMember({ groupId, member: "user:after-1" }));
      await alice.memberships.addMember({ groupId, member: "user:after-2" });

      // The open stream carries on (the driver resumes it after the restart; seen every time here), or,
      // when the store stays away longer than the driver's server selection (10 s), ends telling the client to resume.
      const live = await drain(watch, 2, 20_000);
      if (live.end !== undefined) expect(live.end).toMatch(/^UNAVAILABLE: /);
      else expect(live.changes.map(summary)).toEqual(["MEMBER_ADDED user:after-1", "MEMBER_ADDED user:after-2"]);
      const delivered = live.changes.map(summary);
      const lastToken = live.token === "" ? before.token : live.token;

      // The client resumes from its last token: the rest, exactly once.
      const resumed = openWatch(door, endpoints, await roster.token("alice"), { startToken: lastToken, groupIds: [groupId] });
      try {
        const rest = await resumed.changesUntilCheckpoint(20_000);
        expect([...delivered, ...rest.changes.map(summary)]).toEqual(["MEMBER_ADDED user:after-1", "MEMBER_ADDED user:after-2"]);
      } finally {
        resumed.cancel();
      }
      // A token from before the restart is still a valid position.
      const page = await alice.changes.listChanges({ startToken: before.token, groupIds: [groupId] });
      expect(page.changes.map(summary)).toEqual(["MEMBER_ADDED user:after-1", "MEMBER_ADDED user:after-2"]);
    } finally {
      watch.cancel();
    }
  });
});
