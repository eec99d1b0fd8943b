/**
 * IssueGroupToken and the JWKS through both doors (gRPC, and Connect JSON
 * on the web door): a token signed with ROSTER_SIGNING_KEY (ES256 and RS256)
 * that `jose` verifies with nothing but the published JWKS; its claims; the
 * access rule (WRITE), validation with exact messages, and what Roster
 * does with a group token presented as a caller token (refuses it).
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";
import { newPrivateKeyPem } from "../fixtures/signing-keys.ts";
import { createProtocolClient, type Outcome, type ProtocolClient, type ProtocolName } from "../fixtures/protocol-clients.ts";
import { makeGroup, root } from "../fixtures/groups-through-app.ts";

const doors: readonly ProtocolName[] = ["gRPC", "Connect JSON"];
const keys = {
  ES256: newPrivateKeyPem("ec"),
  RS256: newPrivateKeyPem("rsa"),
} as const;

interface World {
  readonly roster: TestRoster;
  readonly clients: ReadonlyMap<ProtocolName, ProtocolClient>;
  readonly tokens: ReadonlyMap<string, string>;
  readonly group: string;
  readonly deleted: string;
}

let mongo: TestMongo;
const worlds = new Map<string, World>();

async function makeWorld(name: string, env: Record<string, string>): Promise<World> {
  const roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName(`tokens_${name}`), admins: ["user:root"], env });
  const app = roster.server.app;
  const group = await makeGroup(app, { members: { "user:admin": "ADMIN", "user:manager": "MANAGER", "user:member": "MEMBER" } });
  const deleted = await makeGroup(app, { members: { "user:admin": "ADMIN" } });
  await app.groups.delete(root, deleted, "");
  const clients = new Map(
    doors.map((door) => [door, createProtocolClient(door, { grpcAddress: roster.address, webUrl: roster.httpUrl })] as const),
  );
  const tokens = new Map<string, string>();
  for (const who of ["admin", "manager", "member", "stranger"]) tokens.set(who, await roster.token(who));
  return { roster, clients, tokens, group, deleted };
}

beforeAll(async () => {
  mongo = await startTestMongo();
  const common = { ROSTER_GROUP_TOKEN_ISSUER: "https://roster.test", ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS: "600" };
  worlds.set("ES256", await makeWorld("es", { ...common, ROSTER_SIGNING_KEY: keys.ES256 }));
  worlds.set("RS256", await makeWorld("rs", { ...common, ROSTER_SIGNING_KEY: keys.RS256, ROSTER_SIGNING_KEY_ID: "rs-2026" }));
  worlds.set("none", await makeWorld("none", {}));
}, 120_000);

afterAll(async () => {
  for (const world of worlds.values()) {
    for (const client of world.clients.values()) client.close();
    await world.roster.stop();
  }
  await mongo.stop();
});

function worldOf(name: string): World {
  const world = worlds.get(name);
  if (world === undefined) throw new Error(`no world ${name}`);
  return world;
}

function issue(world: World, door: ProtocolName, request: object, as: string): Promise<Outcome> {
  const client = world.clients.get(door);
  if (client === undefined) throw new Error(`no ${door} client`);
  return client.call(GroupService, "IssueGroupToken", request, world.tokens.get(as));
}

describe.each(doors)("IssueGroupToken over %s", (door) => {
  it.each(["ES256", "RS256"] as const)("issues a %s token that verifies with the published JWKS alone", async (alg) => {
    const world = worldOf(alg);
    const before = Math.floor(Date.now() / 1000);
    const outcome = await issue(
      world,
      door,
      { groupId: world.group, audience: "https://reports.example", ttl: { seconds: 300n } },
      "manager",
    );
    if (outcome.code !== "OK") throw new Error(JSON.stringify(outcome));
    const response = outcome.response as { token: string; expireTime: string; tokenId: string };
    const jwks = createRemoteJWKSet(new URL(`${world.roster.httpUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(response.token, jwks, {
      issuer: "https://roster.test",
      audience: "https://reports.example",
    });
    expect(protectedHeader).toMatchObject({ alg, typ: "JWT" });
    expect(payload).toMatchObject({
      sub: `group:${world.group}`,
      aud: "https://reports.example",
      iss: "https://roster.test",
      jti: response.tokenId,
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    expect(new Date(response.expireTime).getTime()).toBe((payload.exp ?? 0) * 1000);
    // Another audience, or another key, does not verify.
    await expect(jwtVerify(response.token, jwks, { audience: "https://other.example" })).rejects.toThrow(/aud/);
    const other = createRemoteJWKSet(new URL(`${worldOf(alg === "ES256" ? "RS256" : "ES256").roster.httpUrl}/.well-known/jwks.json`));
    await expect(jwtVerify(response.token, other)).rejects.toThrow();
  });

  it("names the key: the configured kid, or the key's thumbprint", async () => {
    for (const alg of ["ES256", "RS256"] as const) {
      const world = worldOf(alg);
      const jwks = (await (await fetch(`${world.roster.httpUrl}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string; alg: string; use: string; d?: string }[];
      };
      expect(jwks.keys).toHaveLength(1);
      const published = jwks.keys[0];
      expect(published).toMatchObject({ alg, use: "sig" });
      expect(published?.d).toBeUndefined();
      if (alg === "RS256") expect(published?.kid).toBe("rs-2026");
      else expect(published?.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const outcome = await issue(world, door, { groupId: world.group, audience: "svc" }, "admin");
      const token = outcome.code === "OK" ? (outcome.response as { token: string }).token : "";
      expect(decodeProtectedHeader(token).kid).toBe(published?.kid);
    }
  });

  it("defaults the lifetime and bounds it", async () => {
    const world = worldOf("ES256");
    const outcome = await issue(world, door, { groupId: world.group, audience: "svc" }, "admin");
    const { token } = (outcome.code === "OK" ? outcome.response : {}) as { token: string };
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${world.roster.httpUrl}/.well-known/jwks.json`)));
    // ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS is 900 by default, capped by the maximum of 600.
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
    expect(await issue(world, door, { groupId: world.group, audience: "svc", ttl: { seconds: 601n } }, "admin")).toEqual({
      code: 3,
      message: "ttl: must be at most 600 s (ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS), got 601 s",
    });
    expect(await issue(world, door, { groupId: world.group, audience: "svc", ttl: { seconds: -1n } }, "admin")).toEqual({
      code: 3,
      message: "ttl: must be positive (got -1 s)",
    });
  });

  it("needs WRITE on a live group, and an audience", async () => {
    const world = worldOf("ES256");
    const g = world.group;
    expect(await issue(world, door, { groupId: g, audience: "svc" }, "member")).toEqual({
      code: 7,
      message: `permission denied: WRITE on group ${g} is required`,
    });
    expect(await issue(world, door, { groupId: g, audience: "svc" }, "stranger")).toEqual({ code: 5, message: `group "${g}" not found` });
    expect(await issue(world, door, { groupId: world.deleted, audience: "svc" }, "admin")).toEqual({
      code: 9,
      message: `group "${world.deleted}" is deleted`,
    });
    expect(await issue(world, door, { groupId: g }, "admin")).toEqual({
      code: 3,
      message: "audience: is required (the service the token is for)",
    });
    expect(await issue(world, door, { groupId: "", audience: "svc" }, "admin")).toEqual({ code: 3, message: "group_id: is required" });
  });

  it("is not a caller token: Roster refuses a group token", async () => {
    const world = worldOf("ES256");
    const outcome = await issue(world, door, { groupId: world.group, audience: "svc" }, "admin");
    const { token } = (outcome.code === "OK" ? outcome.response : {}) as { token: string };
    const client = world.clients.get(door);
    const call = await client?.call(GroupService, "GetGroup", { id: world.group }, token);
    expect(call).toMatchObject({ code: 16 });
  });

  it("answers FAILED_PRECONDITION without a signing key, and publishes no key", async () => {
    const world = worldOf("none");
    expect(await issue(world, door, { groupId: world.group, audience: "svc" }, "admin")).toEqual({
      code: 9,
      message: "group tokens are not enabled: Roster has no signing key (ROSTER_SIGNING_KEY)",
    });
    const response = await fetch(`${world.roster.httpUrl}/.well-known/jwks.json`);
    expect(response.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(await response.json()).toEqual({ keys: [] });
  });
});
