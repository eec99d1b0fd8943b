/**
 * Every command the server answers, by canonical name, plus the spellings
 * drivers and shells use (`ismaster`, `buildinfo`, `findandmodify`), with what
 * mongod allows each: every readConcern level (reads) or only local, a place
 * in a multi-document transaction, a writeConcern.
 */
import type { CommandHandler } from "./command-context.ts";
import { aggregate } from "./aggregate.ts";
import {
  collMod,
  create,
  createIndexes,
  drop,
  dropDatabase,
  dropIndexes,
  listCollections,
  listDatabases,
  listIndexes,
  renameCollection,
} from "./catalog-commands.ts";
import { count, distinct, find, getMore, killCursors } from "./find-commands.ts";
import { findAndModify } from "./find-and-modify.ts";
import { buildInfo, getCmdLineOpts, getParameter, hello, ping, serverStatus, whatsMyUri } from "./hello-commands.ts";
import { abortTransaction, commitTransaction, endSessions, killSessions, refreshSessions } from "./session-commands.ts";
import { configureFailPoint } from "./test-commands.ts";
import { deleteCommand, insert, update } from "./write-commands.ts";

export interface CommandSpec {
  readonly name: string;
  readonly handler: CommandHandler;
  /** Writes that may carry a retryable-write txnNumber outside transactions. */
  readonly retryableWrite?: boolean;
  /** Reads that accept every readConcern level (other commands only "local"). */
  readonly reads?: boolean;
  /** May run inside a multi-document transaction (mongod's transaction command allowlist). */
  readonly inTransaction?: boolean;
  /** Accepts a writeConcern (and reports an unsatisfiable one as writeConcernError). */
  readonly writeConcern?: boolean;
  /** Runs only with test commands enabled; CommandNotFound otherwise, as on a production mongod. */
  readonly testOnly?: boolean;
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
  { name: "insert", handler: insert, retryableWrite: true, inTransaction: true, writeConcern: true },
  { name: "update", handler: update, retryableWrite: true, inTransaction: true, writeConcern: true },
  { name: "delete", handler: deleteCommand, retryableWrite: true, inTransaction: true, writeConcern: true },
  { name: "findAndModify", handler: findAndModify, retryableWrite: true, inTransaction: true, writeConcern: true },
  { name: "find", handler: find, reads: true, inTransaction: true },
  { name: "getMore", handler: getMore, inTransaction: true },
  { name: "killCursors", handler: killCursors, inTransaction: true },
  { name: "count", handler: count, reads: true },
  { name: "distinct", handler: distinct, reads: true, inTransaction: true },
  { name: "aggregate", handler: aggregate, reads: true, inTransaction: true, writeConcern: true },
  { name: "create", handler: create, inTransaction: true, writeConcern: true },
  { name: "collMod", handler: collMod, writeConcern: true },
  { name: "drop", handler: drop, writeConcern: true },
  { name: "renameCollection", handler: renameCollection, writeConcern: true },
  { name: "dropDatabase", handler: dropDatabase, writeConcern: true },
  { name: "listCollections", handler: listCollections },
  { name: "listDatabases", handler: listDatabases },
  { name: "createIndexes", handler: createIndexes, inTransaction: true, writeConcern: true },
  { name: "listIndexes", handler: listIndexes },
  { name: "dropIndexes", handler: dropIndexes, writeConcern: true },
  { name: "endSessions", handler: endSessions },
  { name: "killSessions", handler: killSessions },
  { name: "refreshSessions", handler: refreshSessions },
  { name: "commitTransaction", handler: commitTransaction, writeConcern: true },
  { name: "abortTransaction", handler: abortTransaction, writeConcern: true },
  { name: "configureFailPoint", handler: configureFailPoint, testOnly: true },
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
