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
  // No closure bound to a name per call: under tsx each costs a property definition.
  return (next) => async (req) => {
    let res;
    try {
      res = await next(req);
    } catch (error) {
      throw toConnectError(error, loggerOf(req), req.signal);
    }
    if (!res.stream) return res;
    return {
      ...res,
      message: observeStream(
        res.message,
        (error) => toConnectError(error, loggerOf(req), req.signal),
        () => undefined,
      ),
    };
  };
}
