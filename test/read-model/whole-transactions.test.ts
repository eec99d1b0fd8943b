/**
 * The read model never shows part of a transaction, even when the store cuts
 * a change-stream batch inside one (at 16 MiB of events, with a backlog
 * waiting): src/storage/graph-changes.ts holds a transaction back until its
 * end mark (src/storage/transaction-end.ts) has come.
 *
 * The model's stream is let through one request at a time (its `tryNext`
 * waits at a gate before each request to the store), so the test builds a
 * backlog of more than 16 MiB while the model waits, then looks at the model
 * after each reply it applied. Each transaction is a CreateGroup with 1,000
 * initial members of long names (about 0.6 MiB of events, the group's
 * member_count written last), so half of one shows as a group whose
 * member_count is not yet 1,001.
 */
import type { Db } from "mongodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ReadSource } from "../../src/app/read-source.ts";
import { startReadModel, type ReadModel } from "../../src/app/read-model/read-model.ts";
import { minimizeLatency, type ClusterTime } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { clusterTimeOf } from "../../src/storage/cluster-time.ts";
import { createDatabase, type Database } from "../../src/storage/database.ts";
import { createGroupStore } from "../../src/storage/group-store.ts";
import { createMembershipStore } from "../../src/storage/membership-store.ts";
import { unboundedCall } from "../../src/storage/store-call.ts";
import { accessRules } from "../fixtures/access-rules-table.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { startReplica, writeOptions, type Replica } from "../fixtures/read-model-replicas.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";
import { wrapChangeStreams } from "../fixtures/wrapped-change-streams.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";

const root: Caller = { principal: "user:root", isSystemAdmin: true };
const transactions = 32;
const membersEach = 1_000;

/**
 * Holds a change stream's requests to the store: while closed, each waits
 * until `step` lets exactly one through. A request waiting means the reader
 * has applied every reply before it.
 */
function createRequestGate() {
  let closed = false;
  /** Lets the request waiting at the gate through. */
  let waiting: (() => void) | undefined;
  /** Resolves the promise of the next request to wait. */
  let arrived: (() => void) | undefined;
  const nextArrival = (): Promise<void> => new Promise((resolve) => (arrived = resolve));
  return {
    async pass(): Promise<void> {
      if (!closed) return;
      await new Promise<void>((resolve) => {
        waiting = resolve;
        arrived?.();
        arrived = undefined;
      });
    },
    /** Closes the gate; resolves once a request waits at it. */
    close(): Promise<void> {
      closed = true;
      return waiting === undefined ? nextArrival() : Promise.resolve();
    },
    /** Lets the waiting request through; resolves when the next one waits. */
    step(): Promise<void> {
      const go = waiting;
      waiting = undefined;
      const next = nextArrival();
      go?.();
      return next;
    },
    open(): void {
      closed = false;
      waiting?.();
      waiting = undefined;
    },
  };
}

type RequestGate = ReturnType<typeof createRequestGate>;

/** The cluster times of the events each reply brought, reply by reply. */
type Replies = ClusterTime[][];

/** Makes `db.watch` streams wait at `gate` before each request, and records what each reply brought. */
function gateStreams(db: Db, gate: RequestGate, replies: Replies): void {
  wrapChangeStreams(db, (stream) => {
    const tryNext = stream.tryNext.bind(stream);
    stream.tryNext = async () => {
      const request = stream.bufferedCount() === 0;
      if (request) await gate.pass();
      const event = await tryNext();
      if (event !== null && "clusterTime" in event) {
        if (request) replies.push([]);
        replies.at(-1)?.push(clusterTimeOf(event.clusterTime));
      }
      return event;
    };
  });
}

let mongo: TestMongo;
const dbName = uniqueDbName("whole-tx");
let writer: Replica;
let reader: Database;
let model: ReadModel;
const gate = createRequestGate();
const replies: Replies = [];

beforeAll(async () => {
  mongo = await startTestMongo();
  writer = await startReplica(mongo.uri, dbName, false);
  reader = createDatabase(withDatabase(mongo.uri, dbName), { appName: "gated-reader", serverSelectionTimeoutMs: 10_000 });
  gateStreams(reader.db, gate, replies);
  await reader.client.connect();
  const groups = createGroupStore(reader);
  const memberships = createMembershipStore(reader);
  model = startReadModel({
    database: reader,
    databaseReads: { name: "database", groups, memberships },
    memberships,
    // A bound far above the test's length: the model keeps serving while its stream waits at the gate.
    settings: { maxLagMs: 600_000, cachedMemberships: 10_000 },
    logger: undefined,
  });
  await model.whenServing();
});

afterAll(async () => {
  gate.open();
  await model.stop();
  await reader.client.close();
  await writer.close();
  await mongo.stop();
});

/** The model as a read source now (it must be serving). */
async function modelNow(): Promise<ReadSource> {
  const source = await model.sourceFor(minimizeLatency, unboundedCall);
  if (source === undefined) throw new Error(`the read model is not serving: ${JSON.stringify(model.status())}`);
  expect(source.name).toBe("read model");
  return source;
}

/** Whether the model has applied the commit at `time`: a read with its token is answered by the model at once. */
async function hasApplied(time: ClusterTime): Promise<boolean> {
  const source = await model.sourceFor({ kind: "at_least_as_fresh", time }, { deadline: Date.now() + 40 });
  return source !== undefined;
}

it(
  "applies a backlog cut inside transactions one whole transaction at a time, and tokens wait for all of it",
  { timeout: 180_000 },
  async () => {
    await gate.close();
    const created: { id: string; time: ClusterTime; committedBy: number }[] = [];
    for (let i = 0; i < transactions; i++) {
      const members = Array.from({ length: membersEach }, (_, j) => ({
        member: `user:${String(j).padStart(6, "0")}-${"m".repeat(240)}`,
        role: "MEMBER" as const,
      }));
      const { options, committed } = writeOptions();
      const group = await writer.app.groups.create(root, { ...groupInput(`whole-${i}`), members }, "", options, accessRules.AddMember);
      created.push({ id: group.id, time: committed(), committedBy: Date.now() });
    }
    const ids = created.map((c) => c.id);

    let seen = 0;
    for (let step = 0; seen < transactions; step++) {
      if (step > 10 * transactions) throw new Error(`the model applied ${seen} of ${transactions} transactions in ${step} replies`);
      await gate.step();
      const inModel = await (await modelNow()).groups.getMany(ids, unboundedCall);
      // All of a transaction or none of it: the group with its 1,000 members (and its creator) counted, or no group.
      expect(inModel.map((group) => [group.id, group.memberCount])).toEqual(inModel.map((group) => [group.id, membersEach + 1]));
      const present = new Set(inModel.map((group) => group.id));
      // Commit order: the transactions applied are the first ones.
      expect(ids.filter((id) => present.has(id))).toEqual(ids.slice(0, present.size));
      for (const { id, time } of created) expect({ id, applied: await hasApplied(time) }).toEqual({ id, applied: present.has(id) });
      seen = present.size;
      // The lag covers the backlog still waiting: the model cannot be current
      // past the first transaction it has not applied, whatever the cut.
      const firstMissing = created[seen];
      if (firstMissing !== undefined) {
        const lagMs = model.status().lagMs;
        expect(lagMs).toBeDefined();
        expect(lagMs ?? 0).toBeGreaterThanOrEqual(Date.now() - firstMissing.committedBy);
      }
    }

    // The backlog came in several replies, and a reply ended inside a transaction (the case this test is about).
    const nonEmpty = replies.filter((reply) => reply.length > 0);
    expect(nonEmpty.length).toBeGreaterThan(1);
    const cutInside = nonEmpty.slice(1).some((reply, i) => reply[0] === nonEmpty[i]?.at(-1));
    expect(cutInside).toBe(true);
  },
);

/** Lets the model's requests through one at a time until `done` holds (at most `max`); returns how many it took. */
async function stepUntil(done: () => Promise<boolean>, max: number): Promise<number> {
  for (let steps = 0; ; steps++) {
    if (await done()) return steps;
    if (steps === max) throw new Error(`not done after ${max} replies`);
    await gate.step();
  }
}

it("applies a transaction that writes the graph and records nothing (an ACL set as it was) with the reply that brings it: its session's mark ends it", async () => {
  await gate.close();
  const created = writeOptions();
  const group = await writer.app.groups.create(root, groupInput("same-acl"), "", created.options);
  await stepUntil(() => hasApplied(created.committed()), 5);

  const { options, committed } = writeOptions();
  const acl = await writer.app.groups.setAcl(root, group.id, [], group.etag, options);
  expect(acl.etag).not.toBe(group.etag);
  await gate.step();
  expect(await hasApplied(committed())).toBe(true);
  expect((await (await modelNow()).groups.get(group.id, unboundedCall))?.etag).toBe(acl.etag);
});

it("applies a change made outside Roster (no mark) once the stream has gone idle after it", async () => {
  await gate.close();
  const created = writeOptions();
  const group = await writer.app.groups.create(root, groupInput("outside"), "", created.options);
  await stepUntil(() => hasApplied(created.committed()), 5);

  await writer.client
    .db(dbName)
    .collection("groups")
    .updateOne({ _id: group.id as never }, { $set: { displayName: "Renamed outside" } });
  const renamed = async (): Promise<boolean> =>
    (await (await modelNow()).groups.get(group.id, unboundedCall))?.displayName === "Renamed outside";
  // The reply that brings it, then (at most) one that brings nothing.
  expect(await stepUntil(renamed, 2)).toBeGreaterThanOrEqual(1);
});
