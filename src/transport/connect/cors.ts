/**
 * CORS for the web door: browsers on the origins in `ROSTER_CORS_ORIGINS` may
 * call it with the Connect and gRPC-web protocols; every other origin is
 * refused outright (403, no CORS headers), including "simple" requests such
 * as a Connect GET that a browser would send without a preflight — so a
 * foreign page can neither read answers nor cause side effects.
 *
 * The header and method lists are connect's own (`cors` from
 * @connectrpc/connect), plus what Roster adds: the bearer token, the
 * request id and trace context.
 */
import { cors as connectCors } from "@connectrpc/connect";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.ts";

/**
 * Request headers a browser may send besides connect's: the token, a
 * correlation id, and W3C trace context (a traced page's fetch sends it).
 */
const rosterRequestHeaders = ["Authorization", "X-Request-Id", "Traceparent", "Tracestate", "Baggage"];
/** Response headers a browser script may read besides connect's. */
const rosterResponseHeaders = ["X-Request-Id", "Trailer-X-Request-Id"];
/** How long a browser may cache a preflight answer (seconds). */
const preflightMaxAgeSeconds = 7200;

export const allowedMethods = [...connectCors.allowedMethods];
export const allowedHeaders = [...connectCors.allowedHeaders, ...rosterRequestHeaders];
export const exposedHeaders = [...connectCors.exposedHeaders, ...rosterResponseHeaders];

/** What the door should do with a request after CORS had its say. */
export type CorsVerdict =
  /** No Origin header (not a browser cross-origin call) or an allowed origin: serve it. */
  | "serve"
  /** A preflight from an allowed origin: answered already. */
  | "answered"
  /** An origin not in the list: answered with 403 already. */
  | "refused";

export interface CorsPolicy {
  /** Sets CORS headers and answers preflights and refusals; "serve" means the caller goes on. */
  apply(req: NodeServerRequest, res: NodeServerResponse): CorsVerdict;
}

export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const allowed = new Set(origins);
  return {
    apply: (req, res) => {
      const origin = req.headers.origin;
      if (origin === undefined) return "serve";
      res.setHeader("Vary", "Origin");
      const isPreflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      if (!allowed.has(origin)) {
        res.writeHead(403, { "Content-Type": "text/plain; charset=utf-8" });
        res.end(`origin ${origin} is not allowed (ROSTER_CORS_ORIGINS)\n`);
        return "refused";
      }
      res.setHeader("Access-Control-Allow-Origin", origin);
      if (isPreflight) {
        res.writeHead(204, {
          "Access-Control-Allow-Methods": allowedMethods.join(", "),
          "Access-Control-Allow-Headers": allowedHeaders.join(", "),
          "Access-Control-Max-Age": String(preflightMaxAgeSeconds),
        });
        res.end();
        return "answered";
      }
      res.setHeader("Access-Control-Expose-Headers", exposedHeaders.join(", "));
      return "serve";
    },
  };
}
