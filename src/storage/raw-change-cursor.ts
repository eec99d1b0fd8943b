/**
 * A change stream on a database read batch by batch with its events left
 * as BSON bytes: `aggregate` with `$changeStream`, then `getMore`, as the
 * driver's ChangeStream sends them, but without decoding every event (the
 * ChangeStream decodes each twice: an index of its fields, then the whole).
 * The reader decodes what it needs (change-event-bytes.ts).
 *
 * It keeps the driver's resume rules (the change streams specification):
 * the position is the batch's `postBatchResumeToken` (else its last event's
 * `_id`), else the start time; after a resumable error (the network, no
 * server, CursorNotFound, a `ResumableChangeStreamError`) the stream is
 * opened again once from that position before the error is thrown; any other
 * error is thrown as the driver's. The cursor lives in a session of its own,
 * as a server requires of `getMore` on a cursor opened in a session.
 */
import {
  BSON,
  Long,
  MongoAPIError,
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  type ClientSession,
  type Document,
} from "mongodb";
import type { ClusterTime } from "../domain/consistency.ts";
import { timestampOf } from "./cluster-time.ts";
import type { Database } from "./database.ts";

/** One answer of the stream. */
export interface RawChangeBatch {
  /** Each event's BSON document, in order. */
  readonly events: readonly Uint8Array[];
  /** The stream's resume token after this batch (its high-water mark when it held everything); undefined before any. */
  readonly resumeToken: unknown;
}

export interface RawChangeCursor {
  /** The next batch (empty when nothing came within `maxAwaitMs`); opens the stream first when it is not open. */
  next(): Promise<RawChangeBatch>;
  /** Opens the stream again from the last position (after `next` threw). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export interface RawChangeCursorOptions {
  /** The stream starts after this cluster time, until a resume token is known. */
  readonly after: ClusterTime;
  readonly batchSize: number;
  /** How long a `getMore` waits for an event. */
  readonly maxAwaitMs: number;
}

/** A cursor the server opened, in its session; its id is zero once the server closed it. */
interface OpenCursor {
  readonly session: ClientSession;
  id: Long;
}

/** The namespace of a database-wide change stream's cursor. */
const aggregateCollection = "$cmd.aggregate";

/** `$changeStream` with `pipeline` on `database`'s database, read raw. */
export function openRawChangeCursor(database: Database, pipeline: readonly Document[], options: RawChangeCursorOptions): RawChangeCursor {
  const { db, client } = database;
  let resumeToken: unknown;
  let open: OpenCursor | undefined;
  let closed = false;
  /** `close()` was called (a function, so that a check after an await is not narrowed away). */
  const isClosed = (): boolean => closed;
  /** The request on its way, which `close` waits for before ending its session. */
  let inFlight: Promise<unknown> | undefined;

  const send = async (command: Document, session: ClientSession, batchField: string): Promise<Document> => {
    // promoteLongs off: the cursor id stays a Long whatever its size.
    const request = db.command(command, { session, fieldsAsRaw: { [batchField]: true }, promoteLongs: false });
    inFlight = request;
    try {
      return await request;
    } finally {
      if (inFlight === request) inFlight = undefined;
    }
  };

  /** Takes the position of `cursor`'s answer (`reply`) and the cursor's id in it; its events. */
  const take = (cursor: OpenCursor, reply: Document, batchField: string): RawChangeBatch => {
    const answer = reply["cursor"] as Document | undefined;
    const events = (answer?.[batchField] ?? []) as Uint8Array[];
    const postBatch: unknown = answer?.["postBatchResumeToken"];
    const last = events.at(-1);
    if (postBatch !== undefined && postBatch !== null) resumeToken = postBatch;
    else if (last !== undefined) resumeToken = (BSON.deserialize(last) as { _id?: unknown })._id;
    const id: unknown = answer?.["id"];
    cursor.id = id instanceof Long ? id : Long.fromNumber(Number(id ?? 0));
    return { events, resumeToken };
  };

  const openStream = async (): Promise<RawChangeBatch> => {
    const cursor: OpenCursor = { session: client.startSession({ causalConsistency: false }), id: Long.ZERO };
    open = cursor;
    const position = resumeToken === undefined ? { startAtOperationTime: timestampOf(options.after + 1n) } : { resumeAfter: resumeToken };
    const reply = await send(
      { aggregate: 1, pipeline: [{ $changeStream: position }, ...pipeline], cursor: { batchSize: options.batchSize } },
      cursor.session,
      "firstBatch",
    );
    return take(cursor, reply, "firstBatch");
  };

  const getMore = async (cursor: OpenCursor): Promise<RawChangeBatch> => {
    const reply = await send(
      { getMore: cursor.id, collection: aggregateCollection, batchSize: options.batchSize, maxTimeMS: options.maxAwaitMs },
      cursor.session,
      "nextBatch",
    );
    return take(cursor, reply, "nextBatch");
  };

  /** Kills the cursor (best effort) and ends its session. */
  const closeStream = async (): Promise<void> => {
    const current = open;
    open = undefined;
    if (current === undefined) return;
    if (!current.id.isZero()) {
      await db.command({ killCursors: aggregateCollection, cursors: [current.id] }, { session: current.session }).catch(() => undefined);
    }
    await inFlight?.catch(() => undefined);
    await current.session.endSession().catch(() => undefined);
  };

  return {
    async next() {
      if (closed) throw new MongoAPIError("the change stream is closed");
      const cursor = open;
      if (cursor === undefined || cursor.id.isZero()) {
        // Not open yet, reopened, or ended by the server (an invalidate): open from the position.
        await closeStream();
        return openStream();
      }
      try {
        return await getMore(cursor);
      } catch (error) {
        if (isClosed() || !isResumable(error)) throw error;
        // Once, as the driver does: a failure to open again is the caller's.
        await closeStream();
        return openStream();
      }
    },
    async reopen() {
      await closeStream();
    },
    async close() {
      closed = true;
      await closeStream();
    },
  };
}

const cursorNotFound = 43;

/** Errors after which a change stream is opened again from its position (the change streams specification, wire version 9 and up). */
function isResumable(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  return error instanceof MongoError && (error.code === cursorNotFound || error.hasErrorLabel("ResumableChangeStreamError"));
}
