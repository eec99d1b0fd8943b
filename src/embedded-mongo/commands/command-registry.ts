/**
 * Every command the server answers, by canonical name, plus the spellings
 * drivers and shells use (`ismaster`, `buildinfo`, `findandmodify`).
 */
import type { CommandHandler } from "./command-context.ts";
import { aggregate } from "./aggregate.ts";
import { collMod, create, createIndexes, drop, dropDatabase, dropIndexes, listCollections, listDatabases, listIndexes } from "./catalog-commands.ts";
import { count, distinct, find, getMore, killCursors } from "./find-commands.ts";
import { findAndModify } from "./find-and-modify.ts";
import { buildInfo, getCmdLineOpts, getParameter, hello, ping, serverStatus, whatsMyUri } from "./hello-commands.ts";
import { abortTransaction, commitTransaction, endSessions, killSessions, refreshSessions } from "./session-commands.ts";
import { deleteCommand, insert, update } from "./write-commands.ts";

export interface CommandSpec {
  readonly name: string;
  readonly handler: CommandHandler;
  /** Writes that may carry a retryable-write txnNumber outside transactions. */
  readonly retryableWrite?: boolean;
}

const specs: readonly CommandSpec[] = [
  { name: "hello", handler: hello },
  { name: "isMaster", handler: hello },
  { name: "ping", handler: ping },
  { name: "buildInfo", handler: buildInfo },
  { name: "getCmdLineOpts", handler: getCmdLineOpts },
  { name: "getParameter", handler: getParameter },
  { name: "whatsmyuri", handler: whatsMyUri },
  { name: "serverStatus", handler: serverStatus },
  { name: "insert", handler: insert, retryableWrite: true },
  { name: "update", handler: update, retryableWrite: true },
  { name: "delete", handler: deleteCommand, retryableWrite: true },
  { name: "findAndModify", handler: findAndModify, retryableWrite: true },
  { name: "find", handler: find },
  { name: "getMore", handler: getMore },
  { name: "killCursors", handler: killCursors },
  { name: "count", handler: count },
  { name: "distinct", handler: distinct },
  { name: "aggregate", handler: aggregate },
  { name: "create", handler: create },
  { name: "collMod", handler: collMod },
  { name: "drop", handler: drop },
  { name: "dropDatabase", handler: dropDatabase },
  { name: "listCollections", handler: listCollections },
  { name: "listDatabases", handler: listDatabases },
  { name: "createIndexes", handler: createIndexes },
  { name: "listIndexes", handler: listIndexes },
  { name: "dropIndexes", handler: dropIndexes },
  { name: "endSessions", handler: endSessions },
  { name: "killSessions", handler: killSessions },
  { name: "refreshSessions", handler: refreshSessions },
  { name: "commitTransaction", handler: commitTransaction },
  { name: "abortTransaction", handler: abortTransaction },
];

/** Lower-case spellings mongod accepts besides the canonical ones. */
const aliases: Readonly<Record<string, string>> = {
  ismaster: "isMaster",
  buildinfo: "buildInfo",
  findandmodify: "findAndModify",
  deleteIndexes: "dropIndexes",
};

const byName = new Map(specs.map((spec) => [spec.name, spec]));

export function lookupCommand(name: string): CommandSpec | undefined {
  return byName.get(name) ?? byName.get(aliases[name] ?? "");
}
