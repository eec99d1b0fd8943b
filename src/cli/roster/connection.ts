/**
 * Where `roster` connects and as whom, from flags or the environment
 * (ROSTER_ADDR, ROSTER_TOKEN, ROSTER_PLAINTEXT), with TLS options named as
 * grpcurl names them: TLS unless --plaintext, --cacert, --cert/--key for a
 * client certificate, --insecure to skip verification.
 *
 * The clients are Roster's own service descriptors (gen/) over
 * connect-node's gRPC transport (HTTP/2), so the command speaks to the gRPC
 * door exactly as any gRPC client does, with HTTP/2 flow control on streams.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { SecureClientSessionOptions } from "node:http2";
import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ChangeService } from "../../../gen/roster/v1/change_service_pb.ts";
import { GroupService } from "../../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../../gen/roster/v1/membership_service_pb.ts";
import { statusName } from "../../rpc/status-names.ts";
import { stringFlag, UsageError, type FlagValues } from "./command-line.ts";

export const defaultAddress = "localhost:50051";

export interface ConnectionSettings {
  /** host:port */
  readonly address: string;
  readonly token: string | undefined;
  readonly plaintext: boolean;
  /** PEM contents, read when the settings are made so a bad path is a usage error. */
  readonly ca: Buffer | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly insecure: boolean;
  /** Deadline of each call; undefined: none. */
  readonly timeoutMs: number | undefined;
}

export interface Connection {
  readonly groups: Client<typeof GroupService>;
  readonly memberships: Client<typeof MembershipService>;
  readonly changes: Client<typeof ChangeService>;
  /** Options for one call: the token, the deadline, and `signal` to cancel it. */
  callOptions(signal?: AbortSignal): CallOptions;
  /** Closes the HTTP/2 connection (the process can then end on its own). */
  close(): void;
}

/** The settings of this invocation (PEM paths relative to `cwd`); throws UsageError for contradictory or unreadable options. */
export function connectionSettingsOf(flags: FlagValues, env: NodeJS.ProcessEnv, cwd: string): ConnectionSettings {
  const plaintext = flags["plaintext"] === true || /^(1|true|yes)$/i.test(env["ROSTER_PLAINTEXT"] ?? "");
  const certPath = stringFlag(flags, "cert");
  const keyPath = stringFlag(flags, "key");
  const caPath = stringFlag(flags, "cacert");
  const insecure = flags["insecure"] === true;
  if ((certPath === undefined) !== (keyPath === undefined)) throw new UsageError("--cert and --key go together");
  if (plaintext && (certPath !== undefined || caPath !== undefined || insecure)) {
    throw new UsageError("--plaintext cannot be combined with --cacert, --cert, --key or --insecure");
  }
  const address = stringFlag(flags, "addr") ?? nonEmpty(env["ROSTER_ADDR"]) ?? defaultAddress;
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw new UsageError(`address "${address}" must be HOST:PORT (e.g. localhost:50051, [::1]:50051)`);
  }
  const timeout = stringFlag(flags, "timeout");
  return {
    address,
    token: stringFlag(flags, "token") ?? nonEmpty(env["ROSTER_TOKEN"]),
    plaintext,
    ca: readPem("--cacert", caPath, cwd),
    cert: readPem("--cert", certPath, cwd),
    key: readPem("--key", keyPath, cwd),
    insecure,
    timeoutMs: timeout === undefined ? undefined : parseDuration("--timeout", timeout),
  };
}

/** Opens (lazily: on the first call) a connection to the gRPC door. */
export function openConnection(settings: ConnectionSettings): Connection {
  const baseUrl = `${settings.plaintext ? "http" : "https"}://${settings.address}`;
  const tls: SecureClientSessionOptions = {
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.cert === undefined ? {} : { cert: settings.cert }),
    ...(settings.key === undefined ? {} : { key: settings.key }),
    rejectUnauthorized: !settings.insecure,
  };
  const sessionManager = new Http2SessionManager(baseUrl, {}, settings.plaintext ? {} : tls);
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  const headers = settings.token === undefined ? {} : { authorization: `Bearer ${settings.token}` };
  return {
    groups: createClient(GroupService, transport),
    memberships: createClient(MembershipService, transport),
    changes: createClient(ChangeService, transport),
    callOptions: (signal) => ({
      headers,
      ...(settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs }),
      ...(signal === undefined ? {} : { signal }),
    }),
    close: () => {
      sessionManager.abort();
    },
  };
}

/**
 * A failed call as one line: the gRPC code name and the server's message
 * (`NOT_FOUND: group "x" not found`), with a hint where the cause is usually
 * the command line rather than the server.
 */
export function describeCallError(error: unknown, settings: Pick<ConnectionSettings, "plaintext" | "address">): string {
  const status = ConnectError.from(error);
  const line = `${statusName(status.code)}: ${status.rawMessage}`;
  if (status.code === Code.Unauthenticated) return `${line} (set ROSTER_TOKEN or --token)`;
  if (!settings.plaintext && /SSL routines|wrong version number|EPROTO|packet length too long/i.test(status.rawMessage)) {
    return `${line} (is the server at ${settings.address} serving plaintext? then use --plaintext)`;
  }
  return line;
}

/** `30s`, `5m`, `1h`, `500ms`, or plain seconds (`2.5`) as milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const unit = match?.[2] ?? "s";
  const ms = Number(match?.[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
  if (match === null || !(ms > 0)) throw new UsageError(`${flag} must be a duration like 30s, 5m or 500ms, got "${text}"`);
  return Math.ceil(ms);
}

function readPem(flag: string, path: string | undefined, cwd: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(resolve(cwd, path));
  } catch (error) {
    throw new UsageError(`${flag}: cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
