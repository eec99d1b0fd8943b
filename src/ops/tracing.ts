/**
 * OpenTelemetry tracing of one Roster process: a tracer provider built from
 * the OTEL_* configuration (src/config.ts), its exporter (OTLP over
 * http/protobuf, http/json or gRPC, or the console), its sampler, and the
 * W3C trace-context and baggage propagators callers' `traceparent` /
 * `tracestate` are read with.
 *
 * Nothing here is global but the context manager (AsyncLocalStorage), which
 * the OpenTelemetry API needs to know the active span across `await`: the
 * provider is not registered as the global one, so that several servers (the
 * tests) can each have their own, and a process with tracing off never loads
 * this module (server.ts imports it only when tracing is on).
 */
import { context, type TextMapPropagator, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { TraceSampler, TracingConfig } from "../config.ts";

/** What the pipeline and the store need to make spans. */
export interface Tracing {
  readonly tracer: Tracer;
  /** Reads `traceparent`/`tracestate` (and `baggage`) from a caller's headers. */
  readonly propagator: TextMapPropagator;
  /** Ends tracing: exports the spans still buffered, then stops the exporter. */
  shutdown(): Promise<void>;
}

/** Tracing defaults for a process whose configuration names no exporter (tests handing in their own). */
export const defaultTracingConfig: TracingConfig = {
  exporter: "otlp",
  protocol: "http/protobuf",
  url: undefined,
  serviceName: undefined,
  sampler: "parentbased_always_on",
  samplerRatio: 1,
};

/**
 * Starts tracing as `config` says. `exporter` replaces the configured one
 * (tests pass an in-memory exporter); it gets each span as soon as it ends,
 * where a real exporter gets them in batches.
 */
export async function startTracing(config: TracingConfig, exporter?: SpanExporter): Promise<Tracing> {
  if (!contextManagerRegistered) {
    contextManagerRegistered = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
  const processor: SpanProcessor =
    exporter === undefined ? new BatchSpanProcessor(await exporterOf(config)) : new SimpleSpanProcessor(exporter);
  const provider = new NodeTracerProvider({
    resource: resourceOf(config),
    sampler: samplerOf(config.sampler, config.samplerRatio),
    spanProcessors: [processor],
  });
  return {
    tracer: provider.getTracer("roster"),
    propagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    shutdown: () => provider.shutdown(),
  };
}

let contextManagerRegistered = false;

/** service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES' (read by the SDK's env detector), else "roster". */
function resourceOf(config: TracingConfig) {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: "roster" }))
    .merge(detectResources({ detectors: [envDetector] }));
  return config.serviceName === undefined ? resource : resource.merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }));
}

function samplerOf(name: TraceSampler, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * The configured exporter; only the one in use is loaded. Headers, timeout,
 * compression and certificates come from the OTEL_EXPORTER_OTLP_* variables
 * the exporter reads itself.
 */
async function exporterOf(config: TracingConfig): Promise<SpanExporter> {
  if (config.exporter === "console") return new ConsoleSpanExporter();
  const options = config.url === undefined ? {} : { url: config.url };
  switch (config.protocol) {
    case "http/protobuf":
      return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter(options);
    case "http/json":
      return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter(options);
    case "grpc":
      return new (await import("@opentelemetry/exporter-trace-otlp-grpc")).OTLPTraceExporter(options);
  }
}
