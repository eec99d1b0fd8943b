/**
 * HTTP/2 without TLS ("h2c" with prior knowledge) on the web door's plaintext
 * port, next to HTTP/1.1, as Envoy and Go's h2c handler serve it: gRPC-web and
 * Connect clients behind a service mesh (TLS ends in a sidecar) get HTTP/2's
 * multiplexing on the same port browsers reach with HTTP/1.1.
 *
 * node:http2 cannot serve both versions on a plaintext socket (`allowHTTP1`
 * exists only under TLS), so each new connection's first bytes are read: the
 * 24-byte HTTP/2 connection preface hands the socket to a node:http2 server,
 * anything else to the HTTP/1.1 server's own connection listener — both with
 * the bytes put back. The HTTP/1.1 server keeps listening and keeps all it
 * does (keep-alive, header timeouts, closing idle connections). The upgrade
 * dance (`Upgrade: h2c`) is not offered: no Connect or gRPC client uses it,
 * and RFC 9113 deprecates it.
 */
import type { Server as HttpServer } from "node:http";
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import type { Socket } from "node:net";

/** What every HTTP/2 connection starts with (RFC 9113 §3.4). */
const connectionPreface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface H2cOptions {
  /** The request listener, the same as the HTTP/1.1 server's. */
  readonly handle: (req: Http2ServerRequest, res: Http2ServerResponse) => void;
  /** Each HTTP/2 session, for the door's draining. */
  readonly onSession: (session: Http2Session) => void;
}

export interface H2c {
  /** Drops connections that have not yet sent enough to tell their HTTP version (for shutdown: they carry no call). */
  destroyUndecided(): void;
}

/**
 * Makes `server` (a node:http server, not yet listening) serve HTTP/2 with
 * prior knowledge as well. A connection that sends fewer than 24 bytes and
 * then nothing is dropped after the server's `headersTimeout`, as an HTTP/1.1
 * connection that never finishes its headers is.
 */
export function serveH2c(server: HttpServer, options: H2cOptions): H2c {
  const http2 = createHttp2Server({}, options.handle);
  http2.on("session", options.onSession);
  const http1Listeners = server.listeners("connection");
  const serveHttp1 = http1Listeners[0];
  // node:http serves connections from one "connection" listener; anything else means Node changed how, so fail at start-up.
  if (http1Listeners.length !== 1 || serveHttp1 === undefined) {
    throw new Error(`h2c: expected node:http's one connection listener, found ${http1Listeners.length}`);
  }
  server.removeAllListeners("connection");

  const undecided = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    undecided.add(socket);
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), server.headersTimeout);
    const settle = (): void => {
      clearTimeout(timer);
      undecided.delete(socket);
      socket.off("data", onData);
      socket.off("error", onEarlyError);
      socket.off("close", settle);
    };
    const onEarlyError = (): void => {
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const compared = Math.min(seen.length, connectionPreface.length);
      const isHttp2 = seen.subarray(0, compared).equals(connectionPreface.subarray(0, compared));
      if (isHttp2 && seen.length < connectionPreface.length) return;
      settle();
      socket.pause();
      socket.unshift(seen);
      if (isHttp2) {
        // node:http2 reads what is buffered on the socket, then takes over its handle: no resume here.
        http2.emit("connection", socket);
      } else {
        serveHttp1.call(server, socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", onEarlyError);
    socket.on("close", settle);
  });

  return {
    destroyUndecided: () => {
      for (const socket of undecided) socket.destroy();
    },
  };
}
