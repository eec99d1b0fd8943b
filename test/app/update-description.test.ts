/**
 * A change stream update event applied to the document as a consumer holds
 * it gives the document as the update left it — checked against the store
 * itself: each update is run on a real collection, and its event applied to
 * the document as it was before must equal the document as it is after.
 */
import { MongoClient, type Document } from "mongodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { applyUpdateDescription } from "../../src/storage/update-description.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";

let mongo: TestMongo;
let client: MongoClient;

beforeAll(async () => {
  mongo = await startTestMongo();
  client = new MongoClient(mongo.uri);
  await client.connect();
});

afterAll(async () => {
  await client.close();
  await mongo.stop();
});

const before: Document = {
  _id: "g1",
  displayName: "Before",
  labels: { team: "a", cost: "1" },
  acl: [
    { principal: "user:a", permission: "READ" },
    { principal: "user:b", permission: "WRITE" },
    { principal: "user:c", permission: "MANAGE" },
  ],
  ancestorIds: ["p1", "p2"],
  deleteTime: new Date("2026-01-01T00:00:00Z"),
};

it.each<[string, Document]>([
  ["sets and removes fields", { $set: { displayName: "After", "labels.team": "b" }, $unset: { deleteTime: "", "labels.cost": "" } }],
  ["changes one array element", { $set: { "acl.1.permission": "READ" } }],
  ["shortens an array", { $set: { acl: [{ principal: "user:a", permission: "READ" }] } }],
  ["replaces an array", { $set: { ancestorIds: ["p9"] } }],
  ["adds to an array", { $push: { acl: { principal: "user:d", permission: "READ" } } }],
])("%s", async (_case, update) => {
  const collection = client.db(uniqueDbName("update_description")).collection("groups");
  await collection.insertOne(structuredClone(before));
  const stream = collection.watch([], { maxAwaitTimeMS: 100 });
  await stream.tryNext();
  await collection.updateOne({ _id: "g1" } as Document, update);
  let event: Document | null = null;
  while (event === null) event = await stream.tryNext();
  await stream.close();
  expect(event["operationType"]).toBe("update");
  const applied = applyUpdateDescription(structuredClone(before), event["updateDescription"] as Document);
  expect(applied).toEqual(await collection.findOne({ _id: "g1" } as Document));
});
