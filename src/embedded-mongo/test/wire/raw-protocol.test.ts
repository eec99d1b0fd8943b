import { Binary, BSON, Long, Timestamp, type Document } from "bson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../index.ts";
import { header, opMsg, opQuery, rawConnect, type RawConnection } from "../fixtures/raw-wire-client.ts";
import { expectPlainOk } from "../fixtures/expect-reply.ts";

let server: EmbeddedMongo;
const open: RawConnection[] = [];

async function connection(): Promise<RawConnection> {
  const c = await rawConnect(server.port);
  open.push(c);
  return c;
}

/** The server still answers a fresh connection. */
async function expectServerUp(): Promise<void> {
  const c = await connection();
  c.send(opMsg({ body: { ping: 1, $db: "admin" } }));
  expectPlainOk((await c.next()).doc);
}

beforeAll(async () => {
  server = await startEmbeddedMongo({ port: 0 });
});
afterAll(async () => {
  for (const c of open) c.close();
  await server.stop();
});

describe("framing", () => {
  it("answers the legacy OP_QUERY handshake with OP_REPLY", async () => {
    const c = await connection();
    c.send(opQuery("admin.$cmd", { ismaster: 1, helloOk: true, client: { driver: { name: "raw" } }, compression: ["none"] }, 77));
    const reply = await c.next();
    expect(reply.opCode).toBe(1);
    expect(reply.responseTo).toBe(77);
    expect(reply.doc).toMatchObject({ ok: 1, ismaster: true, helloOk: true, maxWireVersion: 21, setName: "rs0" });
    expect(reply.doc).not.toHaveProperty("compression");
    expect(reply.doc).toHaveProperty("topologyVersion");
  });

  it("refuses other commands over OP_QUERY", async () => {
    const c = await connection();
    c.send(opQuery("admin.$cmd", { find: "x" }));
    expect((await c.next()).doc).toMatchObject({ ok: 0, code: 352, codeName: "UnsupportedOpQueryCommand" });
  });

  it("answers OP_MSG with a single kind-0 section and responseTo = requestID", async () => {
    const c = await connection();
    c.send(opMsg({ body: { hello: 1, $db: "admin" }, requestId: 4242 }));
    const reply = await c.next();
    expect(reply.opCode).toBe(2013);
    expect(reply.flags).toBe(0);
    expect(reply.responseTo).toBe(4242);
    expect(reply.doc).toMatchObject({ ok: 1, isWritablePrimary: true, me: `127.0.0.1:${server.port}` });
  });

  it("reassembles a message delivered one byte at a time", async () => {
    const c = await connection();
    const bytes = opMsg({ body: { ping: 1, $db: "admin" }, requestId: 9 });
    for (const byte of bytes) {
      c.send(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    const reply = await c.next();
    expect(reply.responseTo).toBe(9);
    expectPlainOk(reply.doc);
  });

  it("answers several messages from one chunk in order", async () => {
    const c = await connection();
    c.send(
      Buffer.concat([
        opMsg({ body: { insert: "pipelined", documents: [{ _id: 1 }], $db: "raw" }, requestId: 101 }),
        opMsg({ body: { insert: "pipelined", documents: [{ _id: 2 }], $db: "raw" }, requestId: 102 }),
        opMsg({ body: { count: "pipelined", $db: "raw" }, requestId: 103 }),
      ]),
    );
    const replies = [await c.next(), await c.next(), await c.next()];
    expect(replies.map((r) => r.responseTo)).toEqual([101, 102, 103]);
    expect(replies[2]?.doc).toMatchObject({ ok: 1, n: 2 });
  });

  it("merges kind-1 document sequences into the command", async () => {
    const c = await connection();
    c.send(opMsg({ body: { insert: "sequenced", $db: "raw" }, sequences: [["documents", [{ _id: "a" }, { _id: "b" }, { _id: "c" }]]] }));
    expect((await c.next()).doc).toMatchObject({ ok: 1, n: 3 });
    c.send(opMsg({ body: { find: "sequenced", filter: {}, $db: "raw" } }));
    const found = await c.next();
    expect((found.doc["cursor"] as { firstBatch: unknown[] }).firstBatch).toEqual([{ _id: "a" }, { _id: "b" }, { _id: "c" }]);
  });

  it("rejects a field present both in the body and as a document sequence", async () => {
    const c = await connection();
    c.send(opMsg({ body: { insert: "dup", documents: [{ _id: 1 }], $db: "raw" }, sequences: [["documents", [{ _id: 2 }]]] }));
    expect((await c.next()).doc).toMatchObject({ ok: 0, code: 17, codeName: "ProtocolError" });
  });

  it("skips a trailing checksum when flag bit 0 is set", async () => {
    const c = await connection();
    c.send(opMsg({ body: { ping: 1, $db: "admin" }, checksum: true }));
    expectPlainOk((await c.next()).doc);
  });

  it("rejects unknown required flag bits but ignores unknown optional ones", async () => {
    const c = await connection();
    c.send(opMsg({ body: { ping: 1, $db: "admin" }, flags: 1 << 4 }));
    const rejected = await c.next();
    expect(rejected.doc).toMatchObject({ ok: 0, code: 17, codeName: "ProtocolError" });
    expect(String(rejected.doc["errmsg"])).toContain("unknown required flag bits 0x10");
    c.send(opMsg({ body: { ping: 1, $db: "admin" }, flags: 1 << 20 }));
    expectPlainOk((await c.next()).doc);
  });

  it("never replies to moreToCome requests, even failing ones, and keeps the connection in step", async () => {
    const c = await connection();
    c.send(opMsg({ body: { insert: "quiet", documents: [{ _id: 1 }], writeConcern: { w: 0 }, $db: "raw" }, flags: 2 }));
    c.send(opMsg({ body: { nosuchcommand: 1, $db: "raw" }, flags: 2 }));
    c.send(opMsg({ body: { ping: 1, $db: "admin" }, flags: (1 << 4) | 2 }));
    expect(await c.silentFor(150)).toBe(true);
    c.send(opMsg({ body: { count: "quiet", $db: "raw" }, requestId: 555 }));
    const reply = await c.next();
    expect(reply.responseTo).toBe(555);
    expect(reply.doc).toMatchObject({ ok: 1, n: 1 });
  });

  it("answers invalid BSON with an error and stays usable", async () => {
    const c = await connection();
    const good = opMsg({ body: { ping: 1, $db: "admin" } });
    const bad = Buffer.from(good);
    bad.writeInt32LE(200, 21); // the kind-0 document claims more bytes than the message has
    c.send(bad);
    expect((await c.next()).doc).toMatchObject({ ok: 0, codeName: "InvalidBSON", code: 22 });
    c.send(good);
    expectPlainOk((await c.next()).doc);
  });

  it("answers an OP_MSG without a $db with an error", async () => {
    const c = await connection();
    c.send(opMsg({ body: { ping: 1 } }));
    expect((await c.next()).doc).toMatchObject({ ok: 0, code: 2 });
  });

  it.each([
    ["a negative length", -5],
    ["a length below the header size", 8],
    ["a length above maxMessageSizeBytes", 48_000_001],
  ])("closes the connection on %s and keeps serving others", async (_label, length) => {
    const c = await connection();
    c.send(header(length, 1, 2013));
    await c.closed();
    await expectServerUp();
  });

  it("closes the connection on an unsupported opcode (e.g. OP_COMPRESSED)", async () => {
    const c = await connection();
    const body = Buffer.alloc(9);
    c.send(Buffer.concat([header(16 + body.length, 1, 2012), body]));
    await c.closed();
    await expectServerUp();
  });

  it("survives a client that disconnects mid-message", async () => {
    const c = await connection();
    c.send(opMsg({ body: { ping: 1, $db: "admin" } }).subarray(0, 20));
    c.close();
    await expectServerUp();
  });

  it("serves many connections at once, each strictly in its own order", async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => connection()));
    clients.forEach((c, k) => {
      const frames = Array.from({ length: 15 }, (_, i) =>
        opMsg({ body: { insert: "many", documents: [{ _id: `${k}-${i}` }], $db: "raw" }, requestId: k * 100 + i }),
      );
      c.send(Buffer.concat(frames));
    });
    const replies = await Promise.all(clients.map(async (c) => Promise.all(Array.from({ length: 15 }, () => c.next(10_000)))));
    replies.forEach((list, k) => {
      expect(list.map((r) => r.responseTo)).toEqual(Array.from({ length: 15 }, (_, i) => k * 100 + i));
      expect(list.every((r) => r.doc["ok"] === 1 && r.doc["n"] === 1)).toBe(true);
    });
    const check = clients[0];
    if (check === undefined) throw new Error("no client");
    check.send(opMsg({ body: { count: "many", $db: "raw" } }));
    expect((await check.next()).doc).toMatchObject({ ok: 1, n: 300 });
  });

  it("stays up under a stream of garbage frames (deterministic pseudo-random bodies)", async () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 40; round++) {
      const c = await connection();
      const length = 16 + Math.floor(random() * 200);
      const frame = Buffer.alloc(length);
      for (let i = 16; i < length; i++) frame[i] = Math.floor(random() * 256);
      frame.writeInt32LE(length, 0);
      frame.writeInt32LE(round, 4);
      frame.writeInt32LE(0, 8);
      frame.writeInt32LE(round % 2 === 0 ? 2013 : 2004, 12);
      if (round % 4 === 0) frame.writeUInt32LE(0, 16); // plausible flags, random sections
      c.send(frame);
      c.close();
    }
    await expectServerUp();
  });

  it("returns int64 cursor ids that getMore and killCursors accept", async () => {
    const c = await connection();
    c.send(opMsg({ body: { insert: "cursors", documents: Array.from({ length: 5 }, (_, i) => ({ _id: i })), $db: "raw" } }));
    await c.next();
    c.send(opMsg({ body: { find: "cursors", batchSize: 2, $db: "raw" } }));
    const first = await c.next();
    const typed = BSON.deserialize(first.bson, { promoteValues: false })["cursor"] as { id: unknown; ns: string };
    expect(typed.ns).toBe("raw.cursors");
    expect(typed.id).toBeInstanceOf(Long);
    const id = typed.id as Long;
    expect(id.isZero()).toBe(false);
    c.send(opMsg({ body: { getMore: id, collection: "cursors", batchSize: 2, $db: "raw" } }));
    expect((await c.next()).doc["cursor"]).toMatchObject({ nextBatch: [{ _id: 2 }, { _id: 3 }] });
    c.send(opMsg({ body: { killCursors: "cursors", cursors: [id, Long.fromNumber(12345)], $db: "raw" } }));
    const killed = (await c.next()).doc;
    expect(killed).toMatchObject({ ok: 1 });
    expect((killed["cursorsKilled"] as unknown[]).map(String)).toEqual([id.toString()]);
    expect((killed["cursorsNotFound"] as unknown[]).map(String)).toEqual(["12345"]);
    c.send(opMsg({ body: { getMore: id, collection: "cursors", $db: "raw" } }));
    expect((await c.next()).doc).toMatchObject({ ok: 0, code: 43, codeName: "CursorNotFound" });
  });
});

describe("message and document size limits", () => {
  const MiB = 1024 * 1024;

  it("accepts a 45 MB message (three 15 MiB documents in a kind-1 section) and inserts them all", { timeout: 60_000 }, async () => {
    const c = await connection();
    const docs = [1, 2, 3].map((i) => ({ _id: i, s: String(i).repeat(15 * MiB) }));
    const frame = opMsg({ body: { insert: "big", ordered: true, $db: "raw" }, sequences: [["documents", docs]] });
    expect(frame.length).toBeGreaterThan(45 * 1_000_000);
    expect(frame.length).toBeLessThan(48_000_000);
    c.send(frame);
    expect((await c.next(30_000)).doc).toMatchObject({ ok: 1, n: 3 });
    c.send(opMsg({ body: { aggregate: "big", pipeline: [{ $project: { len: { $strLenBytes: "$s" } } }], cursor: {}, $db: "raw" } }));
    expect(((await c.next(30_000)).doc["cursor"] as { firstBatch: unknown[] }).firstBatch).toEqual([
      { _id: 1, len: 15 * MiB },
      { _id: 2, len: 15 * MiB },
      { _id: 3, len: 15 * MiB },
    ]);
  });

  it("answers a command document above 16 MiB plus envelope with BSONObjectTooLarge and stays usable", { timeout: 60_000 }, async () => {
    const c = await connection();
    c.send(opMsg({ body: { insert: "huge", documents: [{ _id: 1, s: "x".repeat(16 * MiB + 16 * 1024) }], $db: "raw" } }));
    const reply = (await c.next(30_000)).doc;
    expect(reply).toMatchObject({ ok: 0, code: 10334, codeName: "BSONObjectTooLarge" });
    expect(String(reply["errmsg"])).toMatch(/^BSONObj size: \d+ \(0x[0-9A-F]+\) is invalid\. Size must be between 0 and 16793600\(16MB\)$/);
    c.send(opMsg({ body: { count: "huge", $db: "raw" } }));
    expect((await c.next()).doc).toMatchObject({ ok: 1, n: 0 });
  });

  it("answers a result larger than a reply may be with BSONObjectTooLarge, never a truncated reply", { timeout: 60_000 }, async () => {
    const c = await connection();
    const docs = [1, 2, 3].map((i) => ({ _id: i, s: String(i).repeat(7 * MiB) }));
    c.send(opMsg({ body: { insert: "grouped", $db: "raw" }, sequences: [["documents", docs]] }));
    expect((await c.next(30_000)).doc).toMatchObject({ ok: 1, n: 3 });
    c.send(opMsg({ body: { aggregate: "grouped", pipeline: [{ $group: { _id: null, all: { $push: "$s" } } }], cursor: {}, $db: "raw" } }));
    const reply = (await c.next(30_000)).doc;
    expect(reply).toMatchObject({ ok: 0, code: 10334, codeName: "BSONObjectTooLarge" });
    c.send(opMsg({ body: { ping: 1, $db: "raw" } }));
    expect((await c.next()).doc["ok"]).toBe(1);
  });

  it("gives a document above 16 MiB in a sequence its own write error (10334), the others are inserted", { timeout: 60_000 }, async () => {
    const c = await connection();
    const docs = [{ _id: 1 }, { _id: 2, s: "x".repeat(16 * MiB) }, { _id: 3 }];
    c.send(opMsg({ body: { insert: "seq", ordered: false, $db: "raw" }, sequences: [["documents", docs]] }));
    const reply = (await c.next(30_000)).doc;
    expect(reply).toMatchObject({ ok: 1, n: 2, writeErrors: [{ index: 1, code: 10334, codeName: "BSONObjectTooLarge" }] });
  });
});

describe("cluster time gossip", () => {
  it("moves the clock forward, but refuses a time more than a year ahead (ClusterTimeFailsRateLimiter, 205)", async () => {
    const c = await connection();
    const signature = { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.ZERO };
    const ahead = new Timestamp({ t: Math.floor(Date.now() / 1000) + 3_600, i: 5 });
    c.send(opMsg({ body: { ping: 1, $db: "admin", $clusterTime: { clusterTime: ahead, signature } } }));
    const gossiped = (await c.next()).doc;
    expect(((gossiped["$clusterTime"] as Document)["clusterTime"] as Timestamp).equals(ahead)).toBe(true);
    const tooFar = new Timestamp({ t: Math.floor(Date.now() / 1000) + 400 * 24 * 3_600, i: 1 });
    c.send(opMsg({ body: { ping: 1, $db: "admin", $clusterTime: { clusterTime: tooFar, signature } } }));
    expect((await c.next()).doc).toMatchObject({ ok: 0, code: 205, codeName: "ClusterTimeFailsRateLimiter" });
  });
});
