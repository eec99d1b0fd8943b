/**
 * The outermost step of every call: gives it a request id (the one its door
 * already answered with, if any) and a child logger,
 * returns the id in the `x-request-id` response header (or error metadata,
 * which the doors send as trailers), and writes exactly one log line when the
 * call ends: method, door, protocol, code, duration, caller, request id,
 * peer, and the trace id when tracing is on. Never the token, never a
 * message body.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { fixedFieldLogger } from "./logger.ts";
import { callerKey, callInfoKey, callStartedKey, loggerKey, requestIdKey, traceIdKey } from "./context.ts";
import { requestIdFrom, requestIdHeader } from "./request-id.ts";
import { statusName } from "./status-names.ts";
import { observeStream } from "./stream-observer.ts";

/** Codes that mean the server (not the client) has a problem: logged at error / warn level. */
const serverFaults: ReadonlySet<Code> = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/**
 * One line per RPC to `logger` (see the module comment for the fields),
 * written through its fixed-field sibling (logger.ts): the line is made only
 * of the scalar fields above.
 */
export function createRequestLogInterceptor(logger: Logger): Interceptor {
  const lines = fixedFieldLogger(logger);
  return (next) => async (req) => {
    const started = req.contextValues.get(callStartedKey) ?? performance.now();
    const requestId = req.contextValues.get(requestIdKey) || requestIdFrom(req.header);
    const traceId = req.contextValues.get(traceIdKey);
    // The child's bindings first, then the line's fields: the same JSON as `child(ids).info(line)`, without a child per call.
    const ids = traceId === "" ? { requestId } : { requestId, traceId };
    let child: Logger | undefined;
    req.contextValues.set(requestIdKey, requestId).set(loggerKey, () => (child ??= logger.child(ids)));
    const method = `${req.service.typeName}/${req.method.name}`;

    const finish = (error: unknown): void => {
      const code = error === undefined ? undefined : ConnectError.from(error).code;
      const info = req.contextValues.get(callInfoKey);
      const line = {
        ...ids,
        method,
        door: info?.door,
        protocol: info?.protocol,
        code: statusName(code),
        ms: Math.round((performance.now() - started) * 1000) / 1000,
        caller: req.contextValues.get(callerKey)?.principal,
        peer: info?.peer,
      };
      if (code !== undefined && serverFaults.has(code)) lines.error(line, "rpc");
      else if (code === Code.Unavailable) lines.warn(line, "rpc");
      else lines.info(line, "rpc");
    };
    const tag = (error: unknown): ConnectError => {
      const status = ConnectError.from(error);
      status.metadata.set(requestIdHeader, requestId);
      return status;
    };

    let res;
    try {
      res = await next(req);
    } catch (error) {
      const status = tag(error);
      finish(status);
      throw status;
    }
    res.header.set(requestIdHeader, requestId);
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    return { ...res, message: observeStream(res.message, tag, finish) };
  };
}
