import { MongoClient, type TopologyDescription } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../index.ts";
import { expectPlainOk } from "../fixtures/expect-reply.ts";

let server: EmbeddedMongo;

beforeAll(async () => {
  server = await startEmbeddedMongo({ port: 0 });
});
afterAll(async () => {
  await server.stop();
});

describe("handshake", () => {
  it("advertises a directConnection URI on 127.0.0.1 with the bound port", () => {
    expect(server.uri).toBe(`mongodb://127.0.0.1:${server.port}/?directConnection=true`);
    expect(server.port).toBeGreaterThan(0);
  });

  it.each([
    ["directConnection=true", (uri: string) => uri],
    ["replicaSet=rs0", (uri: string) => uri.replace("directConnection=true", "replicaSet=rs0")],
  ])("connects with %s and sees a writable replica-set primary", async (_label, toUri) => {
    const client = new MongoClient(toUri(server.uri), { serverSelectionTimeoutMS: 5000 });
    let description: TopologyDescription | undefined;
    client.on("topologyDescriptionChanged", (event) => {
      description = event.newDescription;
    });
    try {
      await client.connect();
      const hello = await client.db("admin").command({ hello: 1 });
      expect(hello).toMatchObject({
        ok: 1,
        isWritablePrimary: true,
        setName: "rs0",
        hosts: [`127.0.0.1:${server.port}`],
        primary: `127.0.0.1:${server.port}`,
        me: `127.0.0.1:${server.port}`,
        secondary: false,
        minWireVersion: 0,
        maxWireVersion: 21,
        logicalSessionTimeoutMinutes: 30,
        maxBsonObjectSize: 16 * 1024 * 1024,
        maxMessageSizeBytes: 48_000_000,
        maxWriteBatchSize: 100_000,
      });
      // A topologyVersion, as mongod sends, so the driver streams its monitoring hello (conformance/restart.test.ts).
      expect(Number((hello["topologyVersion"] as { counter?: unknown } | undefined)?.counter)).toBe(0);
      expect(hello).not.toHaveProperty("compression");
      expect(description?.type).toBe(toUri(server.uri).includes("replicaSet") ? "ReplicaSetWithPrimary" : "Single");
      expect([...(description?.servers.values() ?? [])].map((s) => s.type)).toEqual(["RSPrimary"]);

      const coll = client.db("handshake").collection<{ _id: number; name: string }>(`people_${_label.length}`);
      await coll.insertOne({ _id: 1, name: "ada" });
      expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, name: "ada" });
    } finally {
      await client.close();
    }
  });

  it("answers legacy isMaster with lowercase ismaster and buildInfo with a version", async () => {
    const client = new MongoClient(server.uri);
    try {
      const admin = client.db("admin");
      const legacy = await admin.command({ isMaster: 1 });
      expect(legacy["ismaster"]).toBe(true);
      expect(legacy).not.toHaveProperty("isWritablePrimary");
      const info = await admin.command({ buildinfo: 1 });
      expect(info).toMatchObject({ ok: 1, version: "7.0.0", versionArray: [7, 0, 0, 0] });
      expectPlainOk(await admin.command({ ping: 1 }));
    } finally {
      await client.close();
    }
  });
});
