/**
 * One server span per RPC, on both doors, as the outermost step of the
 * pipeline so it sees the status the client gets. The caller's W3C
 * `traceparent`/`tracestate` (gRPC metadata or HTTP headers: both doors hand
 * them over as the request headers) make it a child of the caller's span.
 *
 * Attributes follow the OpenTelemetry RPC semantic conventions as of v1.37
 * (the experimental ones most backends read): `rpc.system` is `grpc` for gRPC
 * and gRPC-web, `connect_rpc` for the Connect protocol; `rpc.service`,
 * `rpc.method`; `rpc.grpc.status_code` (gRPC) or `rpc.connect_rpc.error_code`
 * (Connect, on errors). The span status is ERROR only for the codes that
 * mean a server fault; a client's mistake (NOT_FOUND, INVALID_ARGUMENT…)
 * leaves it unset, as the conventions say for server spans.
 *
 * The handler runs with the span active, and so does every step of a
 * response stream (the door pulls a stream's messages after this step has
 * returned), so store calls and batch chunk events land under it.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter } from "@opentelemetry/api";
import { methodKey } from "../rpc/access-rules.ts";
import { callInfoKey, traceIdKey } from "../rpc/context.ts";
import { observeStream } from "../rpc/stream-observer.ts";
import type { Tracing } from "./tracing.ts";

/** The RPC attribute names (semantic conventions v1.37; not in the package's stable set). */
export const rpcAttributes = {
  system: "rpc.system",
  service: "rpc.service",
  method: "rpc.method",
  grpcStatusCode: "rpc.grpc.status_code",
  connectErrorCode: "rpc.connect_rpc.error_code",
} as const;

/** Codes that make a server span's status ERROR (the gRPC and Connect conventions agree). */
const serverFaults: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

const headersGetter: TextMapGetter<Headers> = {
  keys: (headers) => {
    const keys: string[] = [];
    headers.forEach((_value, key) => keys.push(key));
    return keys;
  },
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** The tracing step of `tracing`. */
export function createTracingInterceptor(tracing: Pick<Tracing, "tracer" | "propagator">): Interceptor {
  return (next) => async (req) => {
    const parent = tracing.propagator.extract(ROOT_CONTEXT, req.header, headersGetter);
    const connect = req.contextValues.get(callInfoKey)?.protocol === "connect";
    const span = tracing.tracer.startSpan(
      methodKey(req.method),
      {
        kind: SpanKind.SERVER,
        attributes: {
          [rpcAttributes.system]: connect ? "connect_rpc" : "grpc",
          [rpcAttributes.service]: req.service.typeName,
          [rpcAttributes.method]: req.method.name,
        },
      },
      parent,
    );
    req.contextValues.set(traceIdKey, span.spanContext().traceId);
    const active = trace.setSpan(parent, span);
    const finish = (error: unknown): void => {
      endSpan(span, error === undefined ? undefined : ConnectError.from(error), connect);
    };

    let res;
    try {
      res = await context.with(active, () => next(req));
    } catch (error) {
      finish(error);
      throw error;
    }
    if (!res.stream) {
      finish(undefined);
      return res;
    }
    return {
      ...res,
      message: withContext(
        active,
        observeStream(res.message, (error) => error, finish),
      ),
    };
  };
}

function endSpan(span: Span, error: ConnectError | undefined, connect: boolean): void {
  const code = error?.code;
  if (!connect) span.setAttribute(rpcAttributes.grpcStatusCode, code ?? 0);
  else if (code !== undefined) span.setAttribute(rpcAttributes.connectErrorCode, codeToString(code));
  if (code !== undefined && serverFaults.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: error?.rawMessage ?? "" });
  span.end();
}

/** `source`, each step of which runs in `ctx` (whoever pulls it, from wherever). */
function withContext<T>(ctx: Context, source: AsyncIterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = context.with(ctx, () => source[Symbol.asyncIterator]());
      return {
        next: () => context.with(ctx, () => iterator.next()),
        return: (value?: unknown) =>
          context.with(ctx, () => iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: value as T })),
      };
    },
  };
}
