/**
 * Durability of the embedded server with a data directory: acknowledged
 * writes survive `kill -9` (also one landing in the middle of concurrent writes
 * and transactions), a torn journal tail is cut off (and reported) on restart,
 * and uncommitted or aborted transactions never come back.
 *
 * These tests crash and restart the server process, which cannot be done to a
 * deployment given by MONGODB_URI, so they are skipped there (and say so).
 */
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, type TestContext } from "vitest";
import { Decimal128, Double, Int32, Long, MongoClient, type Collection, type Document, type ServerDescriptionChangedEvent } from "mongodb";
import { spawnEmbeddedMongo, type SpawnedEmbeddedMongo } from "../../spawn-embedded-mongo.ts";
import { clientOptions, expectServerError, listIndexes, type TestDoc } from "../fixtures/conformance-database.ts";

const externalDeployment = Boolean(process.env["MONGODB_URI"]);
const dbName = "durable";

/**
 * The clients of servers these tests crash select a server for at most 2 s:
 * closing a client ends its open sessions (aborting their transactions),
 * which waits that long for a server that is gone.
 */
const crashedClientOptions = { ...clientOptions, serverSelectionTimeoutMS: 2_000 };

/** What one test started: closed, stopped and removed when that test ends. */
interface Scratch {
  readonly servers: SpawnedEmbeddedMongo[];
  readonly clients: MongoClient[];
  /** A data directory of the test's own. */
  readonly tempDir: () => Promise<string>;
  /** A server on `dataDir` and a connected client of it. */
  readonly start: (dataDir: string) => Promise<{ server: SpawnedEmbeddedMongo; client: MongoClient }>;
}

/**
 * The tests run at once (each mostly waits on the processes it starts: their
 * starts, fsyncs and crashes), so what one starts is cleaned up when that
 * test ends rather than after each test of the file.
 */
function scratch(onTestFinished: TestContext["onTestFinished"]): Scratch {
  const servers: SpawnedEmbeddedMongo[] = [];
  const clients: MongoClient[] = [];
  const dirs: string[] = [];
  onTestFinished(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => closeQuickly(c)));
    await Promise.allSettled(servers.splice(0).map((s) => s.stop(5_000)));
    await Promise.allSettled(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return {
    servers,
    clients,
    tempDir: async () => {
      const dir = await mkdtemp(join(tmpdir(), "roster-durability-"));
      dirs.push(dir);
      return dir;
    },
    start: async (dataDir) => {
      // A restart replays the journal (tens of MB in some tests) while the other tests run.
      const server = await spawnEmbeddedMongo({ dataDir, startTimeoutMs: 60_000 });
      servers.push(server);
      const client = new MongoClient(server.uri, crashedClientOptions);
      clients.push(client);
      await client.connect();
      return { server, client };
    },
  };
}

/** Closing a client whose server was killed must not wait for server selection. */
async function closeQuickly(client: MongoClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.close(true),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 3_000);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * kill -9, then close the client once its monitor has seen the server go:
 * closed before that, it would send endSessions to the dead server and wait
 * out closeQuickly's bound (3 s a crash).
 */
async function crash(server: SpawnedEmbeddedMongo, client: MongoClient): Promise<void> {
  const gone = serverGone(client);
  server.kill("SIGKILL");
  expect(await server.exited).toBeNull();
  await gone;
  await closeQuickly(client);
}

/** Resolves when `client` marks its server Unknown (its monitor's connection failed), or after 3 s. */
function serverGone(client: MongoClient): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, 3_000);
    function done(): void {
      clearTimeout(timer);
      client.off("serverDescriptionChanged", onChange);
      resolve();
    }
    function onChange(event: ServerDescriptionChangedEvent): void {
      if (event.newDescription.type === "Unknown") done();
    }
    client.on("serverDescriptionChanged", onChange);
  });
}

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * The journal the server appends to: the newest `journal-<generation>.log`
 * (naming from src/embedded-mongo/engine/data-dir.ts; only the newest journal
 * may legitimately end in a torn record).
 */
async function currentJournal(dir: string): Promise<string> {
  const journals = (await filesUnder(dir)).filter((f) => /(^|\/)journal-\d+\.log$/.test(f)).sort();
  const newest = journals[journals.length - 1];
  if (newest === undefined) throw new Error(`no journal-*.log in ${dir}: ${(await filesUnder(dir)).join(", ")}`);
  expect((await stat(newest)).size).toBeGreaterThan(0);
  return newest;
}

/** The engine reports a cut tail as "... ends in a torn record ...; cut off N bytes ...". */
const tornTailPattern = /torn|truncat/i;

/** Exactly these `_id`s are stored: every acknowledged document, nothing else. */
async function expectExactly(coll: Collection<TestDoc>, ids: ReadonlySet<unknown>): Promise<void> {
  const stored = (await coll.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
  expect(stored.length).toBe(ids.size);
  expect(stored.filter((id) => !ids.has(id))).toEqual([]);
}

describe.skipIf(externalDeployment)("durability across kill -9 (embedded only: needs to crash the server process)", () => {
  it.concurrent(
    "acknowledged inserts, updates, deletes, a committed transaction and an index survive kill -9",
    { timeout: 120_000 },
    async ({ onTestFinished }) => {
      const { tempDir, start } = scratch(onTestFinished);
      const dataDir = await tempDir();
      const first = await start(dataDir);
      const db = first.client.db(dbName);
      const users = db.collection<TestDoc>("users");
      const accounts = db.collection<TestDoc>("accounts");

      await users.createIndex({ email: 1 }, { unique: true }, undefined);
      await users.insertMany([
        { _id: 1, email: "a@x", n: 1 },
        { _id: 2, email: "b@x", n: 2 },
        { _id: 3, email: "c@x", n: 3 },
      ]);
      await users.updateOne({ _id: 1 }, { $inc: { n: 10 }, $set: { tags: ["t"] } });
      await users.replaceOne({ _id: 2 }, { email: "b2@x" });
      await users.deleteOne({ _id: 3 });
      await users.insertOne({
        _id: 4,
        email: "types@x",
        i32: new Int32(7),
        long: Long.fromString("9007199254740993"),
        dbl: new Double(1),
        dec: Decimal128.fromString("2.50"),
        at: new Date("2020-05-05T05:05:05.005Z"),
      });
      await db.createCollection("empty_but_created");
      await db.collection<TestDoc>("dropped").insertOne({ gone: true });
      await db.collection<TestDoc>("dropped").drop();
      await users.createIndex({ n: 1 }, { name: "n_dropped" }, undefined);
      await users.dropIndex("n_dropped");
      await accounts.insertMany([
        { _id: "alice", balance: 100 },
        { _id: "bob", balance: 0 },
      ]);

      const committed = first.client.startSession();
      await committed.withTransaction(async () => {
        await accounts.updateOne({ _id: "alice" }, { $inc: { balance: -30 } }, { session: committed });
        await accounts.updateOne({ _id: "bob" }, { $inc: { balance: 30 } }, { session: committed });
        await accounts.insertOne({ _id: "ledger-1", amount: 30 }, { session: committed });
      });
      await committed.endSession();

      const aborted = first.client.startSession();
      aborted.startTransaction();
      await accounts.insertOne({ _id: "aborted" }, { session: aborted });
      await accounts.updateOne({ _id: "alice" }, { $set: { balance: -1 } }, { session: aborted });
      await aborted.abortTransaction();

      const open = first.client.startSession();
      open.startTransaction();
      await accounts.insertOne({ _id: "uncommitted" }, { session: open });
      await accounts.updateOne({ _id: "bob" }, { $set: { balance: -1 } }, { session: open });

      await crash(first.server, first.client);

      const second = await start(dataDir);
      const db2 = second.client.db(dbName);
      expect(await db2.collection<TestDoc>("users").find().sort({ _id: 1 }).project({ _id: 1, email: 1, n: 1, tags: 1 }).toArray()).toEqual(
        [
          { _id: 1, email: "a@x", n: 11, tags: ["t"] },
          { _id: 2, email: "b2@x" },
          { _id: 4, email: "types@x" },
        ],
      );
      const typed = (await db2.collection<TestDoc>("users").findOne({ _id: 4 }, { promoteValues: false })) as Document;
      expect(typed["i32"]).toBeInstanceOf(Int32);
      expect((typed["long"] as Long).toString()).toBe("9007199254740993");
      expect(typed["dbl"]).toBeInstanceOf(Double);
      expect((typed["dec"] as Decimal128).toString()).toBe("2.50");
      expect((typed["at"] as Date).toISOString()).toBe("2020-05-05T05:05:05.005Z");

      expect(await db2.collection<TestDoc>("accounts").find().sort({ _id: 1 }).toArray()).toEqual([
        { _id: "alice", balance: 70 },
        { _id: "bob", balance: 30 },
        { _id: "ledger-1", amount: 30 },
      ]);

      const collections = (await db2.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
      expect(collections).toEqual(["accounts", "empty_but_created", "users"]);
      const indexes = await listIndexes(db2.collection<TestDoc>("users"));
      expect(indexes.map((ix) => ix["name"] as string).sort()).toEqual(["_id_", "email_1"]);
      expect(indexes.find((ix) => ix["name"] === "email_1")).toMatchObject({ key: { email: 1 }, unique: true });
      const dup = await expectServerError(db2.collection<TestDoc>("users").insertOne({ email: "a@x" }));
      expect(dup.code).toBe(11000);
      expect(dup["keyValue"]).toEqual({ email: "a@x" });

      expect(await second.server.stop()).toBe(0);
    },
  );

  it.concurrent(
    "a torn journal tail is cut off with one log line, and later writes still persist",
    { timeout: 120_000 },
    async ({ onTestFinished }) => {
      const { tempDir, start } = scratch(onTestFinished);
      const dataDir = await tempDir();
      const first = await start(dataDir);
      const items = first.client.db(dbName).collection<TestDoc>("items");
      for (let batch = 0; batch < 5; batch += 1) {
        await items.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: batch * 20 + i, batch })));
      }
      await items.updateOne({ _id: 0 }, { $set: { last: true } });
      await crash(first.server, first.client);

      // A partial record: what a crash in the middle of an append leaves behind.
      await appendFile(await currentJournal(dataDir), Buffer.from([0x57, 0x00, 0x00, 0x00, 0xff, 0x13, 0x37]));

      const second = await start(dataDir);
      const output = second.server.output();
      const tornLines = `${output.stdout}\n${output.stderr}`.split("\n").filter((line) => tornTailPattern.test(line));
      expect(tornLines, `server output:\n${output.stdout}\n${output.stderr}`).toHaveLength(1);
      const items2 = second.client.db(dbName).collection<TestDoc>("items");
      expect(await items2.countDocuments()).toBe(100);
      expect(await items2.findOne({ _id: 0 })).toEqual({ _id: 0, batch: 0, last: true });
      expect(await items2.findOne({ _id: 99 })).toEqual({ _id: 99, batch: 4 });

      await items2.insertOne({ _id: 100, batch: 5 });
      await crash(second.server, second.client);

      const third = await start(dataDir);
      const thirdOutput = third.server.output();
      expect(`${thirdOutput.stdout}\n${thirdOutput.stderr}`).not.toMatch(tornTailPattern);
      const items3 = third.client.db(dbName).collection<TestDoc>("items");
      expect(await items3.countDocuments()).toBe(101);
      expect(await items3.findOne({ _id: 100 })).toEqual({ _id: 100, batch: 5 });
    },
  );

  it.concurrent(
    "kill -9 in the middle of concurrent writes and transactions loses no acknowledged write and tears no transaction",
    { timeout: 120_000 },
    async ({ onTestFinished }) => {
      const { tempDir, start, servers, clients } = scratch(onTestFinished);
      const dataDir = await tempDir();
      const server = await spawnEmbeddedMongo({ dataDir });
      servers.push(server);
      // No retries: an acknowledgement must mean "committed by the server that was killed".
      const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 2_000, retryWrites: false, maxPoolSize: 16 });
      clients.push(client);
      await client.connect();
      const db = client.db(dbName);
      const accountCount = 5;
      await db.collection<TestDoc>("accounts").insertMany(Array.from({ length: accountCount }, (_, i) => ({ _id: i, balance: 1000 })));

      const acknowledged: string[] = [];
      let acknowledgedTransfers = 0;
      let stop = false;
      let killed = false;
      const errorsBeforeKill: unknown[] = [];
      const inserter = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i += 1) {
          await db.collection<TestDoc>("stream").insertOne({ _id: `${w}-${i}`, pad: "x".repeat(200) });
          acknowledged.push(`${w}-${i}`);
        }
      };
      const transferrer = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i += 1) {
          const session = client.startSession();
          try {
            await session.withTransaction(
              async () => {
                const accounts = db.collection<TestDoc>("accounts");
                await accounts.updateOne({ _id: (w + i) % accountCount }, { $inc: { balance: -3 } }, { session });
                await accounts.updateOne({ _id: (w + 2 * i + 1) % accountCount }, { $inc: { balance: 3 } }, { session });
              },
              { timeoutMS: 5_000 },
            );
            acknowledgedTransfers += 1;
          } finally {
            await session.endSession().catch(() => undefined);
          }
        }
      };
      const workers = [...Array.from({ length: 6 }, (_, w) => inserter(w)), ...Array.from({ length: 3 }, (_, w) => transferrer(w))].map(
        (p) =>
          p.catch((error: unknown) => {
            // Writes in flight fail once the server is gone; any failure before that is a bug.
            if (!killed) errorsBeforeKill.push(error);
          }),
      );

      // The kill lands once every worker is well under way (or one failed, which the expectation below reports).
      await expect
        .poll(() => (acknowledged.length >= 200 && acknowledgedTransfers >= 5) || errorsBeforeKill.length > 0, {
          timeout: 30_000,
          interval: 20,
        })
        .toBe(true);
      killed = true;
      const gone = serverGone(client);
      server.kill("SIGKILL");
      expect(await server.exited).toBeNull();
      stop = true;
      await Promise.all(workers);
      await gone;
      await closeQuickly(client);
      expect(errorsBeforeKill).toEqual([]);
      expect(acknowledged.length).toBeGreaterThan(20);
      expect(acknowledgedTransfers).toBeGreaterThan(0);

      const second = await start(dataDir);
      const db2 = second.client.db(dbName);
      const stored = new Set(
        (
          await db2
            .collection<TestDoc>("stream")
            .find({}, { projection: { _id: 1 } })
            .toArray()
        ).map((d) => d._id as string),
      );
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
      const balances = (await db2.collection<TestDoc>("accounts").find().toArray()).map((d) => d["balance"] as number);
      expect(balances).toHaveLength(accountCount);
      expect(balances.reduce((a, b) => a + b, 0)).toBe(accountCount * 1000);
    },
  );

  it.concurrent(
    "after an oversized update and large writes, SIGTERM and kill -9 restarts keep every acknowledged document",
    { timeout: 180_000 },
    async ({ onTestFinished }) => {
      const { tempDir, start } = scratch(onTestFinished);
      const MiB = 1024 * 1024;
      const dataDir = await tempDir();
      const first = await start(dataDir);
      const big = first.client.db(dbName).collection<TestDoc>("big");
      const acknowledged = new Set<unknown>();

      await big.insertOne({ _id: "g", s: "a".repeat(10 * MiB) });
      acknowledged.add("g");
      // Refused, as MongoDB refuses it: nothing may change, and nothing after it may be lost.
      expect((await expectServerError(big.updateOne({ _id: "g" }, { $set: { t: "b".repeat(7 * MiB) } }))).code).toBe(17419);
      // About 18 MB: more than one document may hold, sent by the driver as several commands.
      const pad = "p".repeat(900);
      const many = await big.insertMany(Array.from({ length: 20_000 }, (_, i) => ({ _id: i, pad })));
      expect(many.insertedCount).toBe(20_000);
      for (let i = 0; i < 20_000; i++) acknowledged.add(i);
      // A transaction of three 10 MB documents: more than any single journal record may hold.
      const session = first.client.startSession();
      await session.withTransaction(async () => {
        for (const id of ["t1", "t2", "t3"]) await big.insertOne({ _id: id, s: id.repeat(5 * MiB) }, { session });
      });
      await session.endSession();
      for (const id of ["t1", "t2", "t3"]) acknowledged.add(id);
      await big.insertOne({ _id: "after" });
      acknowledged.add("after");
      await first.client.close();
      expect(await first.server.stop()).toBe(0);

      const second = await start(dataDir);
      const big2 = second.client.db(dbName).collection<TestDoc>("big");
      await expectExactly(big2, acknowledged);
      const g = await big2.findOne({ _id: "g" });
      expect(Object.keys(g ?? {})).toEqual(["_id", "s"]);
      expect((g?.["s"] as string).length).toBe(10 * MiB);
      expect(((await big2.findOne({ _id: "t2" }))?.["s"] as string).length).toBe(10 * MiB);
      await big2.insertMany(Array.from({ length: 1_000 }, (_, i) => ({ _id: `later-${i}`, pad })));
      for (let i = 0; i < 1_000; i++) acknowledged.add(`later-${i}`);
      await crash(second.server, second.client);

      const third = await start(dataDir);
      await expectExactly(third.client.db(dbName).collection<TestDoc>("big"), acknowledged);
      const output = third.server.output();
      expect(`${output.stdout}\n${output.stderr}`).not.toMatch(tornTailPattern);
    },
  );

  it.concurrent(
    "a journal damaged before valid records stops the start with an error naming the file and byte",
    { timeout: 120_000 },
    async ({ onTestFinished }) => {
      const { tempDir, start, servers } = scratch(onTestFinished);
      const dataDir = await tempDir();
      const first = await start(dataDir);
      const items = first.client.db(dbName).collection<TestDoc>("items");
      for (let i = 0; i < 3; i++) await items.insertOne({ _id: i, v: `value-${i}` });
      await first.client.close();
      expect(await first.server.stop()).toBe(0);
      const journal = await currentJournal(dataDir);
      const bytes = await readFile(journal);
      // A byte in the middle of the file: records before and after it are intact.
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
      await writeFile(journal, bytes);

      const failure = await spawnEmbeddedMongo({ dataDir }).then(
        (server) => {
          servers.push(server);
          return "started";
        },
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      expect(failure).toMatch(/exited \(code 1,/);
      expect(failure).toContain(`journal ${journal} is damaged at byte `);
      expect(failure).toMatch(/\(checksum mismatch in record at byte \d+\), but valid records follow at byte \d+; refusing to start/);
      // Nothing was cut off: the file is exactly as it was.
      expect((await readFile(journal)).equals(bytes)).toBe(true);
    },
  );

  it.concurrent("a graceful stop (SIGTERM) exits 0 and keeps everything", { timeout: 120_000 }, async ({ onTestFinished }) => {
    const { tempDir, start } = scratch(onTestFinished);
    const dataDir = await tempDir();
    const first = await start(dataDir);
    await first.client
      .db(dbName)
      .collection<TestDoc>("graceful")
      .insertMany([{ _id: 1 }, { _id: 2 }]);
    await first.client.db(dbName).collection<TestDoc>("graceful").createIndex({ x: 1 });
    await first.client.close();
    expect(await first.server.stop()).toBe(0);

    const second = await start(dataDir);
    const coll = second.client.db(dbName).collection<TestDoc>("graceful");
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1 }, { _id: 2 }]);
    expect((await listIndexes(coll)).map((ix) => ix["name"] as string).sort()).toEqual(["_id_", "x_1"]);
  });
});
