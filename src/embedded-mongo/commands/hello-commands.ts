/**
 * Handshake and diagnostics: hello / isMaster (a one-member replica-set
 * primary named rs0, so sessions, transactions and retryable writes are
 * enabled), ping, buildInfo. No compression (the driver then never
 * compresses).
 *
 * hello carries a topologyVersion, as mongod's does, so the driver monitors
 * the server with an awaitable hello streamed over its monitoring
 * connection (exhaust, see connection-handler.ts) rather than polling. That
 * matters beyond speed: when polling, the driver answers a failed operation
 * by writing a new hello on its idle monitoring connection at once, and if
 * the server has just closed that connection too (a restart closes them all
 * together), the driver (mongodb 7.9) waits for that write forever: its
 * monitor never checks again and the client never finds the restarted
 * server. A streamed hello is always being read, so a close fails it and the
 * monitor reconnects (test/conformance/restart.test.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Int32, Long, ObjectId, type Document } from "bson";
import { toNumber } from "../bson-numbers.ts";
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

/**
 * An awaitable hello (maxAwaitTimeMS with the topologyVersion the client last
 * saw): when the client's version is this process's current one, nothing can
 * change, so it waits maxAwaitTimeMS (or until the connection closes) before
 * answering; a version from another process is answered at once.
 */
async function awaitTopologyChange(ctx: Parameters<CommandHandler>[0]): Promise<void> {
  const seen: unknown = ctx.body["topologyVersion"];
  const maxAwaitTimeMS = toNumber(ctx.body["maxAwaitTimeMS"]);
  if (!isPlainObject(seen) || maxAwaitTimeMS === undefined || !(maxAwaitTimeMS > 0)) return;
  const current = ctx.server.topologyVersion;
  const processId: unknown = seen["processId"];
  if (!(processId instanceof ObjectId) || !processId.equals(current.processId)) return;
  try {
    await sleep(maxAwaitTimeMS, undefined, { signal: ctx.connection.closed });
  } catch {
    // The connection closed: no one is waiting for the answer.
  }
}

/** Whether `body` is an awaitable hello, which a client may let the server stream (exhaust). */
export function isAwaitableHello(body: Document): boolean {
  const name = Object.keys(body)[0] ?? "";
  const maxAwaitTimeMS = toNumber(body["maxAwaitTimeMS"]);
  return (
    (name === "hello" || name === "isMaster" || name === "ismaster") &&
    isPlainObject(body["topologyVersion"]) &&
    maxAwaitTimeMS !== undefined &&
    maxAwaitTimeMS > 0
  );
}

export const hello: CommandHandler = async (ctx) => {
  await awaitTopologyChange(ctx);
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
    topologyVersion: { processId: ctx.server.topologyVersion.processId, counter: ctx.server.topologyVersion.counter },
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
