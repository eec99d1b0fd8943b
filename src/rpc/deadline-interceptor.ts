/**
 * Makes the client's deadline (and cancellation, and server shutdown) end the
 * call promptly with the abort's status — DEADLINE_EXCEEDED for a deadline —
 * even when the work below does not watch for it. The app also receives the
 * deadline and bounds its database work with it; this is the backstop. It
 * watches the door's CallAbort when the door gives one (the gRPC door: no
 * AbortSignal is made for a call that does not need one), else the request's
 * AbortSignal.
 */
import { Code, ConnectError, type Interceptor, type UnaryRequest, type StreamRequest } from "@connectrpc/connect";
import { callAbortKey, type CallAbort } from "./context.ts";

/** The status an aborted call ends with, from the abort's reason. */
export function abortStatus(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") return new ConnectError("deadline exceeded", Code.DeadlineExceeded);
  return new ConnectError("the call was cancelled", Code.Canceled);
}

/** `req`'s end as a CallAbort: the door's, or one over the request's AbortSignal. */
function callAbortOf(req: UnaryRequest | StreamRequest): CallAbort {
  const door = req.contextValues.get(callAbortKey);
  if (door !== undefined) return door;
  const signal = req.signal;
  return {
    get reason(): unknown {
      const reason: unknown = signal.reason;
      return signal.aborted ? (reason ?? new Error("aborted")) : undefined;
    },
    whenAborted(listener) {
      const onAbort = (): void => {
        listener(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      return () => {
        signal.removeEventListener("abort", onAbort);
      };
    },
  };
}

/**
 * `work`'s outcome, or a rejection with `toError(reason)` as soon as `abort`
 * ends first: through a `whenAborted` listener (what a CallAbort without its
 * own `race` gets).
 */
export function raceWithListener<T>(abort: CallAbort, work: Promise<T>, toError: (reason: unknown) => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const stop = abort.whenAborted((reason) => {
      reject(toError(reason));
    });
    work.then(
      (res) => {
        stop();
        resolve(res);
      },
      (error: unknown) => {
        stop();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export function createDeadlineInterceptor(): Interceptor {
  return (next) => (req) => {
    const abort = callAbortOf(req);
    if (abort.reason !== undefined) return Promise.reject(abortStatus(abort.reason));
    return abort.race !== undefined ? abort.race(next(req), abortStatus) : raceWithListener(abort, next(req), abortStatus);
  };
}
