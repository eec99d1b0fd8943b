/**
 * The read model never answers staler than its bound: while its change
 * stream is broken, lagging past ROSTER_READ_MODEL_MAX_LAG_MS or rebuilding,
 * reads go to the database (and see every write at once); when the stream
 * comes back the model serves again, with what was written meanwhile.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ReadModelStatus } from "../../src/app/index.ts";
import { minimizeLatency } from "../../src/domain/consistency.ts";
import type { Caller } from "../../src/domain/model.ts";
import { groupInput } from "../fixtures/group-input.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { eventually, failCommand, readOptions, startReplica, writeOptions, type Replica } from "../fixtures/read-model-replicas.ts";

const alice: Caller = { principal: "user:alice", isSystemAdmin: false };
const maxLagMs = 1_500;

let mongo: TestMongo;
let writer: Replica;
let reader: Replica;
const phases: string[] = [];

beforeAll(async () => {
  mongo = await startTestMongo({ enableTestCommands: true });
  const dbName = uniqueDbName("fallback");
  writer = await startReplica(mongo.uri, dbName, false);
  reader = await startReplica(mongo.uri, dbName, { maxLagMs, cachedMemberships: 10_000 }, { appName: "reader" });
  reader.app.readModel?.onChange((status: ReadModelStatus) => phases.push(`${status.phase}${status.serving ? " serving" : ""}`));
});

afterEach(async () => {
  await failCommand(writer.client, "off");
});

afterAll(async () => {
  await reader.close();
  await writer.close();
  await mongo.stop();
});

/** Adds `group:<child>` to `parent` through the writer, then asks the reader whether it is a member, with the write's token. */
async function addThenCheck(parentId: string, childSlug: string): Promise<boolean> {
  const child = await writer.app.groups.create(alice, groupInput(childSlug), "", {});
  const write = writeOptions();
  await writer.app.memberships.add(alice, parentId, `group:${child.id}`, "MEMBER", write.options);
  const fresh = readOptions({ kind: "at_least_as_fresh", time: write.committed() });
  const answer = await reader.app.memberships.check(alice, { groupId: parentId, principal: `group:${child.id}`, directOnly: false }, fresh);
  return answer.isMember;
}

function status(): ReadModelStatus {
  const handle = reader.app.readModel;
  if (handle === undefined) throw new Error("the reader has no read model");
  return handle.status();
}

describe("fallback", () => {
  it("while the change stream fails, reads use the database and see every write; then the model serves again", async () => {
    const parent = await writer.app.groups.create(alice, groupInput("broken-parent"), "", {});
    await failCommand(writer.client, "alwaysOn", { failCommands: ["getMore", "aggregate"], errorCode: 2, appName: "reader" });
    await eventually(() => Promise.resolve(status().phase === "recovering"), 5_000, "the reader's stream fails");
    expect(status().serving).toBe(false);
    for (let i = 0; i < 3; i++) {
      reader.clearCommands();
      // Answered at once, with no wait: the database answers while the model cannot.
      expect(await addThenCheck(parent.id, `broken-child-${i}`)).toBe(true);
      expect(reader.readCommands().length).toBeGreaterThan(0);
    }
    await failCommand(writer.client, "off");
    await reader.app.readModel?.whenServing();
    // The model resumed from its token: what was written meanwhile is in it.
    reader.clearCommands();
    const answer = await reader.app.memberships.list(
      alice,
      { groupId: parent.id, role: undefined, transitive: false, pageSize: 10, pageToken: "" },
      readOptions(minimizeLatency),
    );
    expect(answer.memberships.filter((m) => m.member.startsWith("group:"))).toHaveLength(3);
    expect(await addThenCheck(parent.id, "broken-child-after")).toBe(true);
  });

  it("past the lag bound (a stalled stream), reads use the database until the model catches up", async () => {
    const parent = await writer.app.groups.create(alice, groupInput("stalled-parent"), "", {});
    await reader.app.readModel?.whenServing();
    await failCommand(
      writer.client,
      { times: 1 },
      { failCommands: ["getMore"], blockConnection: true, blockTimeMS: 3 * maxLagMs, appName: "reader" },
    );
    await eventually(() => Promise.resolve(!status().serving), 3 * maxLagMs, "the reader stops serving");
    expect(status().phase).toBe("following");
    expect(status().lagMs ?? 0).toBeGreaterThan(maxLagMs);
    reader.clearCommands();
    expect(await addThenCheck(parent.id, "stalled-child")).toBe(true);
    expect(reader.readCommands().length).toBeGreaterThan(0);
    await reader.app.readModel?.whenServing();
    expect(status().lagMs ?? Infinity).toBeLessThanOrEqual(maxLagMs);
    reader.clearCommands();
    expect(await addThenCheck(parent.id, "stalled-child-after")).toBe(true);
  });

  it("a lost stream position (ChangeStreamHistoryLost) rebuilds the model from a new snapshot", async () => {
    const parent = await writer.app.groups.create(alice, groupInput("lost-parent"), "", {});
    await reader.app.readModel?.whenServing();
    phases.length = 0;
    await failCommand(writer.client, { times: 1 }, { failCommands: ["getMore"], errorCode: 286, appName: "reader" });
    await writer.app.groups.create(alice, groupInput("lost-nudge"), "", {});
    await eventually(() => Promise.resolve(phases.includes("loading")), 5_000, "the reader rebuilds");
    await reader.app.readModel?.whenServing();
    expect(await addThenCheck(parent.id, "lost-child")).toBe(true);
  });
});
