/**
 * The web door's plain-HTTP endpoints for operators and orchestrators:
 * `GET /healthz` (the process is up and serving HTTP), `GET /readyz` (the
 * database is reachable and shutdown has not begun: send traffic here) and
 * `GET /metrics` (Prometheus text); and for services that verify Roster's
 * group tokens, `GET /.well-known/jwks.json` (the public signing key, RFC
 * 7517). None needs a token.
 */
import type { NodeServerRequest, NodeServerResponse } from "./node-types.ts";

export interface OpsEndpointDeps {
  /** Database reachable and not shutting down. */
  readonly isReady: () => boolean;
  /** True once the door began draining. */
  readonly isDraining: () => boolean;
  readonly renderMetrics: () => Promise<{ readonly contentType: string; readonly body: string }>;
  /** The JSON Web Key Set served at /.well-known/jwks.json. */
  readonly jwks: { readonly keys: readonly object[] };
}

export const jwksPath = "/.well-known/jwks.json";
export const opsPaths = ["/healthz", "/readyz", "/metrics", jwksPath] as const;

/**
 * Answers the request if it is for an ops endpoint and returns true;
 * returns false (untouched) for anything else.
 */
export function createOpsEndpoints(deps: OpsEndpointDeps): (req: NodeServerRequest, res: NodeServerResponse) => boolean {
  const text = (res: NodeServerResponse, status: number, body: string): void => {
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
    res.end(body);
  };
  return (req, res) => {
    const path = (req.url ?? "").split("?", 1)[0];
    if (!(opsPaths as readonly (string | undefined)[]).includes(path)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      text(res, 405, "method not allowed\n");
      return true;
    }
    switch (path) {
      case "/healthz":
        text(res, 200, "ok\n");
        break;
      case jwksPath:
        // Verifiers cache it; a rotated key is seen within five minutes.
        res.writeHead(200, { "Content-Type": "application/jwk-set+json", "Cache-Control": "public, max-age=300" });
        res.end(JSON.stringify(deps.jwks));
        break;
      case "/readyz":
        if (deps.isDraining()) text(res, 503, "not ready: shutting down\n");
        else if (!deps.isReady()) text(res, 503, "not ready: database unreachable\n");
        else text(res, 200, "ready\n");
        break;
      default:
        deps.renderMetrics().then(
          ({ contentType, body }) => {
            res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" });
            res.end(body);
          },
          (error: unknown) => {
            text(res, 500, `metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`);
          },
        );
    }
    return true;
  };
}
