/**
 * The indexes the app relies on exist after `createRosterApp`, with the
 * options that carry rules (the partial unique live slug, the unique
 * membership), and creating the app again on the same database is harmless.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureIndexes, rosterIndexes } from "../../src/storage/indexes.ts";
import { startAppFixture, type AppFixture } from "../fixtures/app-over-test-database.ts";

let fx: AppFixture;
beforeAll(async () => {
  fx = await startAppFixture("app_indexes");
});
afterAll(async () => {
  await fx.stop();
});

describe("ensureIndexes", () => {
  it("creates every declared index with its options, idempotently", async () => {
    await ensureIndexes({ client: fx.client, db: fx.db });
    await fx.withDeps({});
    for (const [collection, declared] of Object.entries(rosterIndexes)) {
      const existing = (await fx.db.collection(collection).indexes()) as readonly Readonly<Record<string, unknown>>[];
      for (const index of declared) {
        const found = existing.find((candidate) => candidate["name"] === index.name);
        expect(found, `${collection}.${String(index.name)}`).toBeDefined();
        expect(found?.["key"]).toEqual(index.key);
        expect(Boolean(found?.["unique"])).toBe(index.unique === true);
        if (index.partialFilterExpression !== undefined) {
          expect(found?.["partialFilterExpression"]).toEqual(index.partialFilterExpression);
        }
      }
    }
    const live = rosterIndexes["groups"]?.find((index) => index.name === "live_namespace_slug");
    expect(live).toMatchObject({ unique: true, partialFilterExpression: { state: "ACTIVE" } });
    const pair = rosterIndexes["memberships"]?.find((index) => index.name === "group_member");
    expect(pair).toMatchObject({ unique: true, key: { groupId: 1, member: 1 } });
  });
});
