/**
 * A complete Roster for door-level tests: the real app over a real MongoDB
 * (embedded, or MONGODB_URI), the real JWT verifier and RPC pipeline, the same
 * handler objects served by both doors — the gRPC door (grpc-js, with health
 * and reflection) and the web door (connect-node) — on free ports.
 */
import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { pino, type Logger } from "pino";
import { GroupService } from "../../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../../gen/roster/v1/membership_service_pb.ts";
import { createRosterApp } from "../../../src/app/roster-app.ts";
import { createJwtVerifier } from "../../../src/auth/jwt-verifier.ts";
import { signHs256Token } from "../../../src/auth/token-signer.ts";
import { createRosterServices } from "../../../src/handlers/index.ts";
import { createHealthMonitor, type HealthMonitor } from "../../../src/ops/health.ts";
import { createMetrics, type RosterMetrics } from "../../../src/ops/metrics.ts";
import { addReflection } from "../../../src/ops/reflection.ts";
import { createRpcPipeline } from "../../../src/rpc/pipeline.ts";
import { startGrpcDoor, type GrpcDoor } from "../../../src/transport/grpc/grpc-door.ts";
import { startWebDoor, type WebDoor } from "../../../src/transport/connect/web-door.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../../support/mongo.ts";

export interface RosterStackOptions {
  /** Browser origins allowed on the web door. */
  readonly corsOrigins?: readonly string[];
  /** Default 4 MiB, as in production. */
  readonly maxMessageBytes?: number;
  readonly admins?: readonly string[];
  readonly logger?: Logger;
}

export interface RosterStack {
  /** `127.0.0.1:PORT` of the gRPC door. */
  readonly grpcAddress: string;
  /** `http://127.0.0.1:PORT` of the web door. */
  readonly webUrl: string;
  readonly metrics: RosterMetrics;
  readonly health: HealthMonitor;
  /** A valid bearer token for `user:<subject>` (or `service:<subject>`). */
  token(subject: string, options?: { admin?: boolean; service?: boolean; ttlSeconds?: number }): Promise<string>;
  stop(): Promise<void>;
}

export async function startRosterStack(options: RosterStackOptions = {}): Promise<RosterStack> {
  const logger = options.logger ?? pino({ level: "silent" });
  const maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const secret = randomBytes(32).toString("base64url");
  const mongo: TestMongo = await startTestMongo();
  const client = new MongoClient(mongo.uri);
  const metrics = createMetrics({ processMetrics: false });
  metrics.observeMongoPool(client);
  await client.connect();
  const db = client.db(uniqueDbName("web_doors"));
  const app = await createRosterApp({ client, db });

  const verifier = createJwtVerifier({ hs256Secret: secret, admins: options.admins ?? [] });
  const pipeline = createRpcPipeline({ logger, verifier, access: app.access, services: [GroupService, MembershipService] });
  const services = createRosterServices(app);
  const health = createHealthMonitor({
    ping: async () => {
      await db.command({ ping: 1 });
    },
    intervalMs: 1000,
    timeoutMs: 1000,
  });
  await health.probeNow();

  const grpc: GrpcDoor = await startGrpcDoor({
    host: "127.0.0.1",
    port: 0,
    pipeline,
    services,
    maxMessageBytes,
    register: (server) => {
      health.register(server);
      addReflection(server);
    },
  });
  const web: WebDoor = await startWebDoor({
    services,
    pipeline,
    config: { host: "127.0.0.1", httpPort: 0, corsOrigins: options.corsOrigins ?? [], maxMessageBytes, httpTls: undefined },
    health,
    metrics,
    logger,
  });

  return {
    grpcAddress: `127.0.0.1:${grpc.port}`,
    webUrl: web.url,
    metrics,
    health,
    token: (subject, tokenOptions = {}) =>
      signHs256Token(
        {
          subject,
          ttlSeconds: tokenOptions.ttlSeconds ?? 3600,
          ...(tokenOptions.admin === undefined ? {} : { admin: tokenOptions.admin }),
          ...(tokenOptions.service === undefined ? {} : { service: tokenOptions.service }),
        },
        secret,
      ),
    stop: async () => {
      health.setShuttingDown();
      await Promise.all([grpc.close(0), web.close(0)]);
      await client.close();
      await mongo.stop();
    },
  };
}
