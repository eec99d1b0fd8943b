/**
 * What a membership is worth at an instant (membership-status.ts), and the
 * database filter that must agree with it (membership-store.ts's
 * `memberFilterQuery`), checked on the same table through the embedded
 * store's matcher.
 */
import { describe, expect, it } from "vitest";
import { compileFilter } from "../../src/embedded-mongo/engine/match.ts";
import { confers, countsAsMember, hasExpired, isPermanentAdmin, statusOf, unexpired } from "../../src/domain/membership-status.ts";
import type { MembershipRecord } from "../../src/domain/model.ts";
import { membershipToDoc } from "../../src/storage/documents.ts";
import { conferringAt, memberFilterQuery } from "../../src/storage/membership-store.ts";

const now = new Date("2030-01-01T00:00:00.000Z");
const before = new Date(now.getTime() - 1);
const after = new Date(now.getTime() + 1);
const base: MembershipRecord = { groupId: "g", member: "user:x", role: "ADMIN", createTime: before, updateTime: before, createdBy: "user:a" };

const table: [name: string, record: MembershipRecord, expected: { expired: boolean; confers: boolean; counts: boolean; permanentAdmin: boolean }][] = [
  ["ACTIVE, no expiry", base, { expired: false, confers: true, counts: true, permanentAdmin: true }],
  ["ACTIVE, expiring later", { ...base, expireTime: after }, { expired: false, confers: true, counts: true, permanentAdmin: false }],
  ["ACTIVE, expiring exactly now", { ...base, expireTime: now }, { expired: true, confers: false, counts: true, permanentAdmin: false }],
  ["ACTIVE, expired", { ...base, expireTime: before }, { expired: true, confers: false, counts: true, permanentAdmin: false }],
  ["INVITED", { ...base, status: "INVITED", expireTime: after }, { expired: false, confers: false, counts: false, permanentAdmin: false }],
  ["REQUESTED", { ...base, role: "MEMBER", status: "REQUESTED" }, { expired: false, confers: false, counts: false, permanentAdmin: false }],
  ["ACTIVE MEMBER", { ...base, role: "MEMBER" }, { expired: false, confers: true, counts: true, permanentAdmin: false }],
];

describe("membership worth at an instant", () => {
  it.each(table)("%s", (_name, record, expected) => {
    expect({
      expired: hasExpired(record, now),
      confers: confers(record, now),
      counts: countsAsMember(record),
      permanentAdmin: isPermanentAdmin(record),
    }).toEqual(expected);
    expect(unexpired(record, now)).toBe(expected.expired ? undefined : record);
    expect(statusOf(record)).toBe(record.status ?? "ACTIVE");
  });

  it("agrees with the database filter of conferring members", () => {
    const matches = compileFilter(memberFilterQuery("g", conferringAt(now)));
    for (const [name, record, expected] of table) expect([name, matches(membershipToDoc(record) as never)]).toEqual([name, expected.confers]);
  });

  it("filters statuses in the database as asked", () => {
    const pick = (statuses: ("ACTIVE" | "INVITED" | "REQUESTED")[]) => {
      const matches = compileFilter(memberFilterQuery("g", { statuses }));
      return table.filter(([, record]) => matches(membershipToDoc(record) as never)).map(([name]) => name);
    };
    expect(pick(["INVITED"])).toEqual(["INVITED"]);
    expect(pick(["INVITED", "REQUESTED"])).toEqual(["INVITED", "REQUESTED"]);
    expect(pick(["ACTIVE", "REQUESTED"])).toEqual(table.map(([name]) => name).filter((name) => name !== "INVITED"));
    expect(pick(["ACTIVE", "INVITED", "REQUESTED"])).toHaveLength(table.length);
  });
});
