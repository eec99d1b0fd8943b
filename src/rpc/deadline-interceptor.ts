/**
 * Makes the client's deadline (and cancellation, and server shutdown) end the
 * call promptly with the signal's status — DEADLINE_EXCEEDED for a deadline —
 * even when the work below does not watch the signal. The app also receives
 * the deadline and bounds its database work with it; this is the backstop.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** The status an aborted call ends with. */
export function abortStatus(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") return new ConnectError("deadline exceeded", Code.DeadlineExceeded);
  return new ConnectError("the call was cancelled", Code.Canceled);
}

export function createDeadlineInterceptor(): Interceptor {
  return (next) => (req) => {
    const signal = req.signal;
    if (signal.aborted) return Promise.reject(abortStatus(signal));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        reject(abortStatus(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      next(req).then(
        (res) => {
          signal.removeEventListener("abort", onAbort);
          resolve(res);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  };
}
