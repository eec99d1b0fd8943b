/**
 * A stream outlives the moment its credential was checked: a WatchChanges
 * stream can run for days, a batch stream for minutes. A token is checked
 * once, at the call's start, so without this step a stream would go on
 * delivering changes (or applying operations) long after its token expired,
 * to a holder the identity provider may have stopped vouching for. This step
 * ends a streaming call UNAUTHENTICATED when its caller's credential expires
 * (the instant a new call with the same token would be refused), and refuses
 * the requests a client stream sends after that instant, so no operation
 * received under an expired token is applied. The client reconnects with a
 * fresh token and resumes (WatchChanges from the last token it received).
 *
 * Unary calls are left alone: they are bounded by their deadline and were
 * authorized when they started. Callers without an expiry (a client
 * certificate, checked by the TLS handshake of its connection) are left
 * alone too.
 */
import type { Interceptor, StreamRequest, StreamResponse } from "@connectrpc/connect";
import { unauthenticated, type RosterError } from "../domain/errors.ts";
import { callerKey } from "./context.ts";

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
const longestTimerMs = 2_147_483_647;

/** The error a stream ends with once its credential expired at `expiresAt`. */
function expiredDuringStream(expiresAt: Date): RosterError {
  return unauthenticated(
    `the token expired during the stream (valid until ${expiresAt.toISOString()}); reconnect with a new token and resume`,
  );
}

export function createCredentialExpiryInterceptor(now: () => number = Date.now): Interceptor {
  return (next) => (req) => {
    if (!req.stream) return next(req);
    const expiresAt = req.contextValues.get(callerKey)?.credentialExpiresAt;
    if (expiresAt === undefined) return next(req);
    return next(withMessages(req, refusedAfter(req.message, expiresAt, now))).then((res) =>
      res.stream ? endedAt(res, expiresAt, now) : res,
    );
  };
}

/**
 * `req` with other input messages. Not a spread: the pipeline's request
 * reads `url` and `signal` through getters, which a spread would not copy.
 */
function withMessages(req: StreamRequest, message: StreamRequest["message"]): StreamRequest {
  return {
    stream: true,
    message,
    method: req.method,
    service: req.service,
    requestMethod: req.requestMethod,
    header: req.header,
    contextValues: req.contextValues,
    get url() {
      return req.url;
    },
    get signal() {
      return req.signal;
    },
  };
}

/** `requests`, ending with the expiry error at the first one that arrives after `expiresAt`. */
async function* refusedAfter<T>(requests: AsyncIterable<T>, expiresAt: Date, now: () => number): AsyncGenerator<T> {
  for await (const request of requests) {
    if (now() >= expiresAt.getTime()) throw expiredDuringStream(expiresAt);
    yield request;
  }
}

/**
 * `res` with its messages ending in the expiry error at `expiresAt`, also
 * while the implementation is waiting for something to send (a quiet
 * WatchChanges): the wait is raced against a timer. The implementation is
 * then closed (`return`), which ends its work when it next yields.
 */
function endedAt(res: StreamResponse, expiresAt: Date, now: () => number): StreamResponse {
  return { ...res, message: messagesUntil(res.message, expiresAt, now) };
}

async function* messagesUntil<T>(messages: AsyncIterable<T>, expiresAt: Date, now: () => number): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  /** Ends the wait for the next message, while there is one. */
  let interrupt: (() => void) | undefined;
  const arm = (): void => {
    const left = expiresAt.getTime() - now();
    if (left > 0) {
      timer = setTimeout(arm, Math.min(left, longestTimerMs));
      timer.unref();
      return;
    }
    interrupt?.();
  };
  arm();
  let done = false;
  try {
    for (;;) {
      // A promise per wait rather than Promise.race with one expiry promise:
      // race leaves a reaction on its promises, and one that never settles
      // would gather one per message for the stream's life (days of changes).
      const step =
        now() >= expiresAt.getTime()
          ? undefined
          : await new Promise<IteratorResult<T> | undefined>((resolve, reject) => {
              interrupt = () => {
                resolve(undefined);
              };
              iterator.next().then(resolve, reject);
            });
      interrupt = undefined;
      if (step === undefined || now() >= expiresAt.getTime()) throw expiredDuringStream(expiresAt);
      if (step.done === true) {
        done = true;
        return;
      }
      yield step.value;
    }
  } finally {
    clearTimeout(timer);
    // Not awaited: a generator waiting inside its work finishes `return` only when it next yields.
    if (!done) void iterator.return?.().catch(() => undefined);
  }
}
