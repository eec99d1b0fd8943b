/**
 * Calls that connect-node ends before the pipeline's interceptors run — a
 * body that is not valid JSON or protobuf, a message above the size limit,
 * a bad timeout header, an unsupported compression, a call refused while
 * draining — would otherwise leave no request-log line and no metrics count.
 * connect-node has no error hook for them, but it aborts the call's
 * HandlerContext with the error it sends; so the door remembers each call's
 * context (from the request gate) and, once the response is over, hands a
 * call the pipeline never saw to `pipeline.reject`, which logs and counts it
 * exactly like any other failed call (never the body).
 *
 * Requests connect-node answers without creating a call at all are logged
 * here, by `logRequestOutsidePipeline`: a path that names no method (404,
 * which Connect clients read as UNIMPLEMENTED) gets the request log's `rpc`
 * line when it looks like an RPC path; a method's wrong HTTP method (405),
 * content type (415) or HTTP version (505), and everything else the door
 * answers itself (CORS, /healthz, /readyz, /metrics, other paths) get one
 * `http` line. None is counted in metrics, whose method label must stay
 * bounded.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import { loggerKey } from "../../rpc/context.ts";
import { statusName } from "../../rpc/status-names.ts";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.ts";

/** The pipeline's way of logging and counting a call it did not run. */
export type RejectCall = (method: DescMethod, ctx: HandlerContext, error: unknown) => Promise<ConnectError>;

/** The call's HandlerContext, recorded by the request gate. */
const gateContextKey = createContextKey<HandlerContext | undefined>(undefined, { description: "roster web call context" });

/** Records the call's context; call from connect-node's `requestGate`. */
export function rememberCallContext(ctx: HandlerContext): void {
  ctx.values.set(gateContextKey, ctx);
}

/**
 * Whether connect-node started a call for the request (its request gate ran).
 * It does not for a method's wrong HTTP method, content type or HTTP version
 * (405, 415, 505), although it created the request's context values.
 */
export function callStarted(values: ContextValues | undefined): boolean {
  return values?.get(gateContextKey) !== undefined;
}

/**
 * Once the response of a call is over: if connect-node ended it before the
 * pipeline ran (the request log never gave it a logger), report it through
 * `reject` with the error connect-node sent.
 */
export function reportIfPipelineSkipped(values: ContextValues, reject: RejectCall): void {
  const ctx = values.get(gateContextKey);
  if (ctx === undefined || values.get(loggerKey) !== undefined) return;
  const reason: unknown = ctx.signal.aborted ? ctx.signal.reason : undefined;
  const error = reason instanceof ConnectError ? reason : new ConnectError("the call ended before it was handled", Code.Unknown);
  void reject(ctx.method, ctx, error);
}

/** Service/method-shaped paths, e.g. `/roster.v1.GroupService/GetGroup`. */
const rpcPathPattern = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/** connect-node's `fallback` for paths that name no method: 404, as connect-node answers. */
export const answerNotFound: NonNullable<ConnectNodeAdapterOptions["fallback"]> = (_req, res) => {
  res.writeHead(404);
  res.end();
};

/** What the door knows of a request it answered outside the pipeline. */
export interface DoorExchange {
  readonly req: NodeServerRequest;
  readonly res: NodeServerResponse;
  /** The id sent in the response's `x-request-id`. */
  readonly requestId: string;
  /** `performance.now()` when the request arrived. */
  readonly started: number;
  readonly peer: string;
  /** Probes and CORS preflights: logged at debug level, as they come every few seconds. */
  readonly routine: boolean;
}

/** Longest request path written to the log; longer ones are cut. */
const maxLoggedPath = 256;

/**
 * Writes the one log line of a request the pipeline never saw (see the module
 * comment), once its response is over, with the id the response carried.
 * The query string is never logged: a Connect GET carries the message there.
 */
export function logRequestOutsidePipeline(logger: Logger, exchange: DoorExchange): void {
  const { req, res, requestId, peer } = exchange;
  const path = (req.url ?? "").split("?", 1)[0] ?? "";
  const ms = Math.round((performance.now() - exchange.started) * 1000) / 1000;
  if (res.statusCode === 404 && rpcPathPattern.test(path) && path.length <= 512) {
    const line = {
      requestId,
      method: path.slice(1),
      door: "web",
      protocol: protocolOf(req),
      code: statusName(Code.Unimplemented),
      ms,
      caller: undefined,
      peer,
    };
    logger.info(line, "rpc");
    return;
  }
  const shown = path.length > maxLoggedPath ? `${path.slice(0, maxLoggedPath)}…` : path;
  const line = { requestId, door: "web", http: `${req.method ?? "?"} ${shown}`, status: res.statusCode, ms, peer };
  if (exchange.routine) logger.debug(line, "http");
  else logger.info(line, "http");
}

/** The protocol a request's content type names, as connect-node reports it. */
function protocolOf(req: NodeServerRequest): string {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}
