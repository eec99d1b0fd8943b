/**
 * A complete Roster for door-level tests, started exactly as `npm start`
 * starts it (`startRoster` from src/server.ts, through test/support's
 * in-process test server): the real app over a real MongoDB (embedded, or
 * MONGODB_URI), the real JWT verifier and RPC pipeline, and both doors —
 * gRPC (with health and reflection) and web — on free ports of 127.0.0.1.
 */
import type { RosterMetrics } from "../../../src/ops/metrics.ts";
import { startTestMongo, uniqueDbName } from "../../support/mongo.ts";
import { startTestRoster } from "../../support/roster-server.ts";

export interface RosterStackOptions {
  /** ROSTER_CORS_ORIGINS: browser origins allowed on the web door. */
  readonly corsOrigins?: readonly string[];
  readonly admins?: readonly string[];
}

export interface RosterStack {
  /** `127.0.0.1:PORT` of the gRPC door. */
  readonly grpcAddress: string;
  /** `http://127.0.0.1:PORT` of the web door. */
  readonly webUrl: string;
  readonly metrics: RosterMetrics;
  /** A valid bearer token for `user:<subject>` (or `service:<subject>`); a negative ttl makes it expired. */
  token(subject: string, options?: { service?: boolean; ttlSeconds?: number }): Promise<string>;
  /** The server's log lines so far, parsed. */
  logs(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startRosterStack(options: RosterStackOptions = {}): Promise<RosterStack> {
  const mongo = await startTestMongo();
  try {
    const roster = await startTestRoster({
      mongoUri: mongo.uri,
      dbName: uniqueDbName("web_doors"),
      admins: options.admins ?? [],
      env: { ROSTER_CORS_ORIGINS: (options.corsOrigins ?? []).join(",") },
    });
    return {
      grpcAddress: roster.address,
      webUrl: roster.server.httpUrl,
      metrics: roster.server.metrics,
      token: (subject, tokenOptions = {}) =>
        roster.token(subject, {
          ttlSeconds: tokenOptions.ttlSeconds ?? 3600,
          ...(tokenOptions.service === true ? { service: true } : {}),
        }),
      logs: () => roster.logs(),
      stop: async () => {
        await roster.stop();
        await mongo.stop();
      },
    };
  } catch (error) {
    await mongo.stop();
    throw error;
  }
}
