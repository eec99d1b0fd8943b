import { describe, expect, it } from "vitest";
import { adminsToKeep, ensureKeepsAnAdmin, type MemberChange } from "../../src/domain/membership-rules.ts";
import type { Role } from "../../src/domain/model.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";

describe("ensureKeepsAnAdmin", () => {
  const change = (currentRole: Role, newRole: Role | undefined, directAdminCount: number): MemberChange => ({
    groupId: "g1",
    member: "user:alice",
    currentRole,
    newRole,
    directAdminCount,
  });

  it.each([
    [
      "removing the only ADMIN",
      change("ADMIN", undefined, 1),
      'failed_precondition: cannot remove user:alice: it is the last direct ADMIN of group "g1"',
    ],
    [
      "demoting the only ADMIN to MANAGER",
      change("ADMIN", "MANAGER", 1),
      'failed_precondition: cannot change the role of user:alice: it is the last direct ADMIN of group "g1"',
    ],
    [
      "demoting the only ADMIN to MEMBER",
      change("ADMIN", "MEMBER", 1),
      'failed_precondition: cannot change the role of user:alice: it is the last direct ADMIN of group "g1"',
    ],
    [
      "removing an ADMIN when the count says none (inconsistent data fails closed)",
      change("ADMIN", undefined, 0),
      'failed_precondition: cannot remove user:alice: it is the last direct ADMIN of group "g1"',
    ],
  ])("refuses %s", (_name, input, expected) => {
    expect(
      thrownBy(() => {
        ensureKeepsAnAdmin(input);
      }),
    ).toBe(expected);
  });

  it.each([
    ["removing one of two ADMINs", change("ADMIN", undefined, 2)],
    ["demoting one of two ADMINs", change("ADMIN", "MEMBER", 2)],
    ["re-granting ADMIN to the only ADMIN", change("ADMIN", "ADMIN", 1)],
    ["removing a MANAGER from a group with one ADMIN", change("MANAGER", undefined, 1)],
    ["promoting a MEMBER", change("MEMBER", "ADMIN", 1)],
  ])("allows %s", (_name, input) => {
    expect(() => {
      ensureKeepsAnAdmin(input);
    }).not.toThrow();
  });
});

describe("adminsToKeep (sync mode)", () => {
  it("keeps nothing when another ADMIN remains", () => {
    expect(adminsToKeep(["user:b", "user:a"], 1)).toEqual([]);
  });
  it("keeps the first removed ADMIN in sort order when none would remain", () => {
    expect(adminsToKeep(["user:b", "user:a"], 0)).toEqual(["user:a"]);
  });
  it("keeps nothing when no ADMIN is removed", () => {
    expect(adminsToKeep([], 0)).toEqual([]);
  });
});
