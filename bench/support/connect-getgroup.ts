/**
 * `GetGroup` through the web door's Connect protocol, for `npm run bench:rpc`
 * to measure next to the same call on the gRPC door: a connect-node client
 * over HTTP/1.1 keep-alive (what browsers and most HTTP clients use against
 * the web door) or over HTTP/2 with prior knowledge (h2c: one multiplexed
 * connection, what a mesh client uses on the plaintext port), binary
 * protobuf by default so the comparison with gRPC is about the transport,
 * not JSON.
 *
 * The bench owns the measuring loop; this only builds the call.
 */
import { Agent } from "node:http";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";

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
