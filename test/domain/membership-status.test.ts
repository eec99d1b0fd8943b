/** What a membership is worth at an instant (membership-status.ts), row by row. */
import { describe, expect, it } from "vitest";
import { confers, countsAsMember, hasExpired, isPermanentAdmin, statusOf, unexpired } from "../../src/domain/membership-status.ts";
import { membershipWorthTable as table, now } from "../fixtures/membership-worth-table.ts";

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
});
