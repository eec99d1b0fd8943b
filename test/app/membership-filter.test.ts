/**
 * The database filter of membership listings and counts (membership-store.ts's
 * `memberFilterQuery`) agrees with the domain's rule (membership-status.ts)
 * on every row of the same table, through the driver on the test database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MembershipStatus } from "../../src/domain/model.ts";
import { collectionNames, membershipToDoc, type MembershipDoc } from "../../src/storage/documents.ts";
import { conferringAt, memberFilterQuery, type MemberFilter } from "../../src/storage/membership-store.ts";
import { startAppFixture, type AppFixture } from "../fixtures/app-over-test-database.ts";
import { membershipWorthTable as table, now } from "../fixtures/membership-worth-table.ts";

let fx: AppFixture;
beforeAll(async () => {
  fx = await startAppFixture("app_member_filter");
  // One group per row, so that each row is matched alone.
  await fx.db
    .collection<MembershipDoc>(collectionNames.memberships)
    .insertMany(table.map(([name, record]) => membershipToDoc({ ...record, groupId: name })));
});
afterAll(async () => {
  await fx.stop();
});

async function rowsMatching(filter: MemberFilter): Promise<string[]> {
  const names: string[] = [];
  for (const [name] of table) {
    if ((await fx.db.collection<MembershipDoc>(collectionNames.memberships).countDocuments(memberFilterQuery(name, filter))) > 0)
      names.push(name);
  }
  return names;
}

describe("the database filter of memberships", () => {
  it("takes exactly the conferring ones", async () => {
    expect(await rowsMatching(conferringAt(now))).toEqual(table.filter(([, , expected]) => expected.confers).map(([name]) => name));
  });

  it("takes the statuses asked for", async () => {
    const only = (statuses: MembershipStatus[]) => rowsMatching({ statuses });
    expect(await only(["INVITED"])).toEqual(["INVITED"]);
    expect(await only(["INVITED", "REQUESTED"])).toEqual(["INVITED", "REQUESTED"]);
    expect(await only(["ACTIVE", "REQUESTED"])).toEqual(table.map(([name]) => name).filter((name) => name !== "INVITED"));
    expect(await only(["ACTIVE", "INVITED", "REQUESTED"])).toHaveLength(table.length);
  });
});
