/**
 * Calls connect-node ends before the pipeline's interceptors run (a body that
 * is not JSON, a message above the size limit, a bad timeout header) and paths
 * that name no method: each still gets exactly one request-log line with the
 * usual fields — never the body — and, for real methods, one metrics count.
 * Against the whole service (startRoster), real HTTP requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";

const maxMessageBytes = 2048;
let mongo: TestMongo;
let roster: TestRoster;
let token: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({
    mongoUri: mongo.uri,
    dbName: uniqueDbName("web_early"),
    env: { ROSTER_MAX_MESSAGE_BYTES: String(maxMessageBytes) },
  });
  token = await roster.token("alice");
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

function connectPost(path: string, body: string, requestId: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${roster.httpUrl}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "connect-protocol-version": "1",
      authorization: `Bearer ${token}`,
      "x-request-id": requestId,
      ...extra,
    },
    body,
  });
}

/** The request-log lines of one request id, once the response is over (the line is written on close). */
async function rpcLines(requestId: string, expected = 1): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 2000;
  const count = (): number => roster.logs().filter((line) => line["msg"] === "rpc" && line["requestId"] === requestId).length;
  while (count() < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  // Give a second (duplicate) line a chance to show up before asserting there is exactly one.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return roster.logs().filter((line) => line["msg"] === "rpc" && line["requestId"] === requestId);
}

async function handledCount(method: string, code: string): Promise<number> {
  const text = (await roster.server.metrics.render()).body;
  const match = new RegExp(
    `^roster_rpc_handled_total\\{door="web",method="${method.replaceAll(".", "\\.")}",code="${code}"\\} (\\d+)$`,
    "m",
  ).exec(text);
  return match === null ? 0 : Number(match[1]);
}

describe("web door: calls refused by connect-node before the pipeline", () => {
  it("a bad JSON body: INVALID_ARGUMENT, exactly one log line with the usual fields, never the body; counted once", async () => {
    const before = await handledCount("roster.v1.GroupService/CreateGroup", "INVALID_ARGUMENT");
    const res = await connectPost("/roster.v1.GroupService/CreateGroup", '{"group": {"slug": "body-marker-7f3a", ', "bad-json-1");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });

    const lines = await rpcLines("bad-json-1");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      method: "roster.v1.GroupService/CreateGroup",
      door: "web",
      protocol: "connect",
      code: "INVALID_ARGUMENT",
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
    });
    expect(typeof lines[0]?.["ms"]).toBe("number");
    expect(roster.rawLogs()).not.toContain("body-marker-7f3a");
    expect(roster.rawLogs()).not.toContain(token);
    expect(await handledCount("roster.v1.GroupService/CreateGroup", "INVALID_ARGUMENT")).toBe(before + 1);
  });

  it("an oversized body: RESOURCE_EXHAUSTED, one log line, counted", async () => {
    const before = await handledCount("roster.v1.GroupService/CreateGroup", "RESOURCE_EXHAUSTED");
    const body = JSON.stringify({ group: { slug: "big", description: "x".repeat(maxMessageBytes * 2) } });
    const res = await connectPost("/roster.v1.GroupService/CreateGroup", body, "too-big-1");
    expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
    const lines = await rpcLines("too-big-1");
    expect(lines.map((line) => [line["code"], line["door"], line["method"]])).toEqual([
      ["RESOURCE_EXHAUSTED", "web", "roster.v1.GroupService/CreateGroup"],
    ]);
    expect(await handledCount("roster.v1.GroupService/CreateGroup", "RESOURCE_EXHAUSTED")).toBe(before + 1);
  });

  it("a malformed timeout header: INVALID_ARGUMENT, one log line", async () => {
    const res = await connectPost("/roster.v1.GroupService/ListGroups", "{}", "bad-timeout-1", { "connect-timeout-ms": "soon" });
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
    const lines = await rpcLines("bad-timeout-1");
    expect(lines.map((line) => [line["code"], line["method"]])).toEqual([["INVALID_ARGUMENT", "roster.v1.GroupService/ListGroups"]]);
  });

  it("an unknown method path: 404 (UNIMPLEMENTED for Connect clients), one log line", async () => {
    const res = await connectPost("/roster.v1.GroupService/NoSuchMethod", "{}", "unknown-method-1");
    expect(res.status).toBe(404);
    const lines = await rpcLines("unknown-method-1");
    expect(lines.map((line) => [line["code"], line["door"], line["method"]])).toEqual([
      ["UNIMPLEMENTED", "web", "roster.v1.GroupService/NoSuchMethod"],
    ]);
  });

  it("an ordinary call, failed or not, is still logged exactly once (by the pipeline)", async () => {
    const ok = await connectPost("/roster.v1.GroupService/ListGroups", "{}", "ordinary-ok");
    expect(ok.status).toBe(200);
    const notFound = await connectPost("/roster.v1.GroupService/GetGroup", '{"id": "missing"}', "ordinary-not-found");
    expect(await notFound.json()).toMatchObject({ code: "not_found" });
    expect((await rpcLines("ordinary-ok")).map((line) => [line["code"], line["caller"]])).toEqual([["OK", "user:alice"]]);
    expect((await rpcLines("ordinary-not-found")).map((line) => [line["code"], line["caller"]])).toEqual([["NOT_FOUND", "user:alice"]]);
  });
});
