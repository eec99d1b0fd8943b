/**
 * `GetGroup` through the web door's Connect protocol, for `npm run bench:rpc`
 * to measure next to the same call on the gRPC door: a connect-node client
 * over HTTP/1.1 keep-alive (what browsers and most HTTP clients use against
 * the web door) or over HTTP/2 with prior knowledge (h2c: one multiplexed
 * connection, what a mesh client uses on the plaintext port), binary
 * protobuf by default so the comparison with gRPC is about the transport,
 * not JSON.
 *
 * With `prepared`, the call is the same Connect unary POST (binary) written
 * straight to node:http or node:http2: the request encoded once per id, the
 * first response for an id decoded and checked, each later one compared byte
 * for byte with it (and checked if it differs), a non-200 answer decoded as
 * Connect's error JSON. The service does the same work either way; the load
 * generator stops spending more per call than the gRPC rows' does, which at
 * 32 callers bounds req/s as much as the service (bench/rpc.bench.ts).
 *
 * The bench owns the measuring loop; this only builds the call.
 */
import { Agent, request } from "node:http";
import { connect, type ClientHttp2Session } from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { errorFromJsonBytes, protocolVersion } from "@connectrpc/connect/protocol-connect";
import { GetGroupRequestSchema, GetGroupResponseSchema, GroupService } from "../../gen/roster/v1/group_service_pb.ts";

export interface ConnectGetGroupOptions {
  /** The web door, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** Bearer token sent with every call. */
  readonly token: string;
  /** Upper bound on parallel HTTP/1.1 connections; set to the bench's concurrency. */
  readonly maxSockets: number;
  /** HTTP/2 with prior knowledge (one session) instead of HTTP/1.1 keep-alive; default false. */
  readonly h2c?: boolean;
  /** JSON instead of binary protobuf; default false. */
  readonly json?: boolean;
  /** Cacheable GET instead of POST (GetGroup is NO_SIDE_EFFECTS); default false. */
  readonly httpGet?: boolean;
  /** Binary POST with the request encoded once, over node:http or node:http2 directly (see the module comment); default false. */
  readonly prepared?: boolean;
}

export interface ConnectGetGroup {
  /** One GetGroup; rejects (with the ConnectError) unless the group comes back. */
  call(id: string): Promise<void>;
  /** Closes the keep-alive connections. */
  close(): void;
  /** For the bench's report line, e.g. "Connect (binary, POST, HTTP/1.1)". */
  readonly label: string;
}

export function createConnectGetGroup(options: ConnectGetGroupOptions): ConnectGetGroup {
  if (options.prepared === true) return createPreparedGetGroup(options);
  const format = { baseUrl: options.baseUrl, useBinaryFormat: options.json !== true, useHttpGet: options.httpGet === true };
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const sessions = new Http2SessionManager(options.baseUrl);
  const transport =
    options.h2c === true
      ? createConnectTransport({ ...format, httpVersion: "2", sessionManager: sessions })
      : createConnectTransport({ ...format, httpVersion: "1.1", nodeOptions: { agent } });
  const client = createClient(GroupService, transport);
  const headers = { authorization: `Bearer ${options.token}` };
  return {
    call: async (id) => {
      const response = await client.getGroup({ id }, { headers });
      if (response.group?.id !== id) throw new Error(`GetGroup(${id}) returned ${response.group?.id ?? "no group"}`);
    },
    close: () => {
      agent.destroy();
      sessions.abort();
    },
    label: `Connect (${options.json === true ? "JSON" : "binary"}, ${options.httpGet === true ? "GET" : "POST"}, ${options.h2c === true ? "HTTP/2 h2c" : "HTTP/1.1"})`,
  };
}

/** What one prepared POST answered: the HTTP status and the body. */
interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

function createPreparedGetGroup(options: ConnectGetGroupOptions): ConnectGetGroup {
  const url = new URL(`${options.baseUrl.replace(/\/$/u, "")}/${GroupService.typeName}/${GroupService.method.getGroup.name}`);
  const headers = {
    "content-type": "application/proto",
    "connect-protocol-version": protocolVersion,
    authorization: `Bearer ${options.token}`,
  };
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  let session: ClientHttp2Session | undefined;
  const post =
    options.h2c === true
      ? (body: Buffer): Promise<Answer> =>
          new Promise((resolve, reject) => {
            if (session === undefined) {
              const opened = connect(url.origin);
              // A broken session fails its streams (rejecting their calls); the next call opens a new one.
              opened.on("error", () => {
                if (session === opened) session = undefined;
              });
              session = opened;
            }
            const stream = session.request({ ":method": "POST", ":path": url.pathname, ...headers, "content-length": body.length });
            let status = 0;
            const chunks: Buffer[] = [];
            stream.on("response", (h) => (status = Number(h[":status"])));
            stream.on("data", (chunk: Buffer) => chunks.push(chunk));
            stream.on("end", () => {
              resolve({ status, body: Buffer.concat(chunks) });
            });
            stream.on("error", reject);
            stream.end(body);
          })
      : (body: Buffer): Promise<Answer> =>
          new Promise((resolve, reject) => {
            const req = request(url, { method: "POST", agent, headers: { ...headers, "content-length": body.length } }, (res) => {
              const chunks: Buffer[] = [];
              res.on("data", (chunk: Buffer) => chunks.push(chunk));
              res.on("end", () => {
                resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
              });
              res.on("error", reject);
            });
            req.on("error", reject);
            req.end(body);
          });
  const prepared = new Map<string, { readonly body: Buffer; verified?: Buffer }>();
  return {
    call: async (id) => {
      let entry = prepared.get(id);
      if (entry === undefined) {
        entry = { body: Buffer.from(toBinary(GetGroupRequestSchema, create(GetGroupRequestSchema, { id }))) };
        prepared.set(id, entry);
      }
      const answer = await post(entry.body);
      if (answer.status !== 200) throw errorFromJsonBytes(answer.body, undefined, new ConnectError(`HTTP ${answer.status}`, Code.Unknown));
      if (entry.verified !== undefined && answer.body.equals(entry.verified)) return;
      const group = fromBinary(GetGroupResponseSchema, answer.body).group;
      if (group?.id !== id) throw new Error(`GetGroup(${id}) returned ${group?.id ?? "no group"}`);
      entry.verified = answer.body;
    },
    close: () => {
      agent.destroy();
      session?.close();
    },
    label: `Connect (binary, POST, ${options.h2c === true ? "HTTP/2 h2c" : "HTTP/1.1"}, prepared)`,
  };
}
