/**
 * The web door: Roster's services for browsers and HTTP clients on
 * `ROSTER_HTTP_PORT`, served by `@connectrpc/connect-node` — the Connect
 * protocol (JSON and binary, GET for side-effect-free methods) and gRPC-web,
 * over HTTP/1.1 and HTTP/2 on the same port: without TLS, HTTP/2 with prior
 * knowledge (h2c, see h2c.ts); under TLS, HTTP/2 by ALPN.
 *
 * It runs the SAME handler objects through the SAME pipeline interceptors as
 * the gRPC door (authentication, authorization, deadlines, error mapping,
 * request log); this file only adds what is about HTTP: CORS, the operator
 * endpoints, message size limits, compression, and draining on shutdown.
 */
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2Session } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { RosterConfig } from "../../config.ts";
import { metricsInterceptorFor } from "../../ops/metrics-interceptor.ts";
import type { RosterMetrics } from "../../ops/metrics.ts";
import { callInfoKey, callStartedKey, deadlineKey, requestIdKey } from "../../rpc/context.ts";
import { requestIdFor, requestIdHeader } from "../../rpc/request-id.ts";
import { createCorsPolicy } from "./cors.ts";
import {
  answerNotFound,
  callStarted,
  logRequestOutsidePipeline,
  rememberCallContext,
  reportIfPipelineSkipped,
  type RejectCall,
} from "./early-failures.ts";
import { createReadFailureInterceptor, restateReadFailuresOnAbort } from "./read-failures.ts";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.ts";
import type { JsonWebKeySet } from "../../auth/signing-key.ts";
import { createOpsEndpoints } from "./ops-endpoints.ts";
import { serveH2c, type H2c } from "./h2c.ts";

/** A service and its implementation, as `createRosterServices(app)` returns them. */
export interface WebDoorService {
  readonly service: DescService;
  readonly impl: Readonly<Record<string, unknown>>;
}

export type WebDoorConfig = Pick<RosterConfig, "hosts" | "httpPort" | "corsOrigins" | "maxMessageBytes" | "httpTls">;

export interface WebDoorOptions {
  readonly services: readonly WebDoorService[];
  /**
   * The RPC pipeline shared with the gRPC door: its interceptors, and its
   * `reject` for calls connect-node ends before they reach the interceptors
   * (see early-failures.ts; without it those calls are not logged).
   */
  readonly pipeline: { readonly interceptors: readonly Interceptor[]; readonly reject?: RejectCall };
  readonly config: WebDoorConfig;
  /** For `GET /readyz`. */
  readonly health: { isReady(): boolean; readDetail?(): string | undefined };
  /** For `GET /metrics`; RPCs are counted here unless the pipeline already includes its interceptor. */
  readonly metrics: RosterMetrics;
  /** For `GET /.well-known/jwks.json`: the public key of Roster's group tokens (no keys when it has none). */
  readonly jwks?: JsonWebKeySet;
  readonly logger: Logger;
}

export interface WebDoor {
  readonly port: number;
  /** Base URL for clients on this machine, e.g. `http://127.0.0.1:8080` (the first host; "0.0.0.0" and "::" as 127.0.0.1). */
  readonly url: string;
  /**
   * Graceful stop: new calls get UNAVAILABLE and `/readyz` 503, the listener
   * closes, in-flight calls and streams get `graceMs` to finish, then the
   * rest are cancelled (UNAVAILABLE "server is shutting down") and every
   * connection closed. Resolves when the server is closed.
   */
  close(graceMs: number): Promise<void>;
}

/** The status of calls refused or cut off by shutdown. */
const shuttingDown = (): ConnectError => new ConnectError("server is shutting down", Code.Unavailable);
/** After the grace period, how long cancelled calls get to send their status before sockets are destroyed. */
const cancelFlushMs = 250;

export async function startWebDoor(options: WebDoorOptions): Promise<WebDoor> {
  const { config, logger, metrics } = options;
  const shutdown = new AbortController();
  // connect links every in-flight call's signal to this one: one listener per call, by design.
  setMaxListeners(0, shutdown.signal);
  let draining = false;

  const metricsInterceptor = metricsInterceptorFor(metrics);
  const interceptors = [
    ...(options.pipeline.interceptors.includes(metricsInterceptor) ? [] : [metricsInterceptor]),
    ...options.pipeline.interceptors,
    // Innermost: the handler and every pipeline step see Roster's status for a malformed streamed message.
    createReadFailureInterceptor(),
  ];

  /** Each request's id, sent in its `x-request-id` before anything else, and used by the call's log line. */
  const requestIds = new WeakMap<NodeServerRequest, string>();
  /** Each RPC request's context values, to find out after the response whether the pipeline saw the call. */
  const valuesByRequest = new WeakMap<NodeServerRequest, ContextValues>();
  const rpcHandler = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      for (const { service, impl } of options.services) {
        router.service(service, impl as Partial<ServiceImpl<DescService>>);
      }
    },
    interceptors,
    // Requests above the limit fail with RESOURCE_EXHAUSTED before they are parsed.
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    acceptCompression: [compressionGzip, compressionBrotli],
    shutdownSignal: shutdown.signal,
    fallback: answerNotFound,
    contextValues: (req) => {
      const values = createContextValues()
        .set(callInfoKey, { door: "web", protocol: "", peer: peerOf(req.socket) })
        .set(callStartedKey, performance.now())
        .set(requestIdKey, requestIds.get(req) ?? "");
      valuesByRequest.set(req, values);
      return values;
    },
    // Runs once headers are in, before the body is read: the door's facts for the pipeline.
    requestGate: (ctx) => {
      const info = ctx.values.get(callInfoKey);
      ctx.values.set(callInfoKey, { door: "web", protocol: ctx.protocolName, peer: info?.peer ?? "" });
      rememberCallContext(ctx);
      restateReadFailuresOnAbort(ctx);
      if (draining) throw shuttingDown();
      const timeoutMs = ctx.timeoutMs();
      if (timeoutMs !== undefined) ctx.values.set(deadlineKey, Date.now() + timeoutMs);
    },
  });

  const cors = createCorsPolicy(config.corsOrigins);
  const ops = createOpsEndpoints({
    isReady: () => options.health.isReady(),
    readDetail: () => options.health.readDetail?.(),
    isDraining: () => draining,
    renderMetrics: () => metrics.render(),
    jwks: options.jwks ?? { keys: [] },
  });

  let inFlight = 0;
  let idle: (() => void) | undefined;
  const reject = options.pipeline.reject;
  /** What a request's one close listener needs; the door answers hundreds per second, so no closures per request. */
  interface Exchange {
    readonly req: NodeServerRequest;
    readonly res: NodeServerResponse;
    readonly requestId: string;
    readonly started: number;
    /** Who answered: an RPC (the pipeline or connect-node), or the door itself (routine: probes and preflights). */
    answeredBy: "rpc" | "door" | "door-routine";
  }
  const exchanges = new WeakMap<NodeServerResponse, Exchange>();
  function onResponseClose(this: NodeServerResponse): void {
    inFlight--;
    if (inFlight === 0) idle?.();
    const exchange = exchanges.get(this);
    if (exchange === undefined) return;
    const { req, res, requestId, started, answeredBy } = exchange;
    const values = answeredBy === "rpc" ? valuesByRequest.get(req) : undefined;
    // A call: the pipeline logged it, or `reject` does now. No call: the door logs it.
    if (answeredBy === "rpc" && values !== undefined && callStarted(values)) {
      if (reject !== undefined) reportIfPipelineSkipped(values, reject);
      return;
    }
    const routine = answeredBy === "door-routine";
    logRequestOutsidePipeline(logger, { req, res, requestId, started, peer: peerOf(req.socket), routine });
  }
  const handle = (req: NodeServerRequest, res: NodeServerResponse): void => {
    inFlight++;
    // Every response carries the request's id, whoever answers it; its log line has the same.
    const given = req.headers[requestIdHeader];
    const requestId = requestIdFor(typeof given === "string" ? given : undefined);
    requestIds.set(req, requestId);
    res.setHeader(requestIdHeader, requestId);
    const exchange: Exchange = { req, res, requestId, started: performance.now(), answeredBy: "rpc" };
    exchanges.set(res, exchange);
    res.once("close", onResponseClose);
    if (draining && req instanceof IncomingMessage) res.setHeader("Connection", "close");
    const verdict = cors.apply(req, res);
    if (verdict !== "serve") {
      exchange.answeredBy = verdict === "answered" ? "door-routine" : "door";
      return;
    }
    if (ops(req, res)) {
      exchange.answeredBy = "door-routine";
      return;
    }
    rpcHandler(req, res);
  };

  const tls = config.httpTls;
  const sessions = new Set<Http2Session>();
  const trackSession = (session: Http2Session): void => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // A connection accepted just before the listener closed: no new streams on it.
    if (draining) session.close();
  };
  const h2cListeners: H2c[] = [];
  /** One server per listening address, all with the same handler. */
  const createListener = (): HttpServer | Http2SecureServer => {
    if (tls === undefined) {
      const server = createServer({ ServerResponse: EarlyAnswerAwareResponse }, handle);
      h2cListeners.push(serveH2c(server, { handle, onSession: trackSession }));
      // Keep idle keep-alive connections open longer than clients do (Node's
      // agent: 5 s), so a client never reuses a socket the server just closed.
      server.keepAliveTimeout = 65_000;
      // Slow-loris bound on the headers; no bound on the whole request, as streams are long-lived.
      server.headersTimeout = 30_000;
      server.requestTimeout = 0;
      return server;
    }
    const server = createSecureServer(
      {
        cert: readFileSync(tls.certPath),
        key: readFileSync(tls.keyPath),
        allowHTTP1: true,
        Http1ServerResponse: EarlyAnswerAwareResponse,
      },
      handle,
    );
    server.on("session", trackSession);
    return server;
  };

  const servers: (HttpServer | Http2SecureServer)[] = [];
  let port = config.httpPort;
  for (const host of config.hosts) {
    const server = createListener();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      // Addresses bound before the failing one must not stay open.
      for (const bound of servers) bound.close();
      throw new Error(`web door cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    servers.push(server);
    port = (server.address() as AddressInfo).port;
  }
  const first = config.hosts[0] ?? "127.0.0.1";
  const host = first === "0.0.0.0" || first === "::" ? "127.0.0.1" : first;
  const url = `${tls === undefined ? "http" : "https"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info(
    { door: "web", hosts: config.hosts, port, tls: tls !== undefined, corsOrigins: config.corsOrigins },
    tls === undefined
      ? "web door listening (Connect, gRPC-web; HTTP/1.1 and h2c)"
      : "web door listening (Connect, gRPC-web; HTTP/1.1 and HTTP/2 over TLS)",
  );

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      const closed = Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => {
                resolve();
              });
            }),
        ),
      );
      for (const server of servers) if (server instanceof HttpServer) server.closeIdleConnections();
      for (const h2c of h2cListeners) h2c.destroyUndecided();
      for (const session of sessions) session.close();

      const finished = new Promise<void>((resolve) => {
        if (inFlight === 0) resolve();
        else idle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => {
          resolve("timeout");
        }, graceMs);
      });
      const outcome = await Promise.race([finished.then(() => "done" as const), graceOver]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        logger.warn({ door: "web", inFlight, graceMs }, "shutdown grace period over: cancelling the remaining calls");
        shutdown.abort(shuttingDown());
        await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, cancelFlushMs))]);
      }
      for (const server of servers) if (server instanceof HttpServer) server.closeAllConnections();
      for (const session of sessions) session.destroy();
      await closed;
      logger.info({ door: "web" }, "web door closed");
    })();
    return closing;
  };

  return { port, url, close };
}

/**
 * HTTP/1.1: when the response starts before the request body was fully
 * received — connect refusing an oversized message after reading only its
 * length prefix — the connection ends with the response (`Connection: close`).
 * Otherwise the client may send its next request on a socket whose previous
 * body is still in flight, and that request hangs or is reset. A subclass
 * given to `createServer` rather than a `writeHead` patched per request: the
 * patch cost a bound function and an own property on every response.
 */
class EarlyAnswerAwareResponse extends ServerResponse {
  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const req = this.req as IncomingMessage | undefined;
    if (req !== undefined && !req.complete && !this.headersSent && hasBody(req)) this.setHeader("Connection", "close");
    return (super.writeHead as (statusCode: number, ...rest: unknown[]) => this).call(this, statusCode, ...rest);
  }
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** The client address as grpc-js reports it on the gRPC door ("127.0.0.1:53122", "[::1]:53122"), for the request log. */
function peerOf(socket: Socket | null | undefined): string {
  if (!socket?.remoteAddress) return "unknown";
  const address = socket.remoteFamily === "IPv6" ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `${address}:${socket.remotePort ?? ""}`;
}
