/**
 * The in-memory ledger of a chunk of membership changes: operations on one
 * member compose, the writes are the net change per member, and counts
 * follow the recorded changes. Pure: no database.
 */
import { describe, expect, it } from "vitest";
import { createMembershipLedger } from "../../src/app/batch/membership-ledger.ts";
import type { MembershipChange } from "../../src/domain/membership-operation.ts";
import type { MembershipRecord, Role } from "../../src/domain/model.ts";

const t0 = new Date("2029-01-01T00:00:00Z");
const t1 = new Date("2030-01-01T00:00:00Z");

function record(member: string, role: Role, createTime = t0, groupId = "g1"): MembershipRecord {
  return { groupId, member, role, createTime, updateTime: createTime, createdBy: "user:c" };
}

function change(before: MembershipRecord | undefined, after: MembershipRecord | undefined): MembershipChange {
  const any = after ?? before;
  if (any === undefined) throw new Error("no record");
  const effect = before === undefined ? "added" : after === undefined ? "removed" : before === after ? "unchanged" : "changed";
  return { effect, groupId: any.groupId, member: any.member, before, after };
}

describe("membership ledger", () => {
  it("composes changes to one member and writes only the net change", () => {
    const stored = record("user:a", "MEMBER");
    const ledger = createMembershipLedger([stored]);
    const promoted = { ...stored, role: "MANAGER" as const, updateTime: t1 };
    ledger.record(change(stored, promoted));
    expect(ledger.current("g1", "user:a")).toBe(promoted);
    // Added and removed again within the chunk: nothing to write.
    const fresh = record("user:b", "MEMBER", t1);
    ledger.record(change(undefined, fresh));
    ledger.record(change(fresh, undefined));
    expect(ledger.drain()).toEqual([{ kind: "set_role", groupId: "g1", member: "user:a", role: "MANAGER", time: t1 }]);
    expect(ledger.drain()).toEqual([]);
    expect(ledger.memberCountDeltas()).toEqual(new Map([["g1", 0]]));
  });

  it("replaces a member removed and added again, and counts members per group over every drain", () => {
    const stored = record("user:a", "ADMIN");
    const ledger = createMembershipLedger([stored]);
    const again = record("user:a", "MEMBER", t1);
    ledger.record(change(stored, undefined));
    ledger.record(change(undefined, again));
    ledger.record(change(undefined, record("user:n", "MEMBER", t1, "g2")));
    expect(ledger.drain()).toEqual([
      { kind: "replace", membership: again },
      { kind: "insert", membership: record("user:n", "MEMBER", t1, "g2") },
    ]);
    ledger.record(change(again, undefined));
    expect(ledger.drain()).toEqual([{ kind: "delete", groupId: "g1", member: "user:a" }]);
    expect(ledger.memberCountDeltas()).toEqual(
      new Map([
        ["g1", -1],
        ["g2", 1],
      ]),
    );
  });

  it("keeps ADMIN counts: the stored count once (with what is not yet written), then its own", async () => {
    const admin = record("user:a", "ADMIN");
    const ledger = createMembershipLedger([admin]);
    const other = record("user:b", "ADMIN", t1);
    ledger.record(change(undefined, other));
    let loads = 0;
    // The database still holds only user:a (the new ADMIN is not drained yet).
    const count = await ledger.adminCount("g1", () => {
      loads += 1;
      return Promise.resolve(1);
    });
    expect(count).toBe(2);
    ledger.record(change(admin, undefined));
    expect(await ledger.adminCount("g1", () => Promise.reject(new Error("loaded twice")))).toBe(1);
    expect(loads).toBe(1);
    expect(ledger.adminDelta("g1")).toBe(0);
    expect(ledger.adminDelta("g2")).toBe(0);
  });
});
