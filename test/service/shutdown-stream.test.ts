/**
 * SIGTERM while a BatchMemberships stream is running, against Roster as a
 * real process (`node --import tsx src/main.ts`, as `npm start` runs it):
 * - health turns NOT_SERVING (seen by a Watch stream opened before), new
 *   calls on either door are refused with UNAVAILABLE, and the stream keeps
 *   working: a client that finishes within ROSTER_SHUTDOWN_GRACE_MS gets
 *   every result and OK, and the process exits 0 without waiting out the
 *   grace period;
 * - a client that does not finish in time sees its stream end with
 *   UNAVAILABLE "server is shutting down", and the process still exits 0,
 *   promptly after the grace period.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { credentials } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OperationResult } from "../../gen/roster/v1/membership_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { addOp, openBatchStream, type BatchStream } from "../fixtures/batch-stream-client.ts";
import { createHealthClient } from "../fixtures/health-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { createRosterClient, failureOf, type RosterClient } from "../fixtures/roster-grpc-client.ts";
import { startRosterProcess, type RosterProcess } from "../fixtures/roster-npm-start-process.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";

let mongo: TestMongo;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  mongo = await startTestMongo();
});

afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

afterAll(async () => {
  await mongo.stop();
});

/** A running process with a group owned by alice and a BatchMemberships stream open on it. */
async function startWithStream(
  graceMs: number,
): Promise<{ proc: RosterProcess; client: RosterClient; stream: BatchStream; groupId: string }> {
  const proc = await startRosterProcess({
    MONGODB_URI: withDatabase(mongo.uri, uniqueDbName("sigterm")),
    ROSTER_SHUTDOWN_GRACE_MS: String(graceMs),
  });
  cleanups.push(() => proc.dispose());
  const client = createRosterClient(proc.address);
  cleanups.push(() => {
    client.close();
  });
  const token = await proc.token("alice");
  const created = await client.groups.createGroup({ group: { slug: "drain", displayName: "Drain" } }, { token });
  const groupId = created.group?.id ?? "";
  const stream = openBatchStream(client.raw, token);
  return { proc, client, stream, groupId };
}

/** Sends one add and waits for its result (the stream answers each operation on its own when they come slowly). */
async function addAndRead(stream: BatchStream, groupId: string, index: number): Promise<OperationResult> {
  stream.send(addOp(groupId, `user:member-${index}`, undefined, `op-${index}`));
  const response = await stream.next();
  if (response?.message.case !== "result") throw new Error(`expected result ${index}, got ${JSON.stringify(response?.message.case)}`);
  return response.message.value;
}

/** A call on a fresh connection, so it cannot ride on a connection opened before shutdown. */
async function freshGrpcCallCode(proc: RosterProcess, token: string): Promise<string> {
  const fresh = createRosterClient(proc.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  try {
    return (await failureOf(fresh.groups.listGroups({}, { token, deadlineMs: 3000 }))).code;
  } finally {
    fresh.close();
  }
}

async function webCallCode(proc: RosterProcess, token: string): Promise<Code | "OK"> {
  const web = createClient(GroupService, createConnectTransport({ baseUrl: proc.httpUrl, httpVersion: "1.1" }));
  try {
    await web.listGroups({}, { headers: { authorization: `Bearer ${token}` }, timeoutMs: 3000 });
    return "OK";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("SIGTERM during a BatchMemberships stream (process)", () => {
  it("lets the stream finish within the grace period: every result OK, new calls UNAVAILABLE, health NOT_SERVING, exit 0", async () => {
    const graceMs = 8000;
    const { proc, client, stream, groupId } = await startWithStream(graceMs);
    const token = await proc.token("alice");
    const health = createHealthClient(proc.address);
    cleanups.push(() => {
      health.close();
    });
    const watch = health.watch("");
    expect(await watch.next()).toBe("SERVING");

    const results: OperationResult[] = [];
    for (let i = 0; i < 3; i++) {
      results.push(await addAndRead(stream, groupId, i));
      await sleep(50);
    }

    const signalledAt = performance.now();
    proc.child.kill("SIGTERM");
    await proc.waitForLog((line) => line["msg"] === "roster stopping");
    expect(await watch.next()).toBe("NOT_SERVING");
    // …and then ends by itself, so it does not hold the drain until the grace period ends.
    expect(await watch.ended).toBe(0);

    // New calls are refused on both doors while the stream drains…
    expect(await freshGrpcCallCode(proc, token)).toBe("UNAVAILABLE");
    expect((await failureOf(client.groups.listGroups({}, { token, deadlineMs: 3000 }))).code).toBe("UNAVAILABLE");
    expect(await webCallCode(proc, token)).toBe(Code.Unavailable);

    // …while the stream keeps working.
    for (let i = 3; i < 6; i++) {
      results.push(await addAndRead(stream, groupId, i));
      await sleep(50);
    }
    stream.end();
    const outcome = await stream.finish();
    expect(outcome.code).toBe("OK");
    results.push(...outcome.results);
    expect(results.map((r) => [r.index, r.tag, r.status?.code, r.changed])).toEqual([0, 1, 2, 3, 4, 5].map((i) => [i, `op-${i}`, 0, true]));

    const exit = await proc.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    // It exited as soon as the stream was done, not at the end of the grace period.
    expect(exit.at - signalledAt).toBeLessThan(graceMs);
    expect(proc.stderr()).toBe("");
    const batchLine = proc
      .logs()
      .find((line) => line["msg"] === "rpc" && line["method"] === "roster.v1.MembershipService/BatchMemberships");
    expect(batchLine).toMatchObject({ code: "OK", caller: "user:alice", door: "grpc" });
    expect(proc.logs().some((line) => line["msg"] === "roster stopped")).toBe(true);
  }, 20_000);

  it("cancels a stream still open when the grace period ends with UNAVAILABLE, and exits 0 promptly", async () => {
    const graceMs = 1500;
    const { proc, stream, groupId } = await startWithStream(graceMs);
    const results = [await addAndRead(stream, groupId, 0)];

    const signalledAt = performance.now();
    proc.child.kill("SIGTERM");
    await proc.waitForLog((line) => line["msg"] === "roster stopping");
    // Still served during the grace period; then the client dawdles past it.
    results.push(await addAndRead(stream, groupId, 1));
    const outcome = await stream.finish();
    const endedAt = performance.now();

    expect(results.map((r) => r.status?.code)).toEqual([0, 0]);
    expect(outcome).toMatchObject({ code: "UNAVAILABLE", details: "server is shutting down" });
    expect(endedAt - signalledAt).toBeGreaterThanOrEqual(graceMs - 100);

    const exit = await proc.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeGreaterThanOrEqual(graceMs);
    expect(exit.at - signalledAt).toBeLessThan(graceMs + 3000);
    expect(proc.stderr()).toBe("");
    const batchLine = proc
      .logs()
      .find((line) => line["msg"] === "rpc" && line["method"] === "roster.v1.MembershipService/BatchMemberships");
    expect(batchLine).toMatchObject({ code: "UNAVAILABLE", caller: "user:alice" });
  }, 20_000);
});
