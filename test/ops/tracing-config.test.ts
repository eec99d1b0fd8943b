/**
 * Tracing configured the OpenTelemetry way: the OTEL_* variables (and their
 * flags) turn it on and off and pick exporter, protocol, endpoint, sampler
 * and service name, with a problem naming the variable; and a server started
 * with OTEL_EXPORTER_OTLP_ENDPOINT really sends its spans there — to a
 * stand-in collector on a free port, over OTLP/HTTP with JSON and with
 * protobuf — at the latest when it stops.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { startTestRoster } from "../fixtures/roster-in-process.ts";

function tracingOf(env: Record<string, string>, argv: string[] = []): ReturnType<typeof loadConfig>["tracing"] {
  return loadConfig(env, argv, { ipv6: false }).tracing;
}

function problemOf(env: Record<string, string>): string {
  try {
    loadConfig(env, [], { ipv6: false });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("OTEL_* configuration", () => {
  it("is off by default, and with an exporter of none or OTEL_SDK_DISABLED", () => {
    expect(tracingOf({})).toBeUndefined();
    expect(tracingOf({ OTEL_SERVICE_NAME: "x", OTEL_TRACES_SAMPLER: "always_on" })).toBeUndefined();
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
  });

  it("is on with an endpoint: spans go to its /v1/traces over OTLP/HTTP protobuf, sampled parent-based", () => {
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })).toEqual({
      exporter: "otlp",
      protocol: "http/protobuf",
      url: "http://collector:4318/v1/traces",
      serviceName: undefined,
      sampler: "parentbased_always_on",
      samplerRatio: 1,
    });
  });

  it("uses a gRPC endpoint and a traces endpoint as they are, the traces one first", () => {
    expect(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toMatchObject({
      protocol: "grpc",
      url: "http://collector:4317/",
    });
    expect(
      tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://b/custom/path" }),
    ).toMatchObject({ url: "https://b/custom/path" });
  });

  it("is on with OTEL_TRACES_EXPORTER alone (the exporter's default endpoint), or console", () => {
    expect(tracingOf({ OTEL_TRACES_EXPORTER: "otlp" })).toMatchObject({ exporter: "otlp", url: undefined });
    expect(tracingOf({ OTEL_TRACES_EXPORTER: "console" })).toMatchObject({ exporter: "console" });
  });

  it("reads the service name, sampler and ratio, also from flags", () => {
    expect(
      tracingOf({
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_SERVICE_NAME: "roster-eu",
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.25",
      }),
    ).toMatchObject({ serviceName: "roster-eu", sampler: "parentbased_traceidratio", samplerRatio: 0.25 });
    expect(tracingOf({}, ["--otel-exporter-otlp-endpoint", "http://c:4318", "--otel-service-name=flagged"])).toMatchObject({
      url: "http://c:4318/v1/traces",
      serviceName: "flagged",
    });
  });

  it("refuses a bad value with a message naming the variable", () => {
    expect(problemOf({ OTEL_TRACES_SAMPLER: "jaeger_remote" })).toContain(
      'OTEL_TRACES_SAMPLER: must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, got "jaeger_remote"',
    );
    expect(problemOf({ OTEL_TRACES_SAMPLER_ARG: "1.5" })).toContain('OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1, got "1.5"');
    expect(problemOf({ OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" })).toContain(
      'OTEL_EXPORTER_OTLP_PROTOCOL: must be one of http/protobuf, http/json, grpc, got "thrift"',
    );
    expect(problemOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" })).toContain(
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL, got "collector:4318"',
    );
    expect(problemOf({ OTEL_TRACES_EXPORTER: "zipkin" })).toContain(
      'OTEL_TRACES_EXPORTER: must be one of otlp, console, none, got "zipkin"',
    );
  });
});

interface Received {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

/** An HTTP server standing in for an OpenTelemetry collector: records every request, answers 200 with an empty body. */
async function startCollector(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "", body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/json" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

describe("a server with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  let mongo: TestMongo;

  beforeAll(async () => {
    mongo = await startTestMongo();
  });

  afterAll(async () => {
    await mongo.stop();
  });

  it.each([
    ["http/json", "application/json"],
    ["http/protobuf", "application/x-protobuf"],
  ])("sends its spans to the collector over OTLP %s", async (protocol, contentType) => {
    const collector = await startCollector();
    try {
      const roster = await startTestRoster({
        mongoUri: mongo.uri,
        dbName: uniqueDbName("otlp"),
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_SERVICE_NAME: "roster-under-test" },
      });
      const traceId = randomBytes(16).toString("hex");
      try {
        expect(roster.logs().find((l) => l["msg"] === "tracing on")).toMatchObject({ protocol, url: `${collector.url}/v1/traces` });
        const token = await roster.token("alice");
        await roster.client.groups.listGroups(
          {},
          { token, metadata: { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` } },
        );
      } finally {
        await roster.stop();
      }
      expect(collector.received.length).toBeGreaterThan(0);
      for (const request of collector.received) {
        expect(request.path).toBe("/v1/traces");
        expect(request.contentType).toBe(contentType);
      }
      const bodies = Buffer.concat(collector.received.map((r) => r.body));
      expect(bodies.includes("roster.v1.GroupService/ListGroups")).toBe(true);
      expect(bodies.includes("roster-under-test")).toBe(true);
      if (protocol === "http/json") {
        const spans = collector.received.flatMap((r) =>
          (
            JSON.parse(r.body.toString("utf8")) as { resourceSpans: { scopeSpans: { spans: { name: string; traceId: string }[] }[] }[] }
          ).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
        );
        expect(spans.find((span) => span.name === "roster.v1.GroupService/ListGroups")?.traceId).toBe(traceId);
      } else {
        expect(bodies.includes(Buffer.from(traceId, "hex"))).toBe(true);
      }
    } finally {
      await new Promise((resolve) => collector.server.close(resolve));
    }
  });
});
