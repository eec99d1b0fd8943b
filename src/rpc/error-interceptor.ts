/**
 * Applies the one error mapping (error-mapping.ts) to everything the inner
 * steps and the handler throw, including errors raised while a response
 * stream is being produced.
 */
import type { Interceptor } from "@connectrpc/connect";
import { loggerOf } from "./context.ts";
import { toConnectError } from "./error-mapping.ts";
import { observeStream } from "./stream-observer.ts";

export function createErrorMappingInterceptor(): Interceptor {
  return (next) => async (req) => {
    const map = (error: unknown): unknown => toConnectError(error, loggerOf(req), req.signal);
    let res;
    try {
      res = await next(req);
    } catch (error) {
      throw map(error);
    }
    if (!res.stream) return res;
    return { ...res, message: observeStream(res.message, map, () => undefined) };
  };
}
