/**
 * The gRPC door under TLS and mTLS, with the whole service (startRoster) and
 * real grpc-js clients: a throwaway CA, server and client certificates are
 * made with `openssl` per run. Checks that
 * - ROSTER_GRPC_TLS_CERT/KEY serve TLS (and refuse plaintext clients);
 * - with ROSTER_GRPC_CLIENT_CA a client without a certificate, or with one
 *   signed by another CA, is refused during the TLS handshake;
 * - ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn makes a certificate with
 *   CN=deployer call as `service:deployer` when no token is sent, while a
 *   token still wins (and a bad token is still refused);
 * - with `none` the certificate names no one: no token is UNAUTHENTICATED.
 * Without openssl the suite is skipped, saying so.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { createRosterClient, failureOf, type RosterClient } from "../fixtures/roster-grpc-client.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { createTestCa, hasOpenssl, type CertificateFiles, type TestCa } from "../fixtures/test-certificates.ts";

const opensslAvailable = hasOpenssl();
const skipReason = opensslAvailable ? "" : " (skipped: openssl not installed, cannot make test certificates)";

describe.skipIf(!opensslAvailable)(`gRPC door TLS and client certificates${skipReason}`, () => {
  let dir: string;
  let mongo: TestMongo;
  let ca: TestCa;
  let deployer: CertificateFiles;
  let rogueDeployer: CertificateFiles;
  let tlsOnly: TestRoster;
  let serviceCn: TestRoster;
  let certOnlyAuthenticates: TestRoster;
  const clients: RosterClient[] = [];

  /** A TLS client trusting the test CA, presenting `cert` when given. */
  const clientOf = (roster: TestRoster, cert?: CertificateFiles): RosterClient => {
    const channel = cert === undefined ? credentials.createSsl(ca.cert) : credentials.createSsl(ca.cert, cert.key, cert.cert);
    // A fresh connection per client: grpc-js would otherwise share one subchannel between clients of the same target.
    const client = createRosterClient(roster.address, channel, { "grpc.use_local_subchannel_pool": 1 });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roster-mtls-"));
    ca = createTestCa(dir, "trusted");
    const server = ca.issueServer("server");
    deployer = ca.issueClient("deployer", "deployer");
    rogueDeployer = createTestCa(dir, "rogue").issueClient("rogue-deployer", "deployer");
    mongo = await startTestMongo();
    const tls = { ROSTER_GRPC_TLS_CERT: server.certPath, ROSTER_GRPC_TLS_KEY: server.keyPath };
    const start = (env: Record<string, string>): Promise<TestRoster> =>
      startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("mtls"), env: { ...tls, ...env } });
    [tlsOnly, serviceCn, certOnlyAuthenticates] = await Promise.all([
      start({}),
      start({ ROSTER_GRPC_CLIENT_CA: ca.certPath, ROSTER_GRPC_CLIENT_CERT_IDENTITY: "service-cn" }),
      start({ ROSTER_GRPC_CLIENT_CA: ca.certPath, ROSTER_GRPC_CLIENT_CERT_IDENTITY: "none" }),
    ]);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all([tlsOnly.stop(), serviceCn.stop(), certOnlyAuthenticates.stop()]);
    await mongo.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves TLS: a client trusting the CA calls with a token; a plaintext client gets no answer", async () => {
    const token = await tlsOnly.token("alice");
    const created = await clientOf(tlsOnly).groups.createGroup({ group: { slug: "tls-only", displayName: "TLS" } }, { token });
    expect(created.group?.createdBy).toBe("user:alice");

    const plaintext = createRosterClient(tlsOnly.address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    clients.push(plaintext);
    const failure = await failureOf(plaintext.groups.listGroups({}, { token, deadlineMs: 3000 }));
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(failure.code);
  });

  it("with ROSTER_GRPC_CLIENT_CA, refuses a client without a certificate during the TLS handshake", async () => {
    const token = await serviceCn.token("alice");
    const failure = await failureOf(clientOf(serviceCn).groups.listGroups({}, { token }));
    // The connection itself fails (TLS alert "certificate required"), not the call.
    expect(failure).toMatchObject({ code: "UNAVAILABLE", details: expect.stringContaining("No connection established") as unknown });
    // The call never reached the service: no request log line.
    expect(serviceCn.logs().filter((line) => line["msg"] === "rpc" && line["caller"] === "user:alice")).toEqual([]);
  });

  it("refuses a client certificate signed by another CA", async () => {
    const failure = await failureOf(clientOf(serviceCn, rogueDeployer).groups.listGroups({}));
    expect(failure).toMatchObject({ code: "UNAVAILABLE", details: expect.stringContaining("No connection established") as unknown });
    expect(serviceCn.logs().filter((line) => line["caller"] === "service:deployer")).toEqual([]);
  });

  it("with service-cn, a certificate with CN=deployer calls as service:deployer without a token", async () => {
    const client = clientOf(serviceCn, deployer);
    const created = await client.groups.createGroup({ group: { slug: "deployed", displayName: "Deployed" } });
    expect(created.group?.createdBy).toBe("service:deployer");
    const read = await client.groups.getGroup({ id: created.group?.id ?? "" });
    expect(read.group?.createdBy).toBe("service:deployer");
    const lines = serviceCn.logs().filter((line) => line["msg"] === "rpc" && line["method"] === "roster.v1.GroupService/GetGroup");
    expect(lines.map((line) => [line["caller"], line["code"]])).toEqual([["service:deployer", "OK"]]);
  });

  it("with service-cn, a bearer token wins over the certificate, and a bad token is still refused", async () => {
    const client = clientOf(serviceCn, deployer);
    const token = await serviceCn.token("bob");
    const created = await client.groups.createGroup({ group: { slug: "by-token", displayName: "By token" } }, { token });
    expect(created.group?.createdBy).toBe("user:bob");

    const forged = await serviceCn.token("bob", { secret: "another-secret-of-at-least-32-bytes!!" });
    const failure = await failureOf(client.groups.listGroups({}, { token: forged }));
    expect(failure.code).toBe("UNAUTHENTICATED");
  });

  it("with none, the certificate only authenticates the connection: no token is UNAUTHENTICATED", async () => {
    const client = clientOf(certOnlyAuthenticates, deployer);
    const failure = await failureOf(client.groups.createGroup({ group: { slug: "nobody", displayName: "Nobody" } }));
    expect(failure).toMatchObject({ code: "UNAUTHENTICATED", details: "missing authorization header" });

    const token = await certOnlyAuthenticates.token("carol");
    const created = await client.groups.createGroup({ group: { slug: "carol", displayName: "Carol" } }, { token });
    expect(created.group?.createdBy).toBe("user:carol");
  });
});
