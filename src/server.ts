/**
 * Wires one Roster process from a validated configuration: the store
 * (MONGODB_URI, or the embedded store in ROSTER_DATA_DIR as a development
 * default), the app, the JWT verifier (a generated development key when no
 * auth is configured, announced loudly), the shared RPC pipeline, and both
 * doors over the same `pipeline` and `services`: gRPC (grpc-js, with health
 * and reflection) and web (connect-node: Connect, gRPC-web, /healthz,
 * /readyz, /metrics); with OTEL_* tracing configured, a span per call and
 * per database command.
 */
import { join } from "node:path";
import type { SpanExporter } from "@opentelemetry/sdk-trace-node";
import type { DestinationStream, Logger } from "pino";
import { createCertificateCaller } from "./auth/certificate-caller.ts";
import { createJwtVerifier, type JwtVerifierOptions } from "./auth/jwt-verifier.ts";
import { loadOrCreateDevSecret } from "./auth/dev-key.ts";
import { startExpirySweeper } from "./app/index.ts";
import { createGroupTokenSigner, generateSigningKey, jwksOf, signingKeyFromPem, type SigningKey } from "./auth/signing-key.ts";
import { createRosterApp } from "./app/roster-app.ts";
import type { ReadModelStatus, RosterApp } from "./app/index.ts";
import type { RosterConfig } from "./config.ts";
import { createRosterServices } from "./handlers/index.ts";
import { createHealthMonitor } from "./ops/health.ts";
import { createMetrics, type RosterMetrics } from "./ops/metrics.ts";
import { metricsInterceptorFor } from "./ops/metrics-interceptor.ts";
import { addReflection } from "./ops/reflection.ts";
import type { Tracing } from "./ops/tracing.ts";
import { createTracingInterceptor } from "./ops/tracing-interceptor.ts";
import { createRootLogger } from "./rpc/logger.ts";
import { createRpcPipeline } from "./rpc/pipeline.ts";
import { closeDatabase, connectDatabase, createDatabase, pingDatabase } from "./storage/database.ts";
import { observePool } from "./storage/pool-events.ts";
import { startWebDoor } from "./transport/connect/web-door.ts";
import { startGrpcDoor } from "./transport/grpc/grpc-door.ts";

/** How often each replica deletes the history records past ROSTER_HISTORY_RETENTION_DAYS. */
const historySweepIntervalMs = 3_600_000;

export interface StartRosterOptions {
  /** Where log lines go (tests capture them); default stdout. */
  readonly logDestination?: DestinationStream;
  /**
   * Tests: trace every call into this exporter (an in-memory one), with the
   * configured sampler and service name or the defaults, whether or not
   * OTEL_* turns tracing on.
   */
  readonly spanExporter?: SpanExporter;
}

/** A running Roster process. */
export interface RosterServer {
  readonly grpcPort: number;
  /** The web door (Connect, gRPC-web, health, metrics). */
  readonly httpPort: number;
  /** Base URL of the web door, e.g. `http://127.0.0.1:8080`. */
  readonly httpUrl: string;
  readonly logger: Logger;
  readonly app: RosterApp;
  readonly metrics: RosterMetrics;
  /**
   * Graceful stop (idempotent): health turns NOT_SERVING, new calls are
   * refused, in-flight calls get ROSTER_SHUTDOWN_GRACE_MS, then the database
   * client (and the embedded store, if started here) closes.
   */
  stop(): Promise<void>;
}

/** Starts everything; on failure, whatever was started is stopped again before rethrowing. */
export async function startRoster(config: RosterConfig, options: StartRosterOptions = {}): Promise<RosterServer> {
  const logger = createRootLogger(
    options.logDestination === undefined ? { level: config.logLevel } : { level: config.logLevel, destination: options.logDestination },
  );
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        logger.warn({ err: error }, "error while stopping");
      }
    }
    cleanups.length = 0;
  };

  try {
    const tracing = await startTracingIfWanted(config, options.spanExporter, logger, cleanups);
    const uri = await storeUri(config, logger, cleanups);
    const metrics = createMetrics();
    const database = createDatabase(uri, { serverSelectionTimeoutMs: 10_000, appName: "roster", monitorCommands: tracing !== undefined });
    const unobservePool = observePool(database, metrics.recordPoolEvent);
    const untraceCommands =
      tracing === undefined ? undefined : (await import("./ops/mongo-tracing.ts")).traceMongoCommands(database, tracing.tracer);
    cleanups.push(() => {
      unobservePool();
      untraceCommands?.();
      return Promise.resolve();
    });
    await connectDatabase(database);
    cleanups.push(() => closeDatabase(database));

    const signingKey = await loadSigningKey(config, logger);
    const app = await createRosterApp({
      database,
      logger: logger.child({ component: "app" }),
      batchLimits: config.batchLimits,
      invitationTtlDays: config.invitationTtlDays,
      changeSettings: config.changeSettings,
      readModel: config.readModel,
      ...(config.creatorGroupId === undefined ? {} : { creatorGroupId: config.creatorGroupId }),
      ...(signingKey === undefined
        ? {}
        : { groupTokenSigner: createGroupTokenSigner(signingKey, config.groupTokenIssuer, config.groupTokenLimits) }),
    });
    const sweeper = startExpirySweeper(app.expiry, config.expirySweep, logger.child({ component: "expiry" }));
    cleanups.push(() => sweeper.stop());
    const stopRetention = app.changes.retention.start(historySweepIntervalMs);
    cleanups.push(stopRetention);
    // Runs before the database closes (cleanups run in reverse).
    cleanups.push(() => app.close());
    const readModel = app.readModel;
    if (readModel !== undefined) metrics.observeReadModel(() => readModel.status());
    const verifier = createJwtVerifier(await verifierOptions(config, logger));
    const services = createRosterServices(app);
    const pipeline = createRpcPipeline({
      logger,
      verifier,
      access: app.access,
      services: services.map((s) => s.service),
      observers:
        tracing === undefined ? [metricsInterceptorFor(metrics)] : [createTracingInterceptor(tracing), metricsInterceptorFor(metrics)],
      certificateCaller: config.grpcClientCertIdentity === "service-cn" ? createCertificateCaller(config.admins) : undefined,
    });

    const health = createHealthMonitor({
      ping: () => pingDatabase(database),
      log: logger.child({ component: "health" }),
    });
    cleanups.push(() => {
      health.stop();
      return Promise.resolve();
    });
    const grpc = await startGrpcDoor({
      hosts: config.hosts,
      port: config.grpcPort,
      pipeline,
      services,
      maxMessageBytes: config.maxMessageBytes,
      tls:
        config.grpcTls === undefined
          ? undefined
          : {
              ...config.grpcTls,
              clientCaPath: config.grpcClientCaPath,
              readClientCertificate: config.grpcClientCertIdentity === "service-cn",
            },
      benchNoop: config.benchNoop,
      register: (server) => {
        health.register(server);
        addReflection(server);
      },
    });
    // Registered before the web door starts, so a web door that fails to
    // start (say, its port is taken) does not leave the gRPC door running.
    const doors: { close(graceMs: number): Promise<void> }[] = [grpc];
    // Both doors drain in parallel within the same grace period.
    cleanups.push(() => Promise.all(doors.map((door) => door.close(config.shutdownGraceMs))).then(() => undefined));
    const jwks = signingKey === undefined ? { keys: [] } : jwksOf(signingKey);
    const readDetail = (): string => (readModel === undefined ? "reads: database (read model off)" : describeReadModel(readModel.status()));
    const web = await startWebDoor({
      services,
      pipeline,
      config,
      health: { isReady: () => health.isReady(), readDetail },
      metrics,
      jwks,
      logger: logger.child({ component: "web-door" }),
    });
    doors.push(web);
    // First at shutdown: change watches never end by themselves, so they end
    // (UNAVAILABLE: resume from the last token) instead of holding the drain.
    cleanups.push(() => {
      app.changes.closeWatches();
      return Promise.resolve();
    });
    await health.probeNow();
    logger.info({ grpcPort: grpc.port, hosts: config.hosts, benchNoop: config.benchNoop }, "roster gRPC door listening");
    logger.info({ httpPort: web.port, url: web.url, hosts: config.hosts, corsOrigins: config.corsOrigins }, "roster web door listening");
    if (config.loopbackByDefault) {
      logger.info(
        { hosts: config.hosts },
        `development mode: both doors listen on loopback only (${config.hosts.join(", ")}). To expose them, set ROSTER_HOST ` +
          "(ROSTER_HOST=:: for every interface, IPv4 and IPv6; ROSTER_HOST=0.0.0.0 for IPv4 only), or configure a JWT key " +
          "(ROSTER_JWT_SECRET, ROSTER_JWKS_URL or ROSTER_JWT_PUBLIC_KEY), with which every interface is the default",
      );
    }

    let stopping: Promise<void> | undefined;
    return {
      grpcPort: grpc.port,
      httpPort: web.port,
      httpUrl: web.url,
      logger,
      app,
      metrics,
      stop() {
        stopping ??= (async () => {
          logger.info({ graceMs: config.shutdownGraceMs }, "roster stopping");
          health.setShuttingDown();
          await cleanup();
          logger.info("roster stopped");
          logger.flush();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** `/readyz`'s line about the read model. */
function describeReadModel(status: ReadModelStatus): string {
  const lag = status.lagMs === undefined ? "" : `, lag ${status.lagMs} ms of ${status.maxLagMs}`;
  return status.serving
    ? `reads: read model (${status.phase}${lag})`
    : `reads: database, the read model is ${status.phase === "following" ? "lagging" : status.phase}${lag}`;
}

/**
 * Tracing when OTEL_* asks for it (or a test hands in an exporter); loaded
 * only then, so a process without tracing pays nothing for it. It stops
 * last, after the doors, so the spans of the last calls are exported.
 */
async function startTracingIfWanted(
  config: RosterConfig,
  exporter: SpanExporter | undefined,
  logger: Logger,
  cleanups: (() => Promise<void>)[],
): Promise<Tracing | undefined> {
  if (config.tracing === undefined && exporter === undefined) return undefined;
  const { defaultTracingConfig, startTracing } = await import("./ops/tracing.ts");
  const settings = config.tracing ?? defaultTracingConfig;
  const tracing = await startTracing(settings, exporter);
  cleanups.push(() => tracing.shutdown());
  logger.info(
    exporter === undefined ? { ...settings, url: settings.url ?? "(the exporter's default)" } : { exporter: "given by the caller" },
    "tracing on",
  );
  return tracing;
}

/** MONGODB_URI, or the embedded store started in-process under ROSTER_DATA_DIR. */
async function storeUri(config: RosterConfig, logger: Logger, cleanups: (() => Promise<void>)[]): Promise<string> {
  if (config.mongodbUri !== undefined) return config.mongodbUri;
  const dataDir = join(config.dataDir, "store");
  const { startEmbeddedMongo } = await import("@roster/embedded-mongo");
  const store = await startEmbeddedMongo({ port: 0, dataDir, log: logger.child({ component: "embedded-mongo" }) });
  cleanups.push(() => store.stop());
  logger.warn(
    { dataDir, uri: store.uri },
    "MONGODB_URI is not set: using the embedded store (a development default; set MONGODB_URI in production)",
  );
  return store.uri;
}

/**
 * Roster's signing key for group tokens: ROSTER_SIGNING_KEY, or in
 * development mode one generated now (said in the log); otherwise none, and
 * IssueGroupToken answers FAILED_PRECONDITION.
 */
async function loadSigningKey(config: RosterConfig, logger: Logger): Promise<SigningKey | undefined> {
  if (config.signingKeyPem !== undefined) return signingKeyFromPem(config.signingKeyPem, config.signingKeyId);
  if (config.jwtKey.kind !== "development") return undefined;
  const key = await generateSigningKey();
  logger.warn(
    { kid: key.kid },
    "development mode: group tokens are signed with a key generated at start (set ROSTER_SIGNING_KEY to keep one)",
  );
  return key;
}

/** Verifier options from the configuration; development mode generates (or reuses) a key in ROSTER_DATA_DIR. */
async function verifierOptions(config: RosterConfig, logger: Logger): Promise<JwtVerifierOptions> {
  const common = { issuer: config.jwtIssuer, audience: config.jwtAudience, admins: config.admins };
  switch (config.jwtKey.kind) {
    case "secret":
      return { ...common, hs256Secret: config.jwtKey.secret };
    case "jwks":
      return { ...common, jwksUrl: config.jwtKey.url };
    case "public-key":
      return { ...common, publicKeyPem: config.jwtKey.pem };
    case "development": {
      const dev = await loadOrCreateDevSecret(config.dataDir);
      const banner = "=".repeat(72);
      logger.warn(
        { keyFile: dev.path, created: dev.created },
        `\n${banner}\nDEVELOPMENT MODE: no ROSTER_JWT_SECRET, ROSTER_JWKS_URL or ROSTER_JWT_PUBLIC_KEY set.\n` +
          `Tokens are verified with a generated HS256 key (${dev.path}); the roster_admin claim\n` +
          `makes anyone a system administrator. Get a token (npm run token reads this server's configuration):\n` +
          `  npm run -s token -- <subject> [--admin] --data-dir ${config.dataDir}\n` +
          `NEVER run like this in production.\n${banner}`,
      );
      return { ...common, hs256Secret: dev.secret, developmentMode: true };
    }
  }
}
