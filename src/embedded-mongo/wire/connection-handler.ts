/**
 * One client connection: frames the byte stream, decodes each message,
 * runs the commands strictly in arrival order and writes the replies. OP_MSG
 * requests with `moreToCome` get no reply. An awaitable hello sent with
 * `exhaustAllowed` is streamed, as mongod streams it: each reply carries
 * `moreToCome` and the server runs the hello again, until the connection
 * closes (the driver's streaming server monitoring). A stream that cannot be framed
 * closes the connection; a message that cannot be decoded gets an error reply.
 */
import type { Socket } from "node:net";
import type { Document } from "bson";
import type { Logger } from "pino";
import { dispatchCommand, type DispatchResult } from "../commands/dispatch-command.ts";
import { isAwaitableHello } from "../commands/hello-commands.ts";
import type { ConnectionState, ServerContext } from "../commands/command-context.ts";
import { errorCodes } from "../errors.ts";
import { decodeMessage, MessageDecodeError, readHeader, type DecodedRequest } from "./decode-message.ts";
import { encodeOpMsgReply, encodeOpReply, ReplyTooLargeError } from "./encode-reply.ts";
import { createMessageFramer, FramingError } from "./message-framer.ts";
import { opCodes, opMsgFlags } from "./op-codes.ts";

/** Commands a legacy OP_QUERY may carry (mongod 5.1+ accepts only the handshake). */
const opQueryCommands = new Set(["hello", "isMaster", "ismaster"]);
/** Pause reading when this many messages wait (a client pipelining without reading replies). */
const maxQueuedMessages = 64;

let replyRequestId = 0;
function nextRequestId(): number {
  replyRequestId = (replyRequestId + 1) & 0x7fffffff;
  return replyRequestId;
}

export interface ConnectionHandle {
  /** Resolves when every queued message has been processed. */
  drained(): Promise<void>;
}

export function handleConnection(socket: Socket, server: ServerContext, connectionId: number, log: Logger): ConnectionHandle {
  const framer = createMessageFramer();
  const closing = new AbortController();
  socket.once("close", () => {
    closing.abort();
  });
  const isClosed = (): boolean => closing.signal.aborted;
  const connection: ConnectionState = { id: connectionId, appName: undefined, closed: closing.signal };
  let tail: Promise<void> = Promise.resolve();
  let queued = 0;

  const send = (bytes: Buffer): void => {
    if (!socket.destroyed && socket.writable) socket.write(bytes);
  };

  const reply = (request: { opCode: number; requestId: number }, doc: Document, flags = 0): void => {
    let bytes: Buffer;
    try {
      bytes =
        request.opCode === opCodes.query
          ? encodeOpReply(nextRequestId(), request.requestId, doc)
          : encodeOpMsgReply(nextRequestId(), request.requestId, doc, flags);
    } catch (err) {
      const tooLarge = err instanceof ReplyTooLargeError;
      if (!tooLarge) log.error({ err, connectionId }, "could not encode a reply");
      const fallback = tooLarge
        ? { ok: 0, errmsg: err.message, code: errorCodes.BSONObjectTooLarge, codeName: "BSONObjectTooLarge" }
        : {
            ok: 0,
            errmsg: `could not encode the reply: ${err instanceof Error ? err.message : String(err)}`,
            code: errorCodes.InternalError,
            codeName: "InternalError",
          };
      bytes =
        request.opCode === opCodes.query
          ? encodeOpReply(nextRequestId(), request.requestId, fallback)
          : encodeOpMsgReply(nextRequestId(), request.requestId, fallback);
    }
    send(bytes);
  };

  const run = async (decoded: DecodedRequest): Promise<void> => {
    const header = { opCode: decoded.header.opCode, requestId: decoded.header.requestId };
    if (decoded.kind === "query") {
      const dot = decoded.collection.indexOf(".");
      const db = dot < 0 ? "" : decoded.collection.slice(0, dot);
      let body = decoded.command;
      if (body["$query"] !== undefined && typeof body["$query"] === "object" && body["$query"] !== null) body = body["$query"] as Document;
      const name = Object.keys(body)[0] ?? "";
      if (!decoded.collection.endsWith(".$cmd") || !opQueryCommands.has(name)) {
        reply(header, {
          ok: 0,
          errmsg: `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
          code: errorCodes.UnsupportedOpQueryCommand,
          codeName: "UnsupportedOpQueryCommand",
        });
        return;
      }
      answer(header, await dispatchCommand(server, { body, connection, legacyDb: db }), true);
      return;
    }
    if ((decoded.flags & opMsgFlags.exhaustAllowed) !== 0 && isAwaitableHello(decoded.command)) {
      await stream(header, decoded.command);
      return;
    }
    const result = await dispatchCommand(server, { body: decoded.command, connection });
    answer(header, result, (decoded.flags & opMsgFlags.moreToCome) === 0);
  };

  /**
   * Streams an awaitable hello: replies with moreToCome until the connection
   * closes or a reply is an error (the last). Each round asks with the
   * topologyVersion of the previous reply, as mongod does, so every round
   * after the first waits its maxAwaitTimeMS.
   */
  const stream = async (header: { opCode: number; requestId: number }, request: Document): Promise<void> => {
    let body = request;
    while (!isClosed()) {
      const result = await dispatchCommand(server, { body, connection });
      if (isClosed()) return;
      if (result.kind === "close" || result.reply["ok"] !== 1) {
        answer(header, result, true);
        return;
      }
      reply(header, result.reply, opMsgFlags.moreToCome);
      body = { ...body, topologyVersion: result.reply["topologyVersion"] as unknown };
    }
  };

  /** Sends the reply (unless the request wanted none), or closes the connection (failCommand closeConnection). */
  const answer = (header: { opCode: number; requestId: number }, result: DispatchResult, wantsReply: boolean): void => {
    if (result.kind === "close") {
      socket.destroy();
      return;
    }
    if (wantsReply) reply(header, result.reply);
  };

  const process = async (frame: Buffer): Promise<void> => {
    let decoded: DecodedRequest;
    try {
      decoded = decodeMessage(frame);
    } catch (err) {
      if (!(err instanceof MessageDecodeError)) throw err;
      log.warn({ connectionId, opCode: err.header.opCode, reason: err.message }, "undecodable message");
      if (err.replyable) {
        reply(err.header, { ok: 0, errmsg: err.message, code: errorCodes[err.codeName], codeName: err.codeName });
      } else if (err.header.opCode !== opCodes.msg) {
        socket.destroy();
      }
      return;
    }
    await run(decoded);
  };

  socket.on("data", (chunk: Buffer) => {
    let frames: Buffer[];
    try {
      frames = framer.push(chunk);
    } catch (err) {
      if (err instanceof FramingError) log.warn({ connectionId, reason: err.message }, "closing connection: unframeable stream");
      else log.error({ err, connectionId }, "closing connection: unexpected framing failure");
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      queued++;
      if (queued >= maxQueuedMessages) socket.pause();
      tail = tail
        .then(() => process(frame))
        .catch((err: unknown) => {
          log.error({ err, connectionId, opCode: readHeader(frame).opCode }, "unexpected error while handling a message");
        })
        .finally(() => {
          queued--;
          if (queued < maxQueuedMessages / 4 && socket.isPaused()) socket.resume();
        });
    }
  });
  socket.on("error", (err) => {
    log.debug({ err, connectionId }, "connection error");
  });

  return { drained: () => tail };
}
