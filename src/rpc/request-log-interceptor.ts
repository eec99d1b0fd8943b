/**
 * The outermost step of every call: gives it a request id (the one its door
 * already answered with, if any) and a child logger,
 * returns the id in the `x-request-id` response header (or error metadata,
 * which the doors send as trailers), and writes exactly one log line when the
 * call ends: method, door, protocol, code, duration, caller, request id,
 * peer, and the trace id when tracing is on. Never the token, never a
 * message body.
 */
import { Code, ConnectError, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import type { Logger } from "pino";
import { methodKey } from "./access-rules.ts";
import { callerKey, callInfoKey, callStartedKey, loggerKey, requestIdKey, traceIdKey } from "./context.ts";
import { requestIdFrom, requestIdHeader } from "./request-id.ts";
import { createRequestLineWriter, type RequestLineLevel, type RequestLineWriter, type RequestLogLine } from "./request-log-line.ts";
import { statusName } from "./status-names.ts";
import { observeStream } from "./stream-observer.ts";

/** Codes that mean the server (not the client) has a problem: logged at error / warn level. */
const serverFaults: ReadonlySet<Code> = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/** What the call's one line is made of, besides how it ended. */
interface CallLine {
  readonly req: UnaryRequest | StreamRequest;
  readonly ids: { readonly requestId: string; readonly traceId?: string };
  readonly method: string;
  readonly started: number;
}

/**
 * Writes the call's line with `write`. Module-level functions rather than
 * closures per call: the service runs under tsx, whose esbuild names every
 * closure bound to a name (a property definition per call, ~1 µs each).
 */
function writeLine(write: RequestLineWriter, call: CallLine, error: unknown): void {
  const code = error === undefined ? undefined : ConnectError.from(error).code;
  const info = call.req.contextValues.get(callInfoKey);
  const line: RequestLogLine = {
    requestId: call.ids.requestId,
    traceId: call.ids.traceId,
    method: call.method,
    door: info?.door,
    protocol: info?.protocol,
    code: statusName(code),
    ms: Math.round((performance.now() - call.started) * 1000) / 1000,
    caller: call.req.contextValues.get(callerKey)?.principal,
    peer: info?.peer,
  };
  write(levelOf(code), line);
}

/** A server fault is an error, an unavailable dependency a warning, anything else (the client's business) info. */
function levelOf(code: Code | undefined): RequestLineLevel {
  if (code === undefined) return "info";
  if (serverFaults.has(code)) return "error";
  return code === Code.Unavailable ? "warn" : "info";
}

/** `error` as the status sent, carrying the request id in its metadata (trailers). */
function tagged(error: unknown, requestId: string): ConnectError {
  const status = ConnectError.from(error);
  status.metadata.set(requestIdHeader, requestId);
  return status;
}

/**
 * One line per RPC to `logger` (see the module comment for the fields),
 * written by request-log-line.ts as its fixed-field sibling (logger.ts) would:
 * the line is made only of the scalar fields above.
 */
export function createRequestLogInterceptor(logger: Logger): Interceptor {
  const write = createRequestLineWriter(logger);
  return (next) => async (req) => {
    const started = req.contextValues.get(callStartedKey) ?? performance.now();
    const requestId = req.contextValues.get(requestIdKey) || requestIdFrom(req.header);
    const traceId = req.contextValues.get(traceIdKey);
    // The child's bindings first, then the line's fields: the same JSON as `child(ids).info(line)`, without a child per call.
    const ids = traceId === "" ? { requestId } : { requestId, traceId };
    let child: Logger | undefined;
    req.contextValues.set(requestIdKey, requestId).set(loggerKey, () => (child ??= logger.child(ids)));
    const call: CallLine = { req, ids, method: methodKey(req.method), started };

    let res;
    try {
      res = await next(req);
    } catch (error) {
      const status = tagged(error, requestId);
      writeLine(write, call, status);
      throw status;
    }
    res.header.set(requestIdHeader, requestId);
    if (!res.stream) {
      writeLine(write, call, undefined);
      return res;
    }
    return {
      ...res,
      message: observeStream(
        res.message,
        (error) => tagged(error, requestId),
        (error) => {
          writeLine(write, call, error);
        },
      ),
    };
  };
}
