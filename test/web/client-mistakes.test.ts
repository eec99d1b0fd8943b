/**
 * Client mistakes are never INTERNAL, on either door: a correctly
 * signed token whose claims have the wrong JSON type is UNAUTHENTICATED
 * naming the claim, and a request message that cannot be decoded (protobuf
 * or JSON, compressed or not, unary or streamed) is INVALID_ARGUMENT with
 * Roster's own message, the same from every decoder of both doors — never
 * the parser's. Against a whole Roster (both doors); the streamed cases need
 * HTTP/2, so a second Roster serves the web door over TLS.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { connect as connectHttp2, type ClientHttp2Session } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { failureOf } from "../fixtures/roster-grpc-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { createTestCa, hasOpenssl } from "../fixtures/test-certificates.ts";
import { createProtocolClient, protocolNames, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";

const secret = "a-known-secret-for-client-mistake-tests-0123456789";
const getGroupRequest = "roster.v1.GetGroupRequest";
const malformedProtobuf = `request: not a valid ${getGroupRequest} (malformed protobuf)`;
const malformedJson = `request: not a valid ${getGroupRequest} (malformed JSON, or a field of the wrong type)`;
/** A field 1 (GetGroupRequest.id, a string) whose length varint never ends. */
const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);

let mongo: TestMongo;
let roster: TestRoster;
let token: string;
const clients = new Map<ProtocolName, ProtocolClient>();

/** A token signed with the server's key, with exactly `claims` (exp one hour ahead unless given). */
function tokenWith(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(secret));
}

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("client_mistakes"), env: { ROSTER_JWT_SECRET: secret } });
  token = await tokenWith({ sub: "alice" });
  for (const name of protocolNames) clients.set(name, createProtocolClient(name, { grpcAddress: roster.address, webUrl: roster.httpUrl }));
});

afterAll(async () => {
  for (const client of clients.values()) client.close();
  await roster.stop();
  await mongo.stop();
});

/** The request-log line of one request id (written when the call ends). */
async function logLine(requestId: string): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 2000;
  const find = () => roster.logs().find((line) => line["msg"] === "rpc" && line["requestId"] === requestId);
  while (find() === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return find();
}

describe("tokens whose claims have the wrong JSON type: UNAUTHENTICATED naming the claim, on every protocol", () => {
  const cases: readonly (readonly [string, Record<string, unknown>, string])[] = [
    ["a numeric sub", { sub: 42 }, "malformed token: sub claim must be a string"],
    ["an array sub", { sub: ["alice"] }, "malformed token: sub claim must be a string"],
    ["a numeric iss", { sub: "alice", iss: 1 }, "malformed token: iss claim must be a string"],
    ["an aud of numbers", { sub: "alice", aud: [1] }, "malformed token: aud claim must be a string or an array of strings"],
    ["a string exp", { sub: "alice", exp: "soon" }, "malformed token: exp claim must be a number"],
    ["a string nbf", { sub: "alice", nbf: "now" }, "malformed token: nbf claim must be a number"],
    ["a string iat", { sub: "alice", iat: "now" }, "malformed token: iat claim must be a number"],
    ["a numeric jti", { sub: "alice", jti: 1 }, "malformed token: jti claim must be a string"],
    ["a string auth_time", { sub: "alice", auth_time: "today" }, "malformed token: auth_time claim must be a number"],
    ["a numeric principal_type", { sub: "alice", principal_type: 2 }, "malformed token: principal_type claim must be a string"],
    ["a string roster_admin", { sub: "alice", roster_admin: "yes" }, "malformed token: roster_admin claim must be a boolean"],
  ];
  const table = cases.flatMap(([name, claims, message]) => protocolNames.map((protocol) => ({ name, claims, message, protocol })));

  it.each(table)("$name over $protocol", async ({ claims, message, protocol }) => {
    const client = clients.get(protocol);
    if (client === undefined) throw new Error(`no client for ${protocol}`);
    expect(await client.call(GroupService, "ListGroups", {}, await tokenWith(claims))).toEqual({ code: 16, message });
  });
});

describe("undecodable request messages: Roster's INVALID_ARGUMENT, the same on every decoder", () => {
  const url = (method = "GetGroup") => `${roster.httpUrl}/roster.v1.GroupService/${method}`;
  const headers = (requestId: string, more: Record<string, string>) => ({
    authorization: `Bearer ${token}`,
    "x-request-id": requestId,
    ...more,
  });

  it("gRPC door", async () => {
    const failure = await failureOf(
      roster.client.callRaw(GroupService.method.getGroup, garbage, { token, metadata: { "x-request-id": "bad-grpc" } }),
    );
    expect(failure).toMatchObject({ code: "INVALID_ARGUMENT", details: malformedProtobuf });
    expect(await logLine("bad-grpc")).toMatchObject({ code: "INVALID_ARGUMENT", door: "grpc" });
  });

  it.each([
    [
      "Connect binary POST",
      "bad-connect-post",
      () => fetch(url(), { method: "POST", headers: headers("bad-connect-post", { "content-type": "application/proto" }), body: garbage }),
      malformedProtobuf,
    ],
    [
      "Connect GET with encoding=proto",
      "bad-connect-get",
      () =>
        fetch(`${url()}?connect=v1&encoding=proto&base64=1&message=${garbage.toString("base64url")}`, {
          headers: headers("bad-connect-get", {}),
        }),
      malformedProtobuf,
    ],
    [
      "Connect JSON POST, a field of the wrong type",
      "bad-json-type",
      () => fetch(url(), { method: "POST", headers: headers("bad-json-type", { "content-type": "application/json" }), body: '{"id": 5}' }),
      malformedJson,
    ],
    [
      "Connect JSON POST, not JSON",
      "bad-json-syntax",
      () => fetch(url(), { method: "POST", headers: headers("bad-json-syntax", { "content-type": "application/json" }), body: '{"id": ' }),
      malformedJson,
    ],
    [
      "Connect GET with encoding=json, a field of the wrong type",
      "bad-json-get",
      () =>
        fetch(`${url()}?connect=v1&encoding=json&message=${encodeURIComponent('{"id": ["g1"]}')}`, {
          headers: headers("bad-json-get", {}),
        }),
      malformedJson,
    ],
    [
      "Connect POST, a gzip body cut short",
      "bad-gzip",
      () =>
        fetch(url(), {
          method: "POST",
          headers: headers("bad-gzip", { "content-type": "application/proto", "content-encoding": "gzip" }),
          body: gzipSync(Buffer.from([0x0a, 0x02, 0x67, 0x31])).subarray(0, 12),
        }),
      "request: the compressed message cannot be decompressed",
    ],
  ] as const)("%s", async (_name, requestId, send, message) => {
    const res = await send();
    expect({ status: res.status, body: (await res.json()) as unknown }).toEqual({
      status: 400,
      body: { code: "invalid_argument", message },
    });
    expect(await logLine(requestId)).toMatchObject({ code: "INVALID_ARGUMENT", door: "web" });
  });

  it.each([
    [
      "a well-framed message with bad bytes",
      "bad-grpc-web",
      Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]),
      malformedProtobuf,
    ],
    [
      "a message flagged compressed without a compression",
      "bad-grpc-web-flag",
      Buffer.from([1, 0, 0, 0, 2, 0x0a, 0x00]),
      "request: the compressed message cannot be decompressed",
    ],
  ] as const)("gRPC-web: %s", async (_name, requestId, body, message) => {
    const res = await fetch(url(), { method: "POST", headers: headers(requestId, { "content-type": "application/grpc-web+proto" }), body });
    const trailer = Buffer.from(await res.arrayBuffer())
      .subarray(5)
      .toString("latin1");
    const fields: Record<string, string> = Object.fromEntries(
      trailer
        .trim()
        .split("\r\n")
        .map((line) => line.split(": ", 2) as [string, string]),
    );
    expect({ status: res.status, trailer: fields }).toEqual({
      status: 200,
      trailer: { "grpc-status": "3", "grpc-message": encodeURIComponent(message) },
    });
    expect(await logLine(requestId)).toMatchObject({ code: "INVALID_ARGUMENT", door: "web" });
  });
});

describe.skipIf(!hasOpenssl())(
  `streamed and gRPC-protocol messages on the web door over HTTP/2${hasOpenssl() ? "" : " (skipped: openssl not installed)"}`,
  () => {
    let dir: string;
    let tls: TestRoster;
    let session: ClientHttp2Session;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "roster-mistakes-"));
      const ca = createTestCa(dir, "mistakes");
      const server = ca.issueServer("web");
      tls = await startTestRoster({
        mongoUri: mongo.uri,
        dbName: uniqueDbName("client_mistakes_tls"),
        env: { ROSTER_JWT_SECRET: secret, ROSTER_HTTP_TLS_CERT: server.certPath, ROSTER_HTTP_TLS_KEY: server.keyPath },
      });
      session = connectHttp2(tls.httpUrl, { ca: ca.cert });
    });

    afterAll(async () => {
      session.close();
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** POSTs `body` over HTTP/2 and returns the grpc-status and grpc-message, wherever the protocol puts them. */
    function post(path: string, contentType: string, body: Buffer): Promise<{ status: string; message: string }> {
      return new Promise((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": contentType,
          authorization: `Bearer ${token}`,
          te: "trailers",
        });
        const chunks: Buffer[] = [];
        let status = "";
        let message = "";
        stream.on("response", (headers) => {
          status = String(headers["grpc-status"] ?? "");
          message = String(headers["grpc-message"] ?? "");
        });
        stream.on("trailers", (trailers: IncomingHttpHeaders) => {
          status = String(trailers["grpc-status"] ?? status);
          message = String(trailers["grpc-message"] ?? message);
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("error", reject);
        stream.on("end", () => {
          const bytes = Buffer.concat(chunks);
          // gRPC-web: the status is the last (trailer) envelope of the body.
          for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt32BE(at + 1)) {
            if ((bytes[at] ?? 0) & 0x80) {
              for (const line of bytes
                .subarray(at + 5, at + 5 + bytes.readUInt32BE(at + 1))
                .toString("latin1")
                .trim()
                .split("\r\n")) {
                const [key, value] = line.split(": ", 2);
                if (key === "grpc-status") status = value ?? "";
                if (key === "grpc-message") message = value ?? "";
              }
            }
          }
          resolve({ status, message: decodeURIComponent(message) });
        });
        stream.end(body);
      });
    }

    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]);

    it("a streamed BatchMemberships message with bad bytes (gRPC-web, decoded while the handler reads it)", async () => {
      expect(await post("/roster.v1.MembershipService/BatchMemberships", "application/grpc-web+proto", framed)).toEqual({
        status: "3",
        message: "request: not a valid roster.v1.BatchMembershipsRequest (malformed protobuf)",
      });
    });

    it("a unary call in the gRPC protocol on the web door", async () => {
      expect(await post("/roster.v1.GroupService/GetGroup", "application/grpc", framed)).toEqual({
        status: "3",
        message: malformedProtobuf,
      });
    });
  },
);
