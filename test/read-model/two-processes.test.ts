/**
 * Two Roster processes (`node src/main.ts`, each with its read model) on one
 * embedded store in a third: a write through A is seen by B at once with
 * A's consistency token, a revocation through A stops granting through B;
 * the store stopped, both stop serving from their models and say so (no
 * answer from memory while the database is gone); the store restarted on
 * the same data directory and port, both follow it again and serve from
 * memory, and a revocation committed while their streams were broken never
 * grants through either of them at any point of the recovery.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signHs256Token } from "../../src/auth/token-signer.ts";
import type { Caller } from "../../src/domain/model.ts";
import { codeOf, createRosterClient, failureOf, type RosterClient } from "../fixtures/roster-grpc-client.ts";
import { startRosterProcess, type RosterProcess } from "../fixtures/roster-npm-start-process.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";
import { spawnEmbeddedMongo, uniqueDbName, type SpawnedEmbeddedMongo } from "../fixtures/test-mongo.ts";
import { eventually, startReplica } from "../fixtures/read-model-replicas.ts";

const secret = randomBytes(32).toString("base64url");
const maxLagMs = 1_000;
const alice: Caller = { principal: "user:alice", isSystemAdmin: false };
/** The groups the restart test revokes bob from (set by the outage test). */
let revoked: { top: string; team: string; direct: string } | undefined;

let storeDir: string;
let store: SpawnedEmbeddedMongo;
let storePort: number;
let dbName: string;
let a: RosterProcess;
let b: RosterProcess;
let clientA: RosterClient;
let clientB: RosterClient;

/** `roster_read_model_serving` of a process's /metrics. */
async function serving(process: RosterProcess): Promise<number | undefined> {
  const text = await fetch(`${process.httpUrl}/metrics`).then((res) => res.text());
  const match = /^roster_read_model_serving (\d)$/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** A client of `process` as bob. */
async function bobOf(process: RosterProcess): Promise<RosterClient> {
  return createRosterClient(process.address).as(await signHs256Token({ subject: "bob", ttlSeconds: 3600 }, secret));
}

/** CheckMembership(group, user:bob) as alice: "member", "not a member", or the call's code. */
async function checkAnswer(client: RosterClient, groupId: string): Promise<string> {
  const call = client.memberships.checkMembership({ groupId, principal: "user:bob" }, { deadlineMs: 2_000 });
  const code = await codeOf(call);
  if (code !== "OK") return code;
  return (await call).isMember ? "member" : "not a member";
}

function atLeastAsFresh(token: string): { requirement: { case: "atLeastAsFresh"; value: string } } {
  return { requirement: { case: "atLeastAsFresh", value: token } };
}

beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), "roster-two-processes-"));
  store = await spawnEmbeddedMongo({ dataDir: storeDir });
  storePort = Number(new URL(store.uri.replace("mongodb://", "http://")).port);
  dbName = uniqueDbName("two_processes");
  const env = {
    MONGODB_URI: withDatabase(store.uri, dbName),
    ROSTER_JWT_SECRET: secret,
    ROSTER_READ_MODEL_MAX_LAG_MS: String(maxLagMs),
  };
  [a, b] = await Promise.all([startRosterProcess(env, 30_000), startRosterProcess(env, 30_000)]);
  const token = await signHs256Token({ subject: "alice", ttlSeconds: 3600 }, secret);
  clientA = createRosterClient(a.address).as(token);
  clientB = createRosterClient(b.address).as(token);
  await Promise.all(
    [a, b].map((p) => p.waitForLog((line) => line["msg"] === "read model serving: reads are answered from memory", 30_000)),
  );
}, 90_000);

afterAll(async () => {
  clientA.close();
  clientB.close();
  await Promise.all([a.dispose(), b.dispose()]);
  await store.stop();
  await rm(storeDir, { recursive: true, force: true });
});

describe("two Roster processes on one store", () => {
  it("B answers with A's write at once given its token, and stops granting at once after A's revocation", async () => {
    const parent = await clientA.groups.createGroup({ group: { slug: "procs-parent", displayName: "Parent" } });
    const child = await clientA.groups.createGroup({ group: { slug: "procs-child", displayName: "Child" } });
    const parentId = parent.group?.id ?? "";
    const principal = `group:${child.group?.id ?? ""}`;
    const added = await clientA.memberships.addMember({ groupId: parentId, member: principal });
    expect(added.consistencyToken).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const seen = await clientB.memberships.checkMembership({
      groupId: parentId,
      principal,
      consistency: atLeastAsFresh(added.consistencyToken),
    });
    expect(seen.isMember).toBe(true);

    const removed = await clientA.memberships.removeMember({ groupId: parentId, member: principal });
    const gone = await clientB.memberships.checkMembership({
      groupId: parentId,
      principal,
      consistency: atLeastAsFresh(removed.consistencyToken),
    });
    expect(gone.isMember).toBe(false);
  });

  // The store stays down after this test; the next one restarts it.
  it("with the store stopped both fall back and report it, never answering from memory", async () => {
    // What the next test revokes while the stream is broken, granting through both processes before the outage:
    // bob sees `top` through `team` (a group edge, in the graph) and `direct` as its member (a cached membership).
    const top = (await clientA.groups.createGroup({ group: { slug: "procs-top", displayName: "Top" } })).group?.id ?? "";
    const team = (await clientA.groups.createGroup({ group: { slug: "procs-team", displayName: "Team" } })).group?.id ?? "";
    const direct = (await clientA.groups.createGroup({ group: { slug: "procs-direct", displayName: "Direct" } })).group?.id ?? "";
    await clientA.memberships.addMember({ groupId: top, member: `group:${team}` });
    await clientA.memberships.addMember({ groupId: team, member: "user:bob" });
    const last = await clientA.memberships.addMember({ groupId: direct, member: "user:bob" });
    revoked = { top, team, direct };
    const carol = createRosterClient(a.address).as(await signHs256Token({ subject: "carol", ttlSeconds: 3600 }, secret));
    try {
      expect(await codeOf(carol.groups.getGroup({ id: top }))).toBe("NOT_FOUND");
    } finally {
      carol.close();
    }
    for (const process of [a, b]) {
      const bob = await bobOf(process);
      try {
        const fresh = { consistency: atLeastAsFresh(last.consistencyToken) };
        expect(await codeOf(bob.groups.getGroup({ id: top, ...fresh }))).toBe("OK");
        expect(await codeOf(bob.groups.getGroup({ id: direct, ...fresh }))).toBe("OK");
      } finally {
        bob.close();
      }
    }

    await store.stop();
    for (const process of [a, b]) {
      await eventually(async () => (await serving(process)) === 0, 10_000, "the read model stops serving");
      const readyz = await fetch(`${process.httpUrl}/readyz`).then((res) => res.text());
      expect(readyz).toMatch(/reads: database, the read model is (lagging|recovering)|not ready: database unreachable/);
      const call = (process === a ? clientA : clientB).memberships.checkMembership(
        { groupId: top, principal: "user:alice" },
        { deadlineMs: 2_000 },
      );
      const failure = await failureOf(call);
      expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(failure.code);
      expect(process.logs().some((line) => line["msg"] === "read model lagging behind the bound: reads use the database")).toBe(true);
    }
  }, 60_000);

  // Embedded only in effect: the store is a process of this test, restarted on its data directory and port.
  it("with the store restarted both serve from memory again, and a revocation made while their streams were broken never grants", async () => {
    const { top, team, direct } = revoked ?? { top: "", team: "", direct: "" };
    expect(top).not.toBe("");
    // The revocations commit while neither process can reach the store: the same data directory served on another port.
    const aside = await spawnEmbeddedMongo({ dataDir: storeDir });
    try {
      const writer = await startReplica(aside.uri, dbName, false);
      try {
        await writer.app.memberships.remove(alice, top, `group:${team}`, {});
        await writer.app.memberships.remove(alice, direct, "user:bob", {});
      } finally {
        await writer.close();
      }
    } finally {
      await aside.stop();
    }
    expect([await serving(a), await serving(b)]).toEqual([0, 0]);

    store = await spawnEmbeddedMongo({ dataDir: storeDir, port: storePort });
    // Every answer from the restart until both have served from memory for a while: a grant is a stale answer.
    const bobs = await Promise.all([bobOf(a), bobOf(b)]);
    const grants: string[] = [];
    const answers = new Map<string, string[]>();
    let servedRounds = 0;
    try {
      const until = Date.now() + 60_000;
      while (servedRounds < 5) {
        if (Date.now() > until) throw new Error(`not serving from memory again within 60 s: ${JSON.stringify([...answers])}`);
        const bothServing = (await serving(a)) === 1 && (await serving(b)) === 1;
        for (const [i, process] of [a, b].entries()) {
          const bob = bobs[i];
          const admin = process === a ? clientA : clientB;
          if (bob === undefined) throw new Error("no client");
          const options = { deadlineMs: 2_000 };
          const round = [
            `GetGroup top as bob: ${await codeOf(bob.groups.getGroup({ id: top }, options))}`,
            `GetGroup direct as bob: ${await codeOf(bob.groups.getGroup({ id: direct }, options))}`,
            `CheckMembership top bob: ${await checkAnswer(admin, top)}`,
            `CheckMembership direct bob: ${await checkAnswer(admin, direct)}`,
          ];
          for (const answer of round) if (/: (OK|member)$/.test(answer)) grants.push(`${process === a ? "A" : "B"} ${answer}`);
          answers.set(process === a ? "A" : "B", round);
        }
        if (bothServing) servedRounds += 1;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      for (const bob of bobs) bob.close();
    }
    expect(grants).toEqual([]);
    const settled = [
      "GetGroup top as bob: NOT_FOUND",
      "GetGroup direct as bob: NOT_FOUND",
      "CheckMembership top bob: not a member",
      "CheckMembership direct bob: not a member",
    ];
    expect(Object.fromEntries(answers)).toEqual({ A: settled, B: settled });
    // Health probes the database every 5 s: readiness follows within that.
    for (const process of [a, b]) {
      const readyz = (): Promise<string> => fetch(`${process.httpUrl}/readyz`).then((res) => res.text());
      await eventually(
        async () => /reads: read model \(following/.test(await readyz()),
        10_000,
        `readyz of a restarted store: ${await readyz()}`,
      );
    }
  }, 120_000);
});
