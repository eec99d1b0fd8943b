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
 * Paths that name no method (connect-node answers 404, which Connect clients
 * read as UNIMPLEMENTED) are logged here with the same fields, when they look
 * like an RPC path; they are not counted in metrics, whose method label must
 * stay bounded.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import { requestIdKey } from "../../rpc/context.ts";
import { requestIdFrom } from "../../rpc/request-id.ts";
import { statusName } from "../../rpc/status-names.ts";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { NodeServerRequest } from "./node-types.ts";

/** The pipeline's way of logging and counting a call it did not run. */
export type RejectCall = (method: DescMethod, ctx: HandlerContext, error: unknown) => Promise<ConnectError>;

/** The call's HandlerContext, recorded by the request gate. */
const gateContextKey = createContextKey<HandlerContext | undefined>(undefined, { description: "roster web call context" });

/** Records the call's context; call from connect-node's `requestGate`. */
export function rememberCallContext(ctx: HandlerContext): void {
  ctx.values.set(gateContextKey, ctx);
}

/**
 * Once the response of a call is over: if connect-node ended it before the
 * pipeline ran (the request log never assigned a request id), report it
 * through `reject` with the error connect-node sent.
 */
export function reportIfPipelineSkipped(values: ContextValues, reject: RejectCall): void {
  const ctx = values.get(gateContextKey);
  if (ctx === undefined || values.get(requestIdKey) !== "") return;
  const reason: unknown = ctx.signal.aborted ? ctx.signal.reason : undefined;
  const error = reason instanceof ConnectError ? reason : new ConnectError("the call ended before it was handled", Code.Unknown);
  void reject(ctx.method, ctx, error);
}

/** Service/method-shaped paths, e.g. `/roster.v1.GroupService/GetGroup`. */
const rpcPathPattern = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

/**
 * connect-node's `fallback`: answers 404 like connect-node does, and writes
 * one `rpc` log line (code UNIMPLEMENTED) for RPC-shaped paths.
 */
export function createNotFoundHandler(
  logger: Logger,
  peerOf: (req: NodeServerRequest) => string,
): NonNullable<ConnectNodeAdapterOptions["fallback"]> {
  return (req, res) => {
    const started = performance.now();
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    res.once("close", () => {
      if (!rpcPathPattern.test(path) || path.length > 512) return;
      const headers = new Headers();
      const given = req.headers["x-request-id"];
      if (typeof given === "string") headers.set("x-request-id", given);
      logger.info(
        {
          requestId: requestIdFrom(headers),
          method: path.slice(1),
          door: "web",
          protocol: protocolOf(req),
          code: statusName(Code.Unimplemented),
          ms: Math.round((performance.now() - started) * 1000) / 1000,
          caller: undefined,
          peer: peerOf(req),
        },
        "rpc",
      );
    });
    res.writeHead(404);
    res.end();
  };
}

/** The protocol a request's content type names, as connect-node reports it. */
function protocolOf(req: NodeServerRequest): string {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}
