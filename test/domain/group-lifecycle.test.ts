import { describe, expect, it } from "vitest";
import { ensureGroupActive, ensureGroupDeleted, ensureNoLiveChildren } from "../../src/domain/group-lifecycle.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";

describe("group lifecycle", () => {
  it("refuses changes to a deleted group", () => {
    expect(() => {
      ensureGroupActive({ id: "g1", state: "ACTIVE" });
    }).not.toThrow();
    expect(
      thrownBy(() => {
        ensureGroupActive({ id: "g1", state: "DELETED" });
      }),
    ).toBe('failed_precondition: group "g1" is deleted');
  });
  it("undeletes only deleted groups", () => {
    expect(() => {
      ensureGroupDeleted({ id: "g1", state: "DELETED" });
    }).not.toThrow();
    expect(
      thrownBy(() => {
        ensureGroupDeleted({ id: "g1", state: "ACTIVE" });
      }),
    ).toBe('failed_precondition: group "g1" is not deleted');
  });
  it("refuses deleting a group with live children", () => {
    expect(() => {
      ensureNoLiveChildren("g1", 0);
    }).not.toThrow();
    expect(
      thrownBy(() => {
        ensureNoLiveChildren("g1", 1);
      }),
    ).toBe('failed_precondition: group "g1" has 1 live child group; delete them first');
    expect(
      thrownBy(() => {
        ensureNoLiveChildren("g1", 3);
      }),
    ).toBe('failed_precondition: group "g1" has 3 live child groups; delete them first');
  });
});
