/**
 * Starts the whole Roster service in-process for tests: real config
 * validation, real app over MongoDB (a fresh database per call), real JWT
 * verification with a random HS256 secret, both doors on free ports on
 * 127.0.0.1. Captures the log lines so tests can assert on them, and signs
 * tokens for any subject.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-node";
import { signHs256Token } from "../../src/auth/token-signer.ts";
import { loadConfig } from "../../src/config.ts";
import { startRoster, type RosterServer } from "../../src/server.ts";
import { createRosterClient, type RosterClient } from "./roster-client.ts";

export interface TestRosterOptions {
  /** A `mongodb://` URI (from startTestMongo); the helper picks a fresh database on it. */
  readonly mongoUri: string;
  readonly dbName: string;
  /** ROSTER_ADMINS, e.g. ["user:root"]. */
  readonly admins?: readonly string[];
  /** More environment settings (ROSTER_CREATOR_GROUP, ...). */
  readonly env?: Readonly<Record<string, string>>;
  /** Trace every call into this exporter (an InMemorySpanExporter). */
  readonly spanExporter?: SpanExporter;
}

export interface TokenOptions {
  readonly service?: boolean;
  readonly ttlSeconds?: number;
  /** Issue time; a past time with a short ttl makes an expired token. */
  readonly now?: Date;
  /** Sign with another secret (a bad signature). */
  readonly secret?: string;
  /** The `auth_time` claim; absent: none. */
  readonly authTime?: Date;
}

export interface TestRoster {
  /** `127.0.0.1:<port>` of the gRPC door. */
  readonly address: string;
  readonly grpcPort: number;
  /** Base URL of the web door (Connect, gRPC-web), e.g. `http://127.0.0.1:41234`. */
  readonly httpUrl: string;
  readonly server: RosterServer;
  /** A client connected to the server (closed by stop). */
  readonly client: RosterClient;
  /** A valid token for `user:<subject>` (or `service:<subject>`). */
  token(subject: string, options?: TokenOptions): Promise<string>;
  /** Log lines written so far, parsed. */
  logs(): Record<string, unknown>[];
  /** Log lines written so far, raw. */
  rawLogs(): string;
  stop(): Promise<void>;
}

/** `mongodb://h:p/?x` + "db" → `mongodb://h:p/db?x`. */
export function withDatabase(uri: string, dbName: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?([^?]*)(\?.*)?$/.exec(uri);
  if (match === null) throw new Error(`unexpected MongoDB URI ${uri}`);
  return `${match[1] ?? ""}/${dbName}${match[3] ?? ""}`;
}

export async function startTestRoster(options: TestRosterOptions): Promise<TestRoster> {
  const secret = randomBytes(32).toString("base64url");
  const dataDir = await mkdtemp(join(tmpdir(), "roster-test-"));
  const config = loadConfig({
    MONGODB_URI: withDatabase(options.mongoUri, options.dbName),
    ROSTER_DATA_DIR: dataDir,
    ROSTER_HOST: "127.0.0.1",
    ROSTER_GRPC_PORT: "0",
    ROSTER_HTTP_PORT: "0",
    ROSTER_JWT_SECRET: secret,
    ROSTER_ADMINS: (options.admins ?? []).join(","),
    ROSTER_LOG_LEVEL: "info",
    ROSTER_SHUTDOWN_GRACE_MS: "1000",
    ...options.env,
  });
  let raw = "";
  const server = await startRoster(config, {
    logDestination: {
      write(line: string) {
        raw += line;
      },
    },
    ...(options.spanExporter === undefined ? {} : { spanExporter: options.spanExporter }),
  });
  const address = `127.0.0.1:${server.grpcPort}`;
  const client = createRosterClient(address);
  return {
    address,
    grpcPort: server.grpcPort,
    httpUrl: server.httpUrl,
    server,
    client,
    token: (subject, tokenOptions = {}) =>
      signHs256Token(
        {
          subject,
          ttlSeconds: tokenOptions.ttlSeconds ?? 3600,
          ...(tokenOptions.service === true ? { service: true } : {}),
          ...(tokenOptions.now === undefined ? {} : { now: tokenOptions.now }),
          ...(tokenOptions.authTime === undefined ? {} : { authTime: tokenOptions.authTime }),
        },
        tokenOptions.secret ?? secret,
      ),
    logs: () =>
      raw
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    rawLogs: () => raw,
    async stop() {
      client.close();
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
