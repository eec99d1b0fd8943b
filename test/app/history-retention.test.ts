/**
 * The history's retention (ROSTER_HISTORY_RETENTION_DAYS): the sweeper
 * deletes the records older than the period, in bounded batches, keeps the
 * rest, and several replicas sweeping at once delete each record once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RosterApp } from "../../src/app/index.ts";
import { startAppFixture, type AppFixture } from "../fixtures/app-over-test-database.ts";
import { root } from "../fixtures/groups-through-app.ts";
import { groupInput } from "../fixtures/group-input.ts";

const dayMs = 86_400_000;

describe("history retention", () => {
  let fx: AppFixture;
  let now = new Date("2026-01-01T00:00:00Z");

  beforeAll(async () => {
    fx = await startAppFixture("history_retention", {
      clock: () => now,
      changeSettings: { historyRetentionDays: 30, changeReadersGroupId: undefined, checkpointIntervalMs: 5_000 },
    });
  });

  afterAll(async () => {
    await fx.stop();
  });

  /** A group with `n` members added at `time`: n + 2 records (creation and the creator's membership). */
  async function groupAt(app: RosterApp, time: Date, n: number): Promise<string> {
    now = time;
    const group = await app.groups.create(root, groupInput(`r-${time.getTime()}-${n}`), "");
    for (let i = 0; i < n; i += 1) await app.memberships.add(root, group.id, `user:m${i}`, "MEMBER");
    return group.id;
  }

  async function count(groupId: string): Promise<number> {
    return fx.db.collection("history").countDocuments({ groupId });
  }

  it("deletes the records older than the period and keeps the others; replicas sweeping at once delete each once", async () => {
    const old = await groupAt(fx.app, new Date("2026-01-01T00:00:00Z"), 30);
    const recent = await groupAt(fx.app, new Date("2026-02-20T00:00:00Z"), 3);
    expect([await count(old), await count(recent)]).toEqual([32, 5]);

    const other = await fx.withDeps({
      changeSettings: { historyRetentionDays: 30, changeReadersGroupId: undefined, checkpointIntervalMs: 5_000 },
    });
    const sweepAt = new Date(new Date("2026-02-20T00:00:00Z").getTime() + 10 * dayMs);
    const deleted = await Promise.all([fx.app.changes.retention.sweep(sweepAt), other.changes.retention.sweep(sweepAt)]);
    expect(deleted[0] + deleted[1]).toBe(32);
    expect([await count(old), await count(recent)]).toEqual([0, 5]);
    expect(await fx.app.changes.retention.sweep(sweepAt)).toBe(0);
  });

  it("keeps everything with a period of 0", async () => {
    const forever = await fx.withDeps({
      changeSettings: { historyRetentionDays: 0, changeReadersGroupId: undefined, checkpointIntervalMs: 5_000 },
    });
    const g = await groupAt(forever, new Date("2020-01-01T00:00:00Z"), 1);
    expect(await forever.changes.retention.sweep(new Date("2030-01-01T00:00:00Z"))).toBe(0);
    expect(await count(g)).toBe(3);
  });
});
