/**
 * Interceptors see a streaming response before its messages flow; errors and
 * the end of the stream happen later, while the door iterates. This wraps the
 * message iterable so an interceptor can map errors and learn when (and how)
 * the stream ended.
 */

/**
 * Yields `source`'s messages; `mapError` may replace a thrown error, and
 * `onEnd` is called exactly once with the final error (undefined on success,
 * also when the consumer stops early).
 */
export async function* observeStream<T>(
  source: AsyncIterable<T>,
  mapError: (error: unknown) => unknown,
  onEnd: (error: unknown) => void,
): AsyncGenerator<T> {
  let failure: unknown = undefined;
  try {
    for await (const message of source) yield message;
  } catch (error) {
    failure = mapError(error);
    throw failure;
  } finally {
    onEnd(failure);
  }
}
