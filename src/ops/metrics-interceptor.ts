/**
 * Feeds RPC metrics from inside the pipeline, as a connect interceptor, so
 * both doors are measured the same way: a call starts when it enters, and ends
 * with the status the client gets — for a stream, when its last message is
 * sent or it fails, not when the handler returns the iterable.
 *
 * Place it outermost (before the request log), so that what it counts is
 * what was sent.
 */
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { methodKey } from "../rpc/access-rules.ts";
import { callInfoKey } from "../rpc/context.ts";
import { observeStream } from "../rpc/stream-observer.ts";
import type { RpcObserver } from "./metrics.ts";

const interceptors = new WeakMap<RpcObserver, Interceptor>();

/**
 * The metrics interceptor of `observer`, always the same object for the same
 * observer, so a door can tell whether the pipeline already includes it
 * (`pipeline.interceptors.includes(...)`) and never counts a call twice.
 */
export function metricsInterceptorFor(observer: RpcObserver): Interceptor {
  let interceptor = interceptors.get(observer);
  if (interceptor === undefined) {
    interceptor = createMetricsInterceptor(observer);
    interceptors.set(observer, interceptor);
  }
  return interceptor;
}

/** The status code number a call ends with: 0 (OK) without an error. */
function codeOf(error: unknown): number {
  return error === undefined ? 0 : ConnectError.from(error).code;
}

function keepError(error: unknown): unknown {
  return error;
}

function createMetricsInterceptor(observer: RpcObserver): Interceptor {
  return (next) => async (req) => {
    const series = observer.seriesFor(
      req.contextValues.get(callInfoKey)?.door ?? "unknown",
      methodKey(req.method),
      req.method.methodKind !== "unary",
    );
    const started = series.start();
    let res;
    try {
      res = await next(req);
    } catch (error) {
      series.finish(started, codeOf(error));
      throw error;
    }
    if (!res.stream) {
      series.finish(started, 0);
      return res;
    }
    return {
      ...res,
      message: observeStream(res.message, keepError, (error) => {
        series.finish(started, codeOf(error));
      }),
    };
  };
}
