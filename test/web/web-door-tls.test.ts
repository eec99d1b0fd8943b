/**
 * The web door under TLS: with ROSTER_HTTP_TLS_CERT/KEY it serves HTTP/2
 * (and still HTTP/1.1) over TLS, so Connect and gRPC-web work over HTTP/2.
 * The certificate is a throwaway self-signed one made with `openssl`; without
 * openssl the suite is skipped, saying so.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupSchema } from "../../gen/roster/v1/group_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { createMetrics } from "../../src/ops/metrics.ts";
import { callInfoKey } from "../../src/rpc/context.ts";
import { startWebDoor, type WebDoor } from "../../src/transport/connect/web-door.ts";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const opensslAvailable = hasOpenssl();
const skipReason = opensslAvailable ? "" : " (skipped: openssl not installed, cannot make a test certificate)";

/** Echoes the protocol the door saw, so the test knows which one actually served the call. */
const echoProtocol: Interceptor = (next) => async (req) => {
  const res = await next(req);
  res.header.set("x-test-protocol", req.contextValues.get(callInfoKey)?.protocol ?? "");
  return res;
};

describe.skipIf(!opensslAvailable)(`web door over TLS${skipReason}`, () => {
  let dir: string;
  let door: WebDoor;
  let ca: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roster-tls-"));
    const certPath = join(dir, "cert.pem");
    const keyPath = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ],
      { stdio: "ignore" },
    );
    ca = readFileSync(certPath);
    const group = create(GroupSchema, { id: "g1", slug: "tls" });
    door = await startWebDoor({
      services: [{ service: GroupService, impl: { getGroup: () => ({ group }) } }],
      pipeline: { interceptors: [echoProtocol] },
      config: { hosts: ["127.0.0.1"], httpPort: 0, corsOrigins: [], maxMessageBytes: 4 * 1024 * 1024, httpTls: { certPath, keyPath } },
      health: { isReady: () => true },
      metrics: createMetrics({ processMetrics: false }),
      logger: pino({ level: "silent" }),
    });
  });

  afterAll(async () => {
    await door.close(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves an https URL", () => {
    expect(door.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each([
    ["connect", createConnectTransport],
    ["grpc-web", createGrpcWebTransport],
  ] as const)("%s over HTTP/2", async (protocol, createTransport) => {
    const sessions = new Http2SessionManager(door.url, {}, { ca });
    try {
      const client = createClient(GroupService, createTransport({ baseUrl: door.url, httpVersion: "2", sessionManager: sessions }));
      let seen = "";
      const response = await client.getGroup({ id: "g1" }, { onHeader: (h) => (seen = h.get("x-test-protocol") ?? "") });
      expect(response.group?.slug).toBe("tls");
      expect(seen).toBe(protocol);
    } finally {
      sessions.abort();
    }
  });

  it("still answers HTTP/1.1 clients over TLS", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${door.url}/healthz`, { ca }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          resolve(`${res.statusCode ?? 0} HTTP/${res.httpVersion} ${text}`);
        });
      });
      req.on("error", reject);
      req.end();
    });
    expect(body).toBe("200 HTTP/1.1 ok\n");
  });
});
