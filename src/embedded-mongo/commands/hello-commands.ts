/**
 * Handshake and diagnostics: hello / isMaster (a one-member replica-set
 * primary named rs0, so sessions, transactions and retryable writes are
 * enabled), ping, buildInfo. No topologyVersion (the driver then polls) and no
 * compression (the driver then never compresses).
 */
import { Int32, Long, type Document } from "bson";
import { isPlainObject } from "../document-paths.ts";
import { maxBsonObjectSize } from "../engine/types.ts";
import { maxMessageSizeBytes } from "../wire/message-framer.ts";
import type { CommandHandler } from "./command-context.ts";

export const replicaSetName = "rs0";
/** Statements per insert, update or delete command (mongod's write_ops::kMaxWriteBatchSize). */
export const maxWriteBatchSize = 100_000;
export const maxWireVersion = 21;
export const serverVersion = "7.0.0";

/** `client.application.name` of a handshake (what failCommand's `appName` matches). */
function applicationName(body: Document): string | undefined {
  const client: unknown = body["client"];
  if (!isPlainObject(client)) return undefined;
  const application: unknown = client["application"];
  const name: unknown = isPlainObject(application) ? application["name"] : undefined;
  return typeof name === "string" ? name : undefined;
}

export const hello: CommandHandler = (ctx) => {
  const appName = applicationName(ctx.body);
  if (appName !== undefined) ctx.connection.appName = appName;
  const address = ctx.server.address();
  const reply: Document = {};
  if (ctx.legacy || ctx.name === "isMaster") reply["ismaster"] = true;
  else reply["isWritablePrimary"] = true;
  Object.assign(reply, {
    helloOk: true,
    setName: replicaSetName,
    setVersion: 1,
    electionId: ctx.server.electionId,
    secondary: false,
    hosts: [address],
    primary: address,
    me: address,
    maxBsonObjectSize,
    maxMessageSizeBytes,
    maxWriteBatchSize,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: new Int32(ctx.connectionId),
    minWireVersion: 0,
    maxWireVersion,
    readOnly: false,
    ok: 1,
  });
  return reply;
};

export const ping: CommandHandler = () => ({ ok: 1 });

export const buildInfo: CommandHandler = () => ({
  version: serverVersion,
  gitVersion: "embedded",
  versionArray: [7, 0, 0, 0].map((n) => new Int32(n)),
  bits: 64,
  maxBsonObjectSize,
  storageEngines: ["embedded"],
  ok: 1,
});

/** The driver may ask for these at startup in some configurations; answer plausibly. */
export const getCmdLineOpts: CommandHandler = () => ({ argv: ["embedded-mongo"], parsed: {}, ok: 1 });

export const getParameter: CommandHandler = (ctx) => {
  const reply: Document = {};
  if (ctx.body["featureCompatibilityVersion"] !== undefined || ctx.body["getParameter"] === "*") {
    reply["featureCompatibilityVersion"] = { version: "7.0" };
  }
  return { ...reply, ok: 1 };
};

export const whatsMyUri: CommandHandler = () => ({ you: "127.0.0.1", ok: 1 });

export const serverStatus: CommandHandler = (ctx) => ({
  host: ctx.server.address(),
  version: serverVersion,
  process: "embedded-mongo",
  uptime: Math.floor(process.uptime()),
  localTime: new Date(),
  connections: { current: new Int32(0) },
  cursors: { open: Long.fromNumber(ctx.server.cursors.size) },
  ok: 1,
});
