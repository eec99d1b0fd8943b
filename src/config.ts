/**
 * Roster's configuration, in one place: every setting is an environment
 * variable with an optional command-line override (`--grpc-port 5000` is
 * `ROSTER_GRPC_PORT=5000`; `MONGODB_URI` is `--mongodb-uri`). Everything is
 * validated at start so that a typo stops the process with a message naming the
 * variable, instead of surfacing as a strange failure on the first request.
 *
 * The `settings` table is exported so the README's configuration table can be
 * generated from (and checked against) the code: `renderConfigTable()`.
 */
import { createPrivateKey } from "node:crypto";
import { accessSync, constants as fsConstants, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { resolve } from "node:path";
import { defaultBatchLimits, type BatchLimits } from "./app/batch/limits.ts";
import type { ExpirySweepSettings } from "./app/expiry-sweeper.ts";
import { DEFAULT_INVITATION_TTL_DAYS } from "./domain/membership-lifecycle.ts";
import { defaultChangeSettings, type ChangeSettings } from "./app/changes/change-settings.ts";
import { defaultReadModelSettings, type ReadModelSettings } from "./app/read-model/settings.ts";
import { hs256SecretProblem } from "./auth/dev-key.ts";
import { signingAlgorithmOf } from "./auth/signing-key.ts";
import type { GroupTokenLimits } from "./domain/group-token.ts";

/** pino levels accepted by ROSTER_LOG_LEVEL. */
export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

/** How incoming JWTs are verified. */
export type JwtKeySource =
  /** No key configured: a generated HS256 key in ROSTER_DATA_DIR, announced loudly. */
  | { readonly kind: "development" }
  | { readonly kind: "secret"; readonly secret: string }
  | { readonly kind: "jwks"; readonly url: URL }
  | { readonly kind: "public-key"; readonly pem: string };

/** Certificate and key files of one door (paths are checked to be readable at start). */
export interface TlsFiles {
  readonly certPath: string;
  readonly keyPath: string;
}

/** How a verified client certificate may identify the caller on the gRPC door. */
export type ClientCertIdentity = "none" | "service-cn";

/** The validated configuration of one Roster process. */
export interface RosterConfig {
  /** External MongoDB; undefined means "start the embedded store in dataDir". */
  readonly mongodbUri: string | undefined;
  readonly dataDir: string;
  /**
   * Addresses both doors listen on, the same port on each: ROSTER_HOST, or by
   * default loopback in development mode and all interfaces otherwise (see
   * {@link defaultListenHosts}).
   */
  readonly hosts: readonly string[];
  /** True when `hosts` is development mode's loopback default (the start-up log says how to expose the doors). */
  readonly loopbackByDefault: boolean;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly jwtKey: JwtKeySource;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** ROSTER_SIGNING_KEY as PEM text: Roster's own key for group tokens; undefined = none (generated in development mode). */
  readonly signingKeyPem: string | undefined;
  /** ROSTER_SIGNING_KEY_ID; undefined = the key's thumbprint. */
  readonly signingKeyId: string | undefined;
  /** `iss` of group tokens. */
  readonly groupTokenIssuer: string;
  readonly groupTokenLimits: GroupTokenLimits;
  readonly admins: readonly string[];
  /** Group id whose (transitive) members may create top-level groups; undefined = anyone. */
  readonly creatorGroupId: string | undefined;
  readonly logLevel: LogLevel;
  readonly corsOrigins: readonly string[];
  readonly maxMessageBytes: number;
  readonly shutdownGraceMs: number;
  readonly grpcTls: TlsFiles | undefined;
  readonly httpTls: TlsFiles | undefined;
  /** CA bundle path for verifying gRPC client certificates (mTLS); needs grpcTls. */
  readonly grpcClientCaPath: string | undefined;
  readonly grpcClientCertIdentity: ClientCertIdentity;
  /** Benchmarks only: registers the hidden `roster.bench.v1.Noop` methods (Ping, LoopStats). */
  readonly benchNoop: boolean;
  /** Limits of BatchMemberships / BatchUpdateMemberships (ROSTER_BATCH_*). */
  readonly batchLimits: BatchLimits;
  /** The expiry sweeper (ROSTER_EXPIRY_SWEEP_*). */
  readonly expirySweep: ExpirySweepSettings;
  /** Lifetime of an invitation sent without an expire_time, in days (ROSTER_INVITATION_TTL_DAYS). */
  readonly invitationTtlDays: number;
  /** The history and the change feed (ROSTER_HISTORY_RETENTION_DAYS, ROSTER_CHANGE_*). */
  readonly changeSettings: ChangeSettings;
  /** OpenTelemetry tracing (OTEL_*); undefined: off, no span is made. */
  readonly tracing: TracingConfig | undefined;
  /** The read model (ROSTER_READ_MODEL_*), or false: every read uses the database. */
  readonly readModel: ReadModelSettings | false;
}

/** OTLP transports (OTEL_EXPORTER_OTLP_PROTOCOL). */
export const otlpProtocols = ["http/protobuf", "http/json", "grpc"] as const;
export type OtlpProtocol = (typeof otlpProtocols)[number];
/** The samplers of OTEL_TRACES_SAMPLER that need no remote service. */
export const traceSamplers = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type TraceSampler = (typeof traceSamplers)[number];

/**
 * Tracing as the OpenTelemetry environment variables describe it, read with
 * the rest of the configuration so a typo stops the start like any other.
 * Variables not listed here (OTEL_EXPORTER_OTLP_HEADERS, …_TIMEOUT,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*) are read by the SDK itself.
 */
export interface TracingConfig {
  /** "otlp" sends spans to a collector; "console" prints them (debugging). */
  readonly exporter: "otlp" | "console";
  readonly protocol: OtlpProtocol;
  /** The full URL spans are sent to; undefined: the exporter's default for the protocol (localhost:4318 or :4317). */
  readonly url: string | undefined;
  /** OTEL_SERVICE_NAME; undefined: service.name of OTEL_RESOURCE_ATTRIBUTES, else "roster". */
  readonly serviceName: string | undefined;
  readonly sampler: TraceSampler;
  /** The ratio of the traceidratio samplers, 0-1. */
  readonly samplerRatio: number;
}

/** One row of the configuration table. */
export interface SettingInfo {
  /** Environment variable. */
  readonly name: string;
  /** Command-line override. */
  readonly flag: string;
  /** Default as written in the README; "" when unset by default. */
  readonly defaultValue: string;
  /** A default that depends on other settings, in words (Markdown), shown instead of `defaultValue`. */
  readonly defaultText?: string;
  readonly description: string;
}

/** A configuration problem; the message names the variable (or flag) and the problem. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const MiB = 1024 * 1024;

/**
 * Every setting, in README order. Keep descriptions short and factual: they
 * are the README's configuration table.
 */
export const settings: readonly SettingInfo[] = [
  row(
    "MONGODB_URI",
    "",
    "MongoDB connection string (`mongodb://` or `mongodb+srv://`). Unset: Roster starts its embedded store in `ROSTER_DATA_DIR` (development default).",
  ),
  row("ROSTER_DATA_DIR", "./data", "Directory of the embedded store and of the development JWT key."),
  row(
    "ROSTER_HOST",
    "",
    "Address both doors listen on, e.g. `0.0.0.0` (IPv4 only) or `::` (IPv4 and IPv6). Unset: loopback only (`127.0.0.1` and `::1`) in development mode; all interfaces otherwise (`::`, or `0.0.0.0` on a machine without IPv6).",
    "loopback in development mode, else all interfaces",
  ),
  row("ROSTER_GRPC_PORT", "50051", "gRPC door port (0 picks a free port)."),
  row("ROSTER_HTTP_PORT", "8080", "Web door port: Connect, gRPC-web, health, metrics (0 picks a free port)."),
  row("ROSTER_JWT_SECRET", "", "HS256 secret (at least 32 bytes) for verifying tokens."),
  row("ROSTER_JWKS_URL", "", "JWKS URL for RS256/ES256 tokens."),
  row(
    "ROSTER_JWT_PUBLIC_KEY",
    "",
    "RS256/ES256 public key: PEM text, or the path of a PEM file. With none of the three JWT key settings Roster runs in development mode with a generated key.",
  ),
  row("ROSTER_JWT_ISSUER", "", "Required `iss` claim, when set."),
  row("ROSTER_JWT_AUDIENCE", "", "Required `aud` claim, when set."),
  row(
    "ROSTER_SIGNING_KEY",
    "",
    "Roster's own private key for group tokens (IssueGroupToken): PEM text or the path of a PEM file; RSA signs RS256, P-256 EC ES256. Its public key is served at `/.well-known/jwks.json`. Unset: group tokens are off, except in development mode (a key generated at each start).",
  ),
  row("ROSTER_SIGNING_KEY_ID", "", "The `kid` of the signing key in tokens and the JWKS; unset: its RFC 7638 thumbprint."),
  row("ROSTER_GROUP_TOKEN_ISSUER", "roster", "`iss` claim of group tokens."),
  row("ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS", "900", "Lifetime of a group token requested without `ttl` (at most the maximum)."),
  row("ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS", "3600", "Longest `ttl` IssueGroupToken accepts; longer is INVALID_ARGUMENT."),
  row("ROSTER_ADMINS", "", "Comma-separated system administrators, e.g. `user:alice,service:ops`."),
  row(
    "ROSTER_CREATOR_GROUP",
    "",
    "Group id (or `group:<id>`) whose members, also transitively, may create top-level groups; unset: any authenticated caller.",
  ),
  row(
    "ROSTER_LOG_LEVEL",
    "info",
    `Log level: ${logLevels.join(", ")}. Logs are JSON lines on stdout; the lines of one event-loop turn leave in one write at its end, and any still pending at exit are written then.`,
  ),
  row("ROSTER_CORS_ORIGINS", "", "Comma-separated browser origins allowed to call the web door, e.g. `https://app.example.com`."),
  row(
    "ROSTER_MAX_MESSAGE_BYTES",
    String(4 * MiB),
    "Largest request or response message in bytes (4 MiB); larger requests get RESOURCE_EXHAUSTED.",
  ),
  row("ROSTER_SHUTDOWN_GRACE_MS", "10000", "On SIGTERM/SIGINT, how long in-flight calls and streams may run before being cancelled."),
  row("ROSTER_GRPC_TLS_CERT", "", "PEM certificate (chain) file of the gRPC door; with ROSTER_GRPC_TLS_KEY enables TLS."),
  row("ROSTER_GRPC_TLS_KEY", "", "PEM private key file of the gRPC door."),
  row(
    "ROSTER_GRPC_CLIENT_CA",
    "",
    "PEM CA bundle: when set, the gRPC door requires client certificates signed by it (mTLS). Needs gRPC TLS.",
  ),
  row(
    "ROSTER_GRPC_CLIENT_CERT_IDENTITY",
    "none",
    "`service-cn`: a verified client certificate's subject CN identifies `service:<CN>` when no bearer token is sent; `none`: certificates only authenticate the connection.",
  ),
  row(
    "ROSTER_HTTP_TLS_CERT",
    "",
    "PEM certificate (chain) file of the web door; with ROSTER_HTTP_TLS_KEY enables HTTPS (HTTP/2 by ALPN, and HTTP/1.1); without it the port serves HTTP/1.1 and h2c.",
  ),
  row("ROSTER_HTTP_TLS_KEY", "", "PEM private key file of the web door."),
  row(
    "ROSTER_BATCH_MAX_OPERATIONS",
    String(defaultBatchLimits.maxOperations),
    "Operations one BatchMemberships stream may carry; the next one ends it with RESOURCE_EXHAUSTED (results sent before stand).",
  ),
  row(
    "ROSTER_BATCH_MAX_DURATION_MS",
    String(defaultBatchLimits.maxDurationMs),
    "How long a BatchMemberships stream may run before it ends with DEADLINE_EXCEEDED.",
  ),
  row(
    "ROSTER_BATCH_IDLE_TIMEOUT_MS",
    String(defaultBatchLimits.idleTimeoutMs),
    "How long a BatchMemberships stream may go without a client message before it ends with DEADLINE_EXCEEDED.",
  ),
  row("ROSTER_BATCH_CHUNK_SIZE", String(defaultBatchLimits.chunkSize), "Batch operations applied per transaction (1-5000)."),
  row(
    "ROSTER_EXPIRY_SWEEP_INTERVAL_MS",
    "60000",
    "How often the expiry sweeper removes memberships and invitations past their expire_time (0 turns it off; expired ones confer nothing either way).",
  ),
  row(
    "ROSTER_EXPIRY_SWEEP_BATCH",
    "500",
    "Expired memberships one sweep removes in one transaction at most (1-5000); a full sweep is followed at once by the next.",
  ),
  row(
    "ROSTER_INVITATION_TTL_DAYS",
    String(DEFAULT_INVITATION_TTL_DAYS),
    "Lifetime of an invitation sent without an expire_time, in days (1-365).",
  ),
  row(
    "ROSTER_HISTORY_RETENTION_DAYS",
    String(defaultChangeSettings.historyRetentionDays),
    "Days each change record is kept in the history; older ones are deleted by a sweeper every hour (0: kept forever).",
  ),
  row(
    "ROSTER_CHANGE_READERS",
    "",
    "Group id (or `group:<id>`) whose members, also transitively, receive every change from WatchChanges and ListChanges (sync pipelines); unset: only system administrators do.",
  ),
  row(
    "ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS",
    String(defaultChangeSettings.checkpointIntervalMs),
    "Longest a WatchChanges stream goes without a message: a checkpoint with a newer token is sent when no change reaches the caller (100-60000).",
  ),
  row("ROSTER_READ_MODEL", "true", "`false` turns the read model off: every read then uses the database (see Consistency)."),
  row(
    "ROSTER_READ_MODEL_MAX_LAG_MS",
    String(defaultReadModelSettings.maxLagMs),
    "Past this lag behind the database (and while its change stream is broken) the read model answers nothing: reads use the database.",
  ),
  row(
    "ROSTER_READ_MODEL_CACHED_MEMBERSHIPS",
    String(defaultReadModelSettings.cachedMemberships),
    "How many users' and services' direct memberships the read model caches (least recently used principals leave first).",
  ),
  row(
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "",
    "OTLP collector base URL, e.g. `http://collector:4318` (spans go to its `/v1/traces`) or, with protocol `grpc`, `http://collector:4317`. Setting it turns tracing on (see Tracing).",
  ),
  row(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "",
    "Full URL for spans, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT and also turns tracing on.",
  ),
  row("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", `OTLP transport: ${otlpProtocols.join(", ")}.`),
  row(
    "OTEL_TRACES_EXPORTER",
    "",
    "`otlp` turns tracing on (to localhost when no endpoint is set), `console` prints spans to stdout, `none` turns it off. Unset: `otlp` when an endpoint is set, else off.",
  ),
  row("OTEL_SERVICE_NAME", "roster", "`service.name` of the spans; unset: the `service.name` in OTEL_RESOURCE_ATTRIBUTES, else `roster`."),
  row("OTEL_TRACES_SAMPLER", "parentbased_always_on", `Sampler: ${traceSamplers.join(", ")}.`),
  row("OTEL_TRACES_SAMPLER_ARG", "1.0", "Sampling ratio (0-1) of the `traceidratio` samplers."),
  row("OTEL_SDK_DISABLED", "false", "`true` turns tracing off whatever else is set."),
  row(
    "ROSTER_BENCH_NOOP",
    "false",
    "Benchmarks only: `true`/`1` registers the hidden no-op RPC `/roster.bench.v1.Noop/Ping` and `/roster.bench.v1.Noop/LoopStats` (the process's event-loop counters) on the gRPC door (not part of the public contract).",
  ),
];

function row(name: string, defaultValue: string, description: string, defaultText?: string): SettingInfo {
  return { name, flag: flagOf(name), defaultValue, description, ...(defaultText === undefined ? {} : { defaultText }) };
}

/** `ROSTER_GRPC_PORT` → `--grpc-port`, `MONGODB_URI` → `--mongodb-uri`. */
function flagOf(name: string): string {
  return `--${name
    .replace(/^ROSTER_/, "")
    .toLowerCase()
    .replaceAll("_", "-")}`;
}

/** The configuration table as Markdown, for the README. */
export function renderConfigTable(): string {
  const lines = ["| Variable | Flag | Default | Description |", "| --- | --- | --- | --- |"];
  for (const s of settings) {
    const def = s.defaultText ?? (s.defaultValue === "" ? "" : `\`${s.defaultValue}\``);
    lines.push(`| \`${s.name}\` | \`${s.flag}\` | ${def} | ${s.description} |`);
  }
  return lines.join("\n");
}

/** Usage text for `--help`. */
export function renderUsage(): string {
  const width = Math.max(...settings.map((s) => s.flag.length));
  const lines = ["Usage: npm start -- [--flag value]...", "", "Every flag has an environment variable; flags win.", ""];
  for (const s of settings) {
    const def = s.defaultText !== undefined ? ` (default: ${s.defaultText})` : s.defaultValue === "" ? "" : ` (default ${s.defaultValue})`;
    lines.push(`  ${s.flag.padEnd(width)}  ${s.name}${def}`);
  }
  return lines.join("\n");
}

type Source = Readonly<Record<string, string | undefined>>;

/**
 * Reads command-line overrides: `--name value` or `--name=value`. Unknown
 * flags and flags without a value are errors, so that a typo is not ignored.
 */
export function parseArgs(argv: readonly string[]): Record<string, string> {
  const byFlag = new Map(settings.map((s) => [s.flag, s.name]));
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const name = byFlag.get(flag);
    if (name === undefined) {
      throw new ConfigError(`${arg}: unknown command-line argument (see --help)`);
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new ConfigError(`${flag}: missing value`);
    out[name] = value;
  }
  return out;
}

/** What the machine offers that the defaults depend on. */
export interface MachineFacts {
  /** The machine has IPv6 (an IPv6 loopback address): listen on `::1` / `::` too. */
  readonly ipv6: boolean;
}

/** This machine's facts: IPv6 when the loopback interface has `::1` (it has not where IPv6 is disabled). */
export function machineFacts(): MachineFacts {
  const addresses = Object.values(networkInterfaces()).flat();
  return { ipv6: addresses.some((address) => address?.family === "IPv6" && address.internal) };
}

/**
 * Where the doors listen without ROSTER_HOST. Development mode accepts tokens
 * anyone can mint with `npm run token` (and the roster_admin claim), so it
 * stays on loopback; with a configured key the service is meant to be
 * reached, on every interface. `::` accepts IPv4 connections too (Node binds
 * it dual-stack).
 */
export function defaultListenHosts(developmentMode: boolean, machine: MachineFacts): readonly string[] {
  if (developmentMode) return machine.ipv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
  return [machine.ipv6 ? "::" : "0.0.0.0"];
}

/**
 * Separates configuration flags (`--data-dir DIR`, `--jwt-secret=S`) from a
 * command's own arguments, so that a command beside `npm start` (`npm run
 * token`) reads its configuration with the same flags, through `loadConfig`.
 * A configuration flag missing its value is kept, for `loadConfig` to report.
 */
export function splitConfigArgs(argv: readonly string[]): { readonly config: string[]; readonly rest: string[] } {
  const flags = new Set(settings.map((s) => s.flag));
  const config: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (!flags.has(flag)) rest.push(arg);
    else if (flag !== arg) config.push(arg);
    else {
      config.push(...argv.slice(i, i + 2));
      i++;
    }
  }
  return { config, rest };
}

/**
 * Builds the configuration from the environment and command-line overrides,
 * validating every value. Throws ConfigError naming the variable and the
 * problem (all problems, one per line, so a broken deployment is fixed in one go).
 */
export function loadConfig(env: Source = process.env, argv: readonly string[] = [], machine: MachineFacts = machineFacts()): RosterConfig {
  const overrides = parseArgs(argv);
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const value = overrides[name] ?? env[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  /** Runs one parser, collecting its problem instead of stopping at the first. */
  const read = <T>(name: string, fallback: T, parse: (value: string) => T): T => {
    const value = raw(name);
    if (value === undefined) return fallback;
    try {
      return parse(value);
    } catch (error) {
      const where = name in overrides ? `${name} (${flagOf(name)})` : name;
      problems.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
      return fallback;
    }
  };

  const mongodbUri = read<string | undefined>("MONGODB_URI", undefined, parseMongoUri);
  const dataDir = read("ROSTER_DATA_DIR", resolve("./data"), (v) => resolve(v));
  const host = read<string | undefined>("ROSTER_HOST", undefined, parseHost);
  const grpcPort = read("ROSTER_GRPC_PORT", 50051, parsePort);
  const httpPort = read("ROSTER_HTTP_PORT", 8080, parsePort);
  const secret = read<string | undefined>("ROSTER_JWT_SECRET", undefined, parseSecret);
  const jwksUrl = read<URL | undefined>("ROSTER_JWKS_URL", undefined, parseHttpUrl);
  const publicKey = read<string | undefined>("ROSTER_JWT_PUBLIC_KEY", undefined, parsePublicKey);
  const jwtIssuer = read<string | undefined>("ROSTER_JWT_ISSUER", undefined, (v) => v);
  const jwtAudience = read<string | undefined>("ROSTER_JWT_AUDIENCE", undefined, (v) => v);
  const signingKeyPem = read<string | undefined>("ROSTER_SIGNING_KEY", undefined, parseSigningKey);
  const signingKeyId = read<string | undefined>("ROSTER_SIGNING_KEY_ID", undefined, (v) => v);
  const groupTokenIssuer = read("ROSTER_GROUP_TOKEN_ISSUER", "roster", (v) => v);
  const maxTtlSeconds = read("ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS", 3600, (v) => parseInteger(v, 1, 31 * 86_400));
  const defaultTtlSeconds = read("ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS", Math.min(900, maxTtlSeconds), (v) =>
    parseInteger(v, 1, 31 * 86_400),
  );
  const admins = read<readonly string[]>("ROSTER_ADMINS", [], parseAdmins);
  const creatorGroupId = read<string | undefined>("ROSTER_CREATOR_GROUP", undefined, parseGroupId);
  const logLevel = read<LogLevel>("ROSTER_LOG_LEVEL", "info", parseLogLevel);
  const corsOrigins = read<readonly string[]>("ROSTER_CORS_ORIGINS", [], parseOrigins);
  const maxMessageBytes = read("ROSTER_MAX_MESSAGE_BYTES", 4 * MiB, (v) => parseInteger(v, 1024, 2 ** 31 - 1));
  const shutdownGraceMs = read("ROSTER_SHUTDOWN_GRACE_MS", 10_000, (v) => parseInteger(v, 0, 3_600_000));
  const grpcCert = read<string | undefined>("ROSTER_GRPC_TLS_CERT", undefined, parseReadableFile);
  const grpcKey = read<string | undefined>("ROSTER_GRPC_TLS_KEY", undefined, parseReadableFile);
  const grpcClientCaPath = read<string | undefined>("ROSTER_GRPC_CLIENT_CA", undefined, parseReadableFile);
  const grpcClientCertIdentity = read<ClientCertIdentity>("ROSTER_GRPC_CLIENT_CERT_IDENTITY", "none", parseClientCertIdentity);
  const httpCert = read<string | undefined>("ROSTER_HTTP_TLS_CERT", undefined, parseReadableFile);
  const httpKey = read<string | undefined>("ROSTER_HTTP_TLS_KEY", undefined, parseReadableFile);
  const benchNoop = read("ROSTER_BENCH_NOOP", false, parseBoolean);
  const expirySweep: ExpirySweepSettings = {
    intervalMs: read("ROSTER_EXPIRY_SWEEP_INTERVAL_MS", 60_000, (v) => parseInteger(v, 0, 86_400_000)),
    batchSize: read("ROSTER_EXPIRY_SWEEP_BATCH", 500, (v) => parseInteger(v, 1, 5_000)),
  };
  const invitationTtlDays = read("ROSTER_INVITATION_TTL_DAYS", DEFAULT_INVITATION_TTL_DAYS, (v) => parseInteger(v, 1, 365));
  const batchLimits: BatchLimits = {
    ...defaultBatchLimits,
    maxOperations: read("ROSTER_BATCH_MAX_OPERATIONS", defaultBatchLimits.maxOperations, (v) => parseInteger(v, 1, 1_000_000_000)),
    maxDurationMs: read("ROSTER_BATCH_MAX_DURATION_MS", defaultBatchLimits.maxDurationMs, (v) => parseInteger(v, 1, 86_400_000)),
    idleTimeoutMs: read("ROSTER_BATCH_IDLE_TIMEOUT_MS", defaultBatchLimits.idleTimeoutMs, (v) => parseInteger(v, 1, 86_400_000)),
    chunkSize: read("ROSTER_BATCH_CHUNK_SIZE", defaultBatchLimits.chunkSize, (v) => parseInteger(v, 1, 5_000)),
  };
  const changeSettings: ChangeSettings = {
    historyRetentionDays: read("ROSTER_HISTORY_RETENTION_DAYS", defaultChangeSettings.historyRetentionDays, (v) =>
      parseInteger(v, 0, 36_500),
    ),
    changeReadersGroupId: read<string | undefined>("ROSTER_CHANGE_READERS", undefined, parseGroupId),
    checkpointIntervalMs: read("ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS", defaultChangeSettings.checkpointIntervalMs, (v) =>
      parseInteger(v, 100, 60_000),
    ),
  };
  const tracing = readTracingConfig(read);
  const readModelOn = read("ROSTER_READ_MODEL", true, parseBoolean);
  const readModelSettings: ReadModelSettings = {
    maxLagMs: read("ROSTER_READ_MODEL_MAX_LAG_MS", defaultReadModelSettings.maxLagMs, (v) => parseInteger(v, 100, 3_600_000)),
    cachedMemberships: read("ROSTER_READ_MODEL_CACHED_MEMBERSHIPS", defaultReadModelSettings.cachedMemberships, (v) =>
      parseInteger(v, 0, 1_000_000_000),
    ),
  };

  const keySources = [
    secret === undefined ? undefined : "ROSTER_JWT_SECRET",
    jwksUrl === undefined ? undefined : "ROSTER_JWKS_URL",
    publicKey === undefined ? undefined : "ROSTER_JWT_PUBLIC_KEY",
  ].filter((name) => name !== undefined);
  if (keySources.length > 1) {
    problems.push(`${keySources.join(", ")}: set only one way of verifying tokens`);
  }
  const grpcTls = pairTls("ROSTER_GRPC_TLS_CERT", grpcCert, "ROSTER_GRPC_TLS_KEY", grpcKey, problems);
  const httpTls = pairTls("ROSTER_HTTP_TLS_CERT", httpCert, "ROSTER_HTTP_TLS_KEY", httpKey, problems);
  if (defaultTtlSeconds > maxTtlSeconds) {
    problems.push(`ROSTER_GROUP_TOKEN_DEFAULT_TTL_SECONDS: must be at most ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS (${maxTtlSeconds})`);
  }
  if (grpcClientCaPath !== undefined && grpcTls === undefined) {
    problems.push(
      "ROSTER_GRPC_CLIENT_CA: client certificates need TLS on the gRPC door (set ROSTER_GRPC_TLS_CERT and ROSTER_GRPC_TLS_KEY)",
    );
  }
  if (grpcClientCertIdentity !== "none" && grpcClientCaPath === undefined) {
    problems.push("ROSTER_GRPC_CLIENT_CERT_IDENTITY: needs ROSTER_GRPC_CLIENT_CA (only verified certificates can identify a caller)");
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }

  const jwtKey: JwtKeySource =
    secret !== undefined
      ? { kind: "secret", secret }
      : jwksUrl !== undefined
        ? { kind: "jwks", url: jwksUrl }
        : publicKey !== undefined
          ? { kind: "public-key", pem: publicKey }
          : { kind: "development" };
  const hosts = host === undefined ? defaultListenHosts(jwtKey.kind === "development", machine) : [host];

  return {
    mongodbUri,
    dataDir,
    hosts,
    loopbackByDefault: host === undefined && jwtKey.kind === "development",
    grpcPort,
    httpPort,
    jwtKey,
    jwtIssuer,
    jwtAudience,
    signingKeyPem,
    signingKeyId,
    groupTokenIssuer,
    groupTokenLimits: { defaultTtlSeconds, maxTtlSeconds },
    admins,
    creatorGroupId,
    logLevel,
    corsOrigins,
    maxMessageBytes,
    shutdownGraceMs,
    grpcTls,
    httpTls,
    grpcClientCaPath,
    grpcClientCertIdentity,
    benchNoop,
    batchLimits,
    expirySweep,
    invitationTtlDays,
    changeSettings,
    tracing,
    readModel: readModelOn ? readModelSettings : false,
  };
}

/**
 * The OTEL_* settings: tracing is on when an OTLP endpoint or a traces
 * exporter other than `none` is set, and OTEL_SDK_DISABLED is not true.
 */
function readTracingConfig(read: <T>(name: string, fallback: T, parse: (value: string) => T) => T): TracingConfig | undefined {
  const endpoint = read<string | undefined>("OTEL_EXPORTER_OTLP_ENDPOINT", undefined, (v) => parseHttpUrl(v).href);
  const tracesEndpoint = read<string | undefined>("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", undefined, (v) => parseHttpUrl(v).href);
  const protocol = read<OtlpProtocol>("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", (v) => parseOneOf(v, otlpProtocols));
  const exporter = read<"otlp" | "console" | "none" | undefined>("OTEL_TRACES_EXPORTER", undefined, (v) =>
    parseOneOf(v, ["otlp", "console", "none"] as const),
  );
  const serviceName = read<string | undefined>("OTEL_SERVICE_NAME", undefined, (v) => v);
  const sampler = read<TraceSampler>("OTEL_TRACES_SAMPLER", "parentbased_always_on", (v) => parseOneOf(v, traceSamplers));
  const samplerRatio = read("OTEL_TRACES_SAMPLER_ARG", 1, parseRatio);
  const disabled = read("OTEL_SDK_DISABLED", false, parseBoolean);
  const on = exporter === undefined ? endpoint !== undefined || tracesEndpoint !== undefined : exporter !== "none";
  if (disabled || !on) return undefined;
  return {
    exporter: exporter === "console" ? "console" : "otlp",
    protocol,
    url: tracesEndpoint ?? (endpoint === undefined ? undefined : tracesUrlOf(endpoint, protocol)),
    serviceName,
    sampler,
    samplerRatio,
  };
}

/** OTLP/HTTP appends the signal's path to the base endpoint; OTLP/gRPC uses it as is. */
function tracesUrlOf(endpoint: string, protocol: OtlpProtocol): string {
  return protocol === "grpc" ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`;
}

function parseOneOf<const T extends string>(value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value.toLowerCase());
  if (found === undefined) throw new Error(`must be one of ${allowed.join(", ")}, got "${value}"`);
  return found;
}

function parseRatio(value: string): number {
  const n = Number(value);
  if (value === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`must be a number from 0 to 1, got "${value}"`);
  return n;
}

function pairTls(
  certName: string,
  cert: string | undefined,
  keyName: string,
  key: string | undefined,
  problems: string[],
): TlsFiles | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined) {
    problems.push(`${certName}: required when ${keyName} is set`);
    return undefined;
  }
  if (key === undefined) {
    problems.push(`${keyName}: required when ${certName} is set`);
    return undefined;
  }
  return { certPath: cert, keyPath: key };
}

function parseMongoUri(value: string): string {
  if (!/^mongodb(\+srv)?:\/\/\S+$/.test(value)) {
    throw new Error("must start with mongodb:// or mongodb+srv://");
  }
  return value;
}

function parseHost(value: string): string {
  if (/\s/.test(value)) throw new Error(`must be a host name or IP address, got "${value}"`);
  return value;
}

function parsePort(value: string): number {
  return parseInteger(value, 0, 65535);
}

function parseInteger(value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value)) throw new Error(`must be a whole number between ${min} and ${max}, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${value}`);
  return n;
}

function parseBoolean(value: string): boolean {
  const v = value.toLowerCase();
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no") return false;
  throw new Error(`must be true or false, got "${value}"`);
}

function parseSecret(value: string): string {
  // The problem names the length only, never the secret.
  const problem = hs256SecretProblem(value);
  if (problem !== undefined) throw new Error(problem);
  return value;
}

function parseHttpUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`must be an http(s) URL, got "${value}"`);
  }
  return url;
}

/** Inline PEM text, or the path of a PEM file (read now so a bad path fails at start). */
function parsePublicKey(value: string): string {
  const pem = value.includes("-----BEGIN") ? value : readText(value);
  if (!/-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----/.test(pem)) {
    throw new Error("must be a PEM public key (-----BEGIN PUBLIC KEY-----) or the path of a file holding one");
  }
  return pem;
}

function parseSigningKey(value: string): string {
  const pem = value.includes("-----BEGIN") ? value : readText(value);
  let key;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new Error("must be a PEM private key (-----BEGIN PRIVATE KEY-----) or the path of a file holding one", { cause: error });
  }
  signingAlgorithmOf(key);
  return pem;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read file "${path}": ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

function parseReadableFile(value: string): string {
  const path = resolve(value);
  try {
    accessSync(path, fsConstants.R_OK);
  } catch (error) {
    throw new Error(`cannot read file "${value}": ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  return path;
}

const principalPattern = /^(user|service):[^\s\p{Cc}]{1,256}$/u;

function parseAdmins(value: string): readonly string[] {
  const entries = splitList(value);
  for (const entry of entries) {
    if (!principalPattern.test(entry)) {
      throw new Error(`"${entry}" is not a user:<id> or service:<id> principal`);
    }
  }
  return entries;
}

function parseGroupId(value: string): string {
  const id = value.startsWith("group:") ? value.slice("group:".length) : value;
  if (!/^[^\s\p{Cc}]{1,256}$/u.test(id)) throw new Error(`must be a group id, got "${value}"`);
  return id;
}

function parseLogLevel(value: string): LogLevel {
  return parseOneOf(value, logLevels);
}

function parseOrigins(value: string): readonly string[] {
  const origins = splitList(value);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed?.origin !== origin || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new Error(`"${origin}" is not an origin like https://app.example.com (scheme, host, optional port; no path or trailing slash)`);
    }
  }
  return origins;
}

function parseClientCertIdentity(value: string): ClientCertIdentity {
  if (value === "none" || value === "service-cn") return value;
  throw new Error(`must be "none" or "service-cn", got "${value}"`);
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
