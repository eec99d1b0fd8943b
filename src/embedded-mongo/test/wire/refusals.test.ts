/**
 * What the embedded store does not implement is refused with an error naming
 * it, never silently ignored: collation options other than locale and
 * strength, a collection default collation, collMod changes other than the
 * validator's, and `$jsonSchema` keywords MongoDB does not support. (MongoDB
 * itself accepts most of these, so these tests are not in the conformance
 * suite.) Also: a collated unique index survives a restart of the store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient, type Db, type Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../index.ts";
import { expectServerError as refusal } from "../fixtures/conformance-database.ts";

let server: EmbeddedMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  server = await startEmbeddedMongo({ port: 0 });
  client = new MongoClient(server.uri, { maxPoolSize: 2 });
  db = client.db("refusals");
});
afterAll(async () => {
  await client.close();
  await server.stop();
});

describe("refused by name", () => {
  it("collation options beyond locale and strength", async () => {
    const coll = db.collection("c");
    const numeric = await refusal(coll.find({}, { collation: { locale: "en", numericOrdering: true } }).toArray());
    expect([numeric.code, numeric.message]).toEqual([
      2,
      "collation option 'numericOrdering: true' is not supported by the embedded server (only locale and strength)",
    ]);
    const caseFirst = await refusal(coll.createIndex({ a: 1 }, { collation: { locale: "en", caseFirst: "upper" } }, undefined));
    expect(caseFirst.message).toContain("'caseFirst: \"upper\"'");
    const quaternary = await refusal(coll.updateMany({}, { $set: { x: 1 } }, { collation: { locale: "en", strength: 4 } }));
    expect(quaternary.message).toBe("collation option 'strength: 4' is not supported by the embedded server (only 1, 2 and 3)");
  });

  it("a collection default collation", async () => {
    const error = await refusal(db.createCollection("defaulted", { collation: { locale: "en", strength: 2 } }));
    expect([error.code, error.message]).toEqual([
      2,
      "a collection default collation is not supported by the embedded server: give 'collation' to each index and operation instead",
    ]);
  });

  it("collMod changes other than the validator's, and collMod of a missing collection", async () => {
    await db.createCollection("modded");
    const error = await refusal(db.command({ collMod: "modded", expireAfterSeconds: 10 }));
    expect([error.code, error.message]).toEqual([72, "collMod option 'expireAfterSeconds' is not supported by the embedded server"]);
    expect((await refusal(db.command({ collMod: "nope", validator: { a: 1 } }))).code).toBe(26);
  });

  it("$jsonSchema keywords MongoDB does not support, and the integer type", async () => {
    const format = await refusal(
      db.createCollection("schema1", { validator: { $jsonSchema: { properties: { a: { format: "email" } } } } }),
    );
    expect(format.message).toBe("$jsonSchema keyword 'format' is not currently supported");
    const integer = await refusal(
      db.createCollection("schema2", { validator: { $jsonSchema: { properties: { a: { type: "integer" } } } } }),
    );
    expect(integer.message).toBe("$jsonSchema type 'integer' is not currently supported.");
    expect(await db.listCollections({ name: { $in: ["schema1", "schema2"] } }).toArray()).toEqual([]);
  });
});

describe("collated indexes on disk", () => {
  it("keep their collation across a restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "roster-collation-"));
    try {
      for (let round = 0; round < 2; round++) {
        const store = await startEmbeddedMongo({ port: 0, dataDir });
        const c = new MongoClient(store.uri);
        try {
          const users = c.db("app").collection<{ _id: number; email: string }>("users");
          if (round === 0) {
            await users.createIndex({ email: 1 }, { unique: true, collation: { locale: "en", strength: 2 } }, undefined);
            await users.insertOne({ _id: 1, email: "A@x" });
          } else {
            const indexes = (await users.listIndexes().toArray()) as unknown as Document[];
            expect(indexes[1]?.["collation"]).toMatchObject({ locale: "en", strength: 2 });
            expect((await refusal(users.insertOne({ _id: 2, email: "a@X" }))).code).toBe(11000);
          }
        } finally {
          await c.close();
          await store.stop();
        }
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
