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
async function drain(
  watch: Watch,
  count: number,
  timeoutMs: number,
): Promise<{ changes: Change[]; token: string; end: string | undefined }> {
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

  // The budget covers the waits below (the store coming back, the open streams, the resumed ones) on a loaded machine.
  it(
    "over both doors at once: the open streams carry on or end UNAVAILABLE, and resuming from the last token loses and repeats nothing",
    { timeout: 120_000 },
    async () => {
      const alice: DoorClients = doorClients("gRPC", endpoints, await roster.token("alice"));
      const groupId = (await alice.groups.createGroup({ group: { slug: uniqueSlug("restart"), displayName: "R" } })).group?.id ?? "";
      const watches = await Promise.all(
        doors.map(async (door) => ({ door, watch: openWatch(door, endpoints, await roster.token("alice"), { groupIds: [groupId] }) })),
      );
      try {
        for (const { watch } of watches) expect((await watch.next()).event.case).toBe("checkpoint");
        await alice.memberships.addMember({ groupId, member: "user:before" });
        const before = new Map<string, string>();
        for (const { door, watch } of watches) {
          const change = await watch.nextChange();
          expect(summary(change.change)).toBe("MEMBER_ADDED user:before");
          before.set(door, change.token);
        }

        await store.stop();
        store = await spawnEmbeddedMongo({ dataDir, port });
        await whenBack(() => alice.memberships.addMember({ groupId, member: "user:after-1" }));
        await alice.memberships.addMember({ groupId, member: "user:after-2" });
        const expected = ["MEMBER_ADDED user:after-1", "MEMBER_ADDED user:after-2"];

        for (const { door, watch } of watches) {
          // The open stream carries on (the driver resumes it after the restart), or, when the store stays away
          // longer than the driver's server selection (10 s), ends telling the client to resume.
          const live = await drain(watch, 2, 20_000);
          if (live.end !== undefined) expect(live.end).toMatch(/^UNAVAILABLE: /);
          else expect(live.changes.map(summary)).toEqual(expected);
          const delivered = live.changes.map(summary);
          const lastToken = live.token === "" ? (before.get(door) ?? "") : live.token;
          // The client resumes from its last token: the rest, exactly once.
          const resumed = openWatch(door, endpoints, await roster.token("alice"), { startToken: lastToken, groupIds: [groupId] });
          try {
            const rest = await resumed.changesUntilCheckpoint(20_000);
            expect([...delivered, ...rest.changes.map(summary)], door).toEqual(expected);
          } finally {
            resumed.cancel();
          }
        }
        // A token from before the restart is still a valid position.
        const page = await alice.changes.listChanges({ startToken: before.get("gRPC") ?? "", groupIds: [groupId] });
        expect(page.changes.map(summary)).toEqual(expected);
      } finally {
        for (const { watch } of watches) watch.cancel();
      }
    },
  );
});
