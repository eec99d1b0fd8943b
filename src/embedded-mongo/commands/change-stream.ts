/**
 * Change streams: `aggregate` with a leading `$changeStream` opens a cursor on
 * the engine's change log (one collection, a database, or the whole cluster);
 * `getMore` waits (up to maxTimeMS, default 1 s) for new durable events, turns
 * them into MongoDB event documents, applies the user's further stages and
 * answers with `nextBatch` and a `postBatchResumeToken` that keeps advancing
 * (to the cluster time's high-water mark) while nothing happens. DDL events
 * (create, createIndexes, dropIndexes, modify) appear with `showExpandedEvents`.
 * Collection streams end with `invalidate` after the collection is dropped.
 */
import { Int32, Long, Timestamp, type Document } from "bson";
import type { Aggregator } from "mingo/aggregator";
import { compareTimestamps } from "../engine/cluster-clock.ts";
import { maxBsonObjectSize, type ChangeEvent } from "../engine/types.ts";
import { compileFilter, demoteDocument, promoteDocument, topLevelFieldsRead, type DocPredicate } from "../bson-values.ts";
import { toNumber } from "../bson-numbers.ts";
import { documentSize } from "../engine/bson-size.ts";
import { compileProjection } from "../query/project-document.ts";
import { batchEntrySize, maxBatchBytes, type CursorEntry } from "../cursor-registry.ts";
import { isPlainObject } from "../document-paths.ts";
import { decodeResumeToken, encodeResumeToken, type ResumePosition } from "../change-stream-tokens.ts";
import { commandError } from "../errors.ts";
import { describeValue } from "../describe-value.ts";
import { commandArgs, splitNamespace } from "./command-args.ts";
import type { CommandContext } from "./command-context.ts";
import { mingoErrorToCommandError } from "../query/mingo-errors.ts";
import { stageName } from "../query/pipeline-stage.ts";
import { createAggregator } from "../query/mingo-options.ts";
import { defaultFirstBatchSize } from "../cursor-registry.ts";
import { indexDocument } from "./catalog-commands.ts";

type FullDocumentMode = "default" | "updateLookup" | "whenAvailable" | "required";
type BeforeChangeMode = "off" | "whenAvailable" | "required";

interface StreamState {
  readonly db: string;
  /** Undefined for database and cluster streams. */
  readonly collection: string | undefined;
  readonly allDatabases: boolean;
  readonly fullDocument: FullDocumentMode;
  readonly fullDocumentBeforeChange: BeforeChangeMode;
  /** `showExpandedEvents`: DDL events, `collectionUUID`, `disambiguatedPaths`. */
  readonly expanded: boolean;
  /** `startAtOperationTime`: changes before it are skipped. */
  readonly startAt: Timestamp | undefined;
  /** Further user stages, or undefined when there are none. */
  readonly stages: Aggregator | undefined;
  /** The further stages when each can run without mingo (see `FastStage`); undefined otherwise. */
  readonly fast: readonly FastStage[] | undefined;
  /** How much of an event is built, and when (see `eventPlanOf`); undefined: all of it, then every stage. */
  readonly plan: EventPlan | undefined;
  /** Last change-log position examined, and its cluster time. */
  afterSeq: bigint;
  afterTime: Timestamp;
  /** The invalidate event was delivered; the cursor closes. */
  invalidated: boolean;
}

const allowedFollowingStages = new Set(["$match", "$project", "$addFields", "$set", "$unset", "$replaceRoot", "$replaceWith", "$redact"]);
const defaultAwaitMs = 1000;
/** Events examined per scan step. */
const scanChunk = 1000;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], option: string, fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw commandError(
    "BadValue",
    `'${describeValue(value)}' is not a valid value for $changeStream.${option}; expected one of ${allowed.join(", ")}`,
  );
}

function historyLost(): Error {
  return commandError(
    "ChangeStreamHistoryLost",
    "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
  );
}

function tokenNotFound(token: unknown): Error {
  return commandError("ChangeStreamFatalError", `cannot resume stream; the resume token was not found. ${describeValue(token)}`);
}

const zeroTime = new Timestamp({ t: 0, i: 0 });

/**
 * Checks a resume token against the change log: it must lie within the
 * window (else ChangeStreamHistoryLost) and be this store's (else the token
 * is not found, as when it comes from another deployment or a store that lost
 * its data: resuming there would silently skip changes).
 */
function checkToken(ctx: CommandContext, position: ResumePosition, token: unknown): void {
  const changes = ctx.server.engine.changes;
  if (position.storeId !== undefined && position.storeId !== ctx.server.engine.storeId) throw tokenNotFound(token);
  if (position.seq > changes.latestSeq()) throw tokenNotFound(token);
  if (position.seq < changes.oldestSeq() - 1n) throw historyLost();
  if (position.time === undefined) return;
  const [at, next] = changes.since(position.seq - 1n, 2);
  const atPosition = at?.seq === position.seq ? at : undefined;
  const following = at?.seq === position.seq ? next : at;
  if (position.kind !== "highWaterMark") {
    if (atPosition !== undefined && compareTimestamps(atPosition.clusterTime, position.time) !== 0) throw tokenNotFound(token);
    return;
  }
  if (atPosition !== undefined && compareTimestamps(atPosition.clusterTime, position.time) > 0) throw tokenNotFound(token);
  if (following !== undefined && compareTimestamps(following.clusterTime, position.time) <= 0) throw tokenNotFound(token);
}

/** The change-log position (and its time) a new stream starts after, and the time before which it skips changes. */
function startPosition(ctx: CommandContext, spec: Document): { seq: bigint; time: Timestamp; startAt: Timestamp | undefined } {
  const engine = ctx.server.engine;
  const changes = engine.changes;
  const given = ["resumeAfter", "startAfter", "startAtOperationTime"].filter((k) => spec[k] !== undefined && spec[k] !== null);
  if (given.length > 1)
    throw commandError("BadValue", `Only one of resumeAfter, startAfter and startAtOperationTime may be given (got ${given.join(", ")})`);
  const option = given[0];
  if (option === undefined) return { seq: changes.latestSeq(), time: engine.clusterTime(), startAt: undefined };
  if (option === "startAtOperationTime") {
    const at: unknown = spec["startAtOperationTime"];
    if (!(at instanceof Timestamp)) throw commandError("TypeMismatch", "$changeStream.startAtOperationTime must be a Timestamp");
    const lost = changes.lostUpTo();
    if (compareTimestamps(lost, zeroTime) > 0 && compareTimestamps(at, lost) <= 0) throw historyLost();
    // Start before the window; the scan skips the changes before `at` (including ones still on their way to the journal).
    return { seq: changes.oldestSeq() - 1n, time: lost, startAt: at };
  }
  const token: unknown = spec[option];
  const position = decodeResumeToken(token, option);
  if (position.kind === "invalidate" && option === "resumeAfter") {
    throw commandError(
      "BadValue",
      "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
    );
  }
  checkToken(ctx, position, token);
  return { seq: position.seq, time: position.time ?? zeroTime, startAt: undefined };
}

/**
 * A further stage run without mingo: a `$match`, its filter compiled at its
 * first use and kept for the cursor's life, or a `$project` of field paths,
 * compiled once. Run through mingo instead, a stage converts every event to
 * mingo's view and back, and a `$match` recompiled its filter per event: 70%
 * of a store's CPU time while a Roster read model followed a batch of adds.
 */
type FastStage =
  | { readonly kind: "match"; readonly filter: unknown; predicate: DocPredicate | undefined }
  | {
      readonly kind: "project";
      readonly project: (doc: Document) => Document;
      /** For an inclusion of top-level fields only: those fields and `_id` (the projection keeps exactly them). */
      readonly keeps: ReadonlySet<string> | undefined;
    };

/** What of an event is built before which of the fast stages. */
interface EventPlan {
  /** The leading `$match` stages (how many) and the top-level fields they read: an event is filtered on those first. */
  readonly filter: { readonly count: number; readonly fields: ReadonlySet<string> } | undefined;
  /** The fields the event that passes is built with (an inclusion `$project` right after the filter, which is then done). */
  readonly fields: ReadonlySet<string> | undefined;
  /** The first stage left to run on the event built. */
  readonly rest: number;
}

/**
 * A `$project` that only includes or only excludes field paths (`1`/`true`,
 * `0`/`false`) and keeps `_id` whole: what it does to a document is what the
 * same find projection does. Undefined for anything else (expressions, a
 * mix, dropping the resume token), which mingo runs and refuses as MongoDB.
 */
function pathProjection(spec: unknown): Extract<FastStage, { kind: "project" }> | undefined {
  if (!isPlainObject(spec) || Object.keys(spec).length === 0) return undefined;
  const keeps = new Set<string>(["_id"]);
  let topLevelInclusion = true;
  for (const [path, value] of Object.entries(spec)) {
    if (path.startsWith("$") || path.includes(".$") || path.startsWith("_id.")) return undefined;
    const flag = typeof value === "boolean" ? Number(value) : toNumber(value);
    if (flag === undefined || (path === "_id" && flag === 0)) return undefined;
    if (flag === 0 || path.includes(".")) topLevelInclusion = false;
    keeps.add(path);
  }
  try {
    const project = compileProjection(spec);
    return project === undefined ? undefined : { kind: "project", project, keeps: topLevelInclusion ? keeps : undefined };
  } catch {
    return undefined;
  }
}

function fastStageOf(stage: Document): FastStage | undefined {
  if ("$match" in stage) return { kind: "match", filter: stage["$match"], predicate: undefined };
  return "$project" in stage ? pathProjection(stage["$project"]) : undefined;
}

/** The further stages: all of them as mingo runs them, and the same without mingo when each can be. */
function compileFollowingStages(stages: readonly Document[]): { stages: Aggregator | undefined; fast: FastStage[] | undefined } {
  stages.forEach((stage, index) => {
    const name = stageName(stage, index + 1);
    if (!allowedFollowingStages.has(name)) throw commandError("BadValue", `${name} is not permitted in a $changeStream pipeline`);
  });
  if (stages.length === 0) return { stages: undefined, fast: undefined };
  const fast: FastStage[] = [];
  for (const stage of stages) {
    const compiled = fastStageOf(stage);
    if (compiled === undefined) break;
    fast.push(compiled);
  }
  try {
    return { stages: createAggregator(stages.map(promoteDocument)), fast: fast.length === stages.length ? fast : undefined };
  } catch (err) {
    throw mingoErrorToCommandError(err);
  }
}

/**
 * How to build an event for fast stages that begin with `$match` stages on
 * known fields or with an inclusion `$project` of top-level fields: filtered
 * on only the fields those `$match` stages read before the rest is built (a
 * stream on Roster's database that keeps `groups` and `memberships` skips
 * every other collection's event, such as the history written with each
 * change, at the cost of its `ns` and `operationType`), and built with only
 * the fields the `$project` keeps (a read model's stream builds no `lsid`).
 * None when building an event may fail (a required pre- or post-image),
 * which must fail whether or not the event matches and whatever is kept.
 */
function eventPlanOf(fast: readonly FastStage[] | undefined, spec: Document): EventPlan | undefined {
  if (fast === undefined || spec["fullDocument"] === "required" || spec["fullDocumentBeforeChange"] === "required") return undefined;
  const read = new Set<string>();
  let count = 0;
  for (const stage of fast) {
    const fields = stage.kind === "match" && isPlainObject(stage.filter) ? topLevelFieldsRead(stage.filter) : undefined;
    if (fields === undefined) break;
    for (const field of fields) read.add(field);
    count += 1;
  }
  const next = fast[count];
  const keeps = next?.kind === "project" ? next.keeps : undefined;
  if (count === 0 && keeps === undefined) return undefined;
  return { filter: count === 0 ? undefined : { count, fields: read }, fields: keeps, rest: keeps === undefined ? count : count + 1 };
}

/**
 * Whether an event passes a `$match`, as the aggregation `$match` decides it
 * (the engine's matcher, no `let`, no collation) and failing as it fails: at
 * the first event, not when the stream opens.
 */
function passesMatch(stage: Extract<FastStage, { kind: "match" }>, doc: Document): boolean {
  if (stage.predicate === undefined) {
    if (!isPlainObject(stage.filter)) throw commandError("BadValue", "the match filter must be an expression in an object");
    stage.predicate = compileFilter(stage.filter);
  }
  return stage.predicate(doc);
}

/** DDL events only `showExpandedEvents` streams see. */
const expandedOnly = new Set<ChangeEvent["operationType"]>(["create", "createIndexes", "dropIndexes", "modify"]);

function relevant(state: StreamState, event: ChangeEvent): boolean {
  if (!state.expanded && expandedOnly.has(event.operationType)) return false;
  if (state.startAt !== undefined && compareTimestamps(event.clusterTime, state.startAt) < 0) return false;
  if (state.allDatabases) return true;
  const { db, collection } = splitNamespace(event.ns);
  if (db !== state.db) return false;
  if (state.collection === undefined) return true;
  return collection === state.collection || event.operationType === "dropDatabase";
}

function invalidates(state: StreamState, event: ChangeEvent): boolean {
  if (state.allDatabases) return false;
  const type = event.operationType;
  if (state.collection !== undefined) return type === "drop" || type === "rename" || type === "dropDatabase";
  return type === "dropDatabase";
}

function lookupCurrent(ctx: CommandContext, ns: string, id: unknown): Document | null {
  const tx = ctx.server.engine.begin();
  try {
    return tx.find(ns, { _id: id })[0] ?? null;
  } finally {
    tx.abort();
  }
}

/** A short description of an event for "image not found" errors. */
function eventSummary(event: ChangeEvent): string {
  return describeValue({
    operationType: event.operationType,
    ns: event.ns,
    documentKey: event.documentKey,
    clusterTime: event.clusterTime,
  });
}

function namespaceDocument(ns: string): Document {
  const { db, collection } = splitNamespace(ns);
  return { db, coll: collection };
}

/** `disambiguatedPaths` as sent: array indices as int32. */
function disambiguated(paths: Document): Document {
  const out: Document = {};
  for (const [path, parts] of Object.entries(paths) as [string, (string | number)[]][]) {
    out[path] = parts.map((p) => (typeof p === "number" ? new Int32(p) : p));
  }
  return out;
}

/** `operationDescription` of a DDL event, as MongoDB 7 reports it. */
function operationDescription(event: ChangeEvent): Document {
  const described = event.operationDescription;
  switch (event.operationType) {
    case "create":
      return { idIndex: { v: new Int32(2), key: { _id: new Int32(1) }, name: "_id_" }, ...(described?.options ?? {}) };
    case "createIndexes":
    case "dropIndexes":
      return { indexes: (described?.indexes ?? []).map(indexDocument) };
    case "rename": {
      const out: Document = { to: namespaceDocument(described?.to ?? "") };
      if (described?.droppedTarget !== undefined) out["dropTarget"] = described.droppedTarget;
      return out;
    }
    default:
      return { ...(described?.options ?? {}) };
  }
}

/** Whether an event built for `only` (all fields when undefined) holds `field`. A function, not a closure made per event, which cost a tenth of the stream's time. */
function wants(only: ReadonlySet<string> | undefined, field: string): boolean {
  return only === undefined || only.has(field);
}

/**
 * The event document MongoDB would send for `event`, or only its top-level
 * fields in `only` (what a leading `$match` reads).
 */
function eventDocument(ctx: CommandContext, state: StreamState, event: ChangeEvent, only?: ReadonlySet<string>): Document {
  const doc: Document = {};
  if (wants(only, "_id"))
    doc["_id"] = encodeResumeToken({ seq: event.seq, time: event.clusterTime, kind: "event" }, ctx.server.engine.storeId);
  if (wants(only, "operationType")) doc["operationType"] = event.operationType;
  if (wants(only, "clusterTime")) doc["clusterTime"] = event.clusterTime;
  if (wants(only, "wallTime")) doc["wallTime"] = event.wallTime;
  if (state.expanded && event.collectionUUID !== undefined && wants(only, "collectionUUID")) doc["collectionUUID"] = event.collectionUUID;
  const type = event.operationType;
  if (!wants(only, "fullDocument")) {
    // Left out: the document is filtered on other fields first.
  } else if (type === "insert" || type === "replace") {
    doc["fullDocument"] = event.fullDocument ?? null;
  } else if (type === "update") {
    if (state.fullDocument === "updateLookup") {
      doc["fullDocument"] = event.documentKey === undefined ? null : lookupCurrent(ctx, event.ns, event.documentKey._id);
    } else if (state.fullDocument === "whenAvailable" || state.fullDocument === "required") {
      // The post-image exists only where the collection has changeStreamPreAndPostImages enabled.
      if (event.fullDocument === undefined && state.fullDocument === "required") {
        throw commandError(
          "NoMatchingDocument",
          `Change stream was configured to require a post-image for all update events, but the post-image was not found for event: ${eventSummary(event)}`,
        );
      }
      doc["fullDocument"] = event.fullDocument ?? null;
    }
  }
  if (wants(only, "ns")) {
    const { db, collection } = splitNamespace(event.ns);
    doc["ns"] = type === "dropDatabase" || collection === "" ? { db } : { db, coll: collection };
  }
  if (event.documentKey !== undefined && wants(only, "documentKey")) doc["documentKey"] = { _id: event.documentKey._id };
  if (type === "update" && wants(only, "updateDescription")) {
    const description = event.updateDescription;
    const updatedFields = description?.updatedFields ?? {};
    const removedFields = [...(description?.removedFields ?? [])];
    const update: Document = { updatedFields, removedFields, truncatedArrays: [...(description?.truncatedArrays ?? [])] };
    if (state.expanded) update["disambiguatedPaths"] = disambiguated(description?.disambiguatedPaths ?? {});
    doc["updateDescription"] = update;
  }
  if (
    state.fullDocumentBeforeChange !== "off" &&
    (type === "update" || type === "replace" || type === "delete") &&
    wants(only, "fullDocumentBeforeChange")
  ) {
    if (event.fullDocumentBeforeChange === undefined && state.fullDocumentBeforeChange === "required") {
      throw commandError(
        "NoMatchingDocument",
        `Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for event: ${eventSummary(event)}`,
      );
    }
    doc["fullDocumentBeforeChange"] = event.fullDocumentBeforeChange ?? null;
  }
  if (type === "rename" && wants(only, "to")) doc["to"] = namespaceDocument(event.operationDescription?.to ?? "");
  if ((expandedOnly.has(type) || (state.expanded && type === "rename")) && wants(only, "operationDescription")) {
    doc["operationDescription"] = operationDescription(event);
  }
  if (event.txn !== undefined && (wants(only, "lsid") || wants(only, "txnNumber"))) {
    doc["lsid"] = event.txn.lsid;
    doc["txnNumber"] = Long.fromBigInt(event.txn.txnNumber);
  }
  return doc;
}

/** Runs the fast stages `from` up to `to` on `doc`; undefined when a `$match` filters it out. */
function runFastStages(fast: readonly FastStage[], doc: Document, from: number, to: number): Document | undefined {
  let out = doc;
  try {
    for (let i = from; i < to; i++) {
      const stage = fast[i] as FastStage;
      if (stage.kind === "project") out = stage.project(out);
      else if (!passesMatch(stage, out)) return undefined;
    }
  } catch (err) {
    throw mingoErrorToCommandError(err);
  }
  return out;
}

/**
 * Builds the event document of `event` and applies the user's further
 * stages, as `state.plan` says; undefined when the event is filtered out.
 */
function eventOut(ctx: CommandContext, state: StreamState, event: ChangeEvent): Document | undefined {
  const { fast, plan } = state;
  if (fast === undefined) return transform(state, eventDocument(ctx, state, event));
  if (plan === undefined) return runFastStages(fast, eventDocument(ctx, state, event), 0, fast.length);
  const { filter } = plan;
  if (filter !== undefined && runFastStages(fast, eventDocument(ctx, state, event, filter.fields), 0, filter.count) === undefined) {
    return undefined;
  }
  return runFastStages(fast, eventDocument(ctx, state, event, plan.fields), plan.rest, fast.length);
}

/** Applies the user's further stages through mingo; undefined when the event is filtered out. */
function transform(state: StreamState, doc: Document): Document | undefined {
  if (state.stages === undefined) return doc;
  let out: Document | undefined;
  try {
    const [result] = state.stages.run([promoteDocument(doc)]);
    out = result === undefined ? undefined : demoteDocument(result);
  } catch (err) {
    throw mingoErrorToCommandError(err);
  }
  if (out === undefined) return undefined;
  const token: unknown = doc["_id"];
  const kept: unknown = out["_id"];
  if (!isPlainObject(kept) || !isPlainObject(token) || kept["_data"] !== token["_data"]) {
    throw commandError(
      "ChangeStreamFatalError",
      "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.",
    );
  }
  return out;
}

/** Refuses an event document the reply could not carry, as mongod does. */
function checkEventSize(size: number): void {
  if (size > maxBsonObjectSize) {
    throw commandError(
      "BSONObjectTooLarge",
      `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${maxBsonObjectSize}(16MB)`,
    );
  }
}

/** Examines events after `state.afterSeq` without waiting; returns up to `maxEvents` of them. */
function scan(ctx: CommandContext, state: StreamState, maxEvents: number): Document[] {
  const out: Document[] = [];
  let bytes = 0;
  const changes = ctx.server.engine.changes;
  if (state.afterSeq < changes.oldestSeq() - 1n) throw historyLost();
  while (out.length < maxEvents && !state.invalidated) {
    const events = changes.since(state.afterSeq, scanChunk);
    if (events.length === 0) break;
    for (const event of events) {
      if (!relevant(state, event)) {
        state.afterSeq = event.seq;
        state.afterTime = event.clusterTime;
        continue;
      }
      const doc = eventOut(ctx, state, event);
      if (doc !== undefined) {
        const docSize = documentSize(doc);
        checkEventSize(docSize);
        const size = batchEntrySize(out.length, docSize);
        if (out.length > 0 && bytes + size > maxBatchBytes) return out;
        out.push(doc);
        bytes += size;
      }
      state.afterSeq = event.seq;
      state.afterTime = event.clusterTime;
      if (invalidates(state, event)) {
        out.push({
          _id: encodeResumeToken({ seq: event.seq, time: event.clusterTime, kind: "invalidate" }, ctx.server.engine.storeId),
          operationType: "invalidate",
          clusterTime: event.clusterTime,
          wallTime: event.wallTime,
        });
        state.invalidated = true;
        break;
      }
      if (out.length >= maxEvents) break;
    }
  }
  return out;
}

/**
 * The batch's resume token: the last event examined while more are waiting;
 * once the stream has seen everything durable, the high-water mark, so an idle
 * consumer's token still advances with the cluster time.
 */
function postBatchResumeToken(ctx: CommandContext, state: StreamState): Document {
  const engine = ctx.server.engine;
  if (state.invalidated || state.afterSeq < engine.changes.durableSeq()) {
    return encodeResumeToken({ seq: state.afterSeq, time: state.afterTime, kind: "event" }, engine.storeId);
  }
  const mark = engine.durableHighWaterMark();
  const time = compareTimestamps(mark, state.afterTime) > 0 ? mark : state.afterTime;
  return encodeResumeToken({ seq: state.afterSeq, time, kind: "highWaterMark" }, engine.storeId);
}

function streamState(entry: CursorEntry): StreamState {
  if (entry.cursor.kind !== "changeStream") throw new Error("not a change-stream cursor");
  return entry.cursor.state as StreamState;
}

/** Opens a change stream (`aggregate` whose first stage is `$changeStream`). */
export function openChangeStream(
  ctx: CommandContext,
  collection: string | undefined,
  spec: unknown,
  following: readonly Document[],
  batchSize: number | undefined,
): Document {
  if (!isPlainObject(spec)) throw commandError("TypeMismatch", "$changeStream stage must be an object");
  const args = commandArgs(spec, "$changeStream");
  const allDatabases = args.boolean("allChangesForCluster") ?? false;
  if (allDatabases && (ctx.db !== "admin" || collection !== undefined)) {
    throw commandError(
      "BadValue",
      "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with aggregate: 1",
    );
  }
  if (!allDatabases && ctx.db === "admin" && collection === undefined) {
    throw commandError("InvalidNamespace", "$changeStream may not be opened on the internal admin database");
  }
  const { stages, fast } = compileFollowingStages(following);
  const start = startPosition(ctx, spec);
  const state: StreamState = {
    db: ctx.db,
    collection,
    allDatabases,
    fullDocument: oneOf(spec["fullDocument"], ["default", "updateLookup", "whenAvailable", "required"], "fullDocument", "default"),
    fullDocumentBeforeChange: oneOf(
      spec["fullDocumentBeforeChange"],
      ["off", "whenAvailable", "required"],
      "fullDocumentBeforeChange",
      "off",
    ),
    expanded: args.boolean("showExpandedEvents") ?? false,
    startAt: start.startAt,
    stages,
    fast,
    plan: eventPlanOf(fast, spec),
    afterSeq: start.seq,
    afterTime: start.time,
    invalidated: false,
  };
  const ns = collection === undefined ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${collection}`;
  const batch = scan(ctx, state, batchSize ?? defaultFirstBatchSize);
  const id = state.invalidated ? Long.ZERO : ctx.server.cursors.open(ns, { kind: "changeStream", abort: new AbortController(), state });
  return { cursor: { firstBatch: batch, postBatchResumeToken: postBatchResumeToken(ctx, state), id, ns }, ok: 1 };
}

/** getMore on a change-stream cursor: waits for events until maxTimeMS. */
export async function changeStreamGetMore(
  ctx: CommandContext,
  entry: CursorEntry,
  batchSize: number | undefined,
  maxTimeMS: number | undefined,
): Promise<Document> {
  const state = streamState(entry);
  if (entry.cursor.kind !== "changeStream") throw new Error("not a change-stream cursor");
  // Aborted when the cursor is killed, also by the server stopping (closeAll).
  const signal = entry.cursor.abort.signal;
  const deadline = Date.now() + Math.max(0, maxTimeMS ?? defaultAwaitMs);
  const limit = batchSize === undefined || batchSize === 0 ? Number.MAX_SAFE_INTEGER : batchSize;
  let batch: Document[];
  try {
    for (;;) {
      batch = scan(ctx, state, limit);
      const remaining = deadline - Date.now();
      if (batch.length > 0 || remaining <= 0 || signal.aborted || state.invalidated) break;
      await ctx.server.engine.changes.waitFor(state.afterSeq, remaining, signal);
    }
  } catch (err) {
    ctx.server.cursors.kill(entry.id);
    throw err;
  }
  let id = Long.fromBigInt(entry.id);
  if (state.invalidated || signal.aborted) {
    ctx.server.cursors.kill(entry.id);
    id = Long.ZERO;
  }
  return { cursor: { nextBatch: batch, postBatchResumeToken: postBatchResumeToken(ctx, state), id, ns: entry.ns }, ok: 1 };
}
