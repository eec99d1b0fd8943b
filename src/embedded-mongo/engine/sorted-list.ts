/**
 * An ordered multiset split into bounded chunks (the "sorted containers"
 * layout): insert and delete cost a binary search plus a splice of at most
 * ~2·LOAD elements, so building an index of 100k entries stays fast, while range
 * scans walk contiguous arrays.
 */
const LOAD = 512;

export interface SortedList<T> {
  readonly size: number;
  /** Inserts `item` unless an equal one (compare === 0) is present; returns whether it did. */
  add(item: T): boolean;
  /** Removes the item equal to `item`; returns whether there was one. */
  remove(item: T): boolean;
  has(item: T): boolean;
  /**
   * Items from the first one for which `atOrAfterStart` is true (it must be
   * false for a prefix of the order and true after it), in order.
   */
  from(atOrAfterStart: (item: T) => boolean): Generator<T, void, undefined>;
  values(): Generator<T, void, undefined>;
}

export function createSortedList<T>(compare: (a: T, b: T) => number): SortedList<T> {
  let chunks: T[][] = [];
  let size = 0;

  /** Index of the first chunk whose last item satisfies `pred`, or chunks.length. */
  function chunkFor(pred: (item: T) => boolean): number {
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid] as T[];
      if (pred(chunk[chunk.length - 1] as T)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  function positionIn(chunk: readonly T[], pred: (item: T) => boolean): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(chunk[mid] as T)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  function locate(item: T): [chunk: number, position: number] {
    const atOrAfter = (x: T): boolean => compare(x, item) >= 0;
    const c = chunkFor(atOrAfter);
    if (c === chunks.length) return [c, 0];
    return [c, positionIn(chunks[c] as T[], atOrAfter)];
  }

  function* scan(c: number, p: number): Generator<T, void, undefined> {
    // Snapshot the chunk list: callers must not mutate while iterating.
    const list = chunks;
    for (let i = c; i < list.length; i++) {
      const chunk = list[i] as T[];
      for (let j = i === c ? p : 0; j < chunk.length; j++) yield chunk[j] as T;
    }
  }

  return {
    get size() {
      return size;
    },
    add(item) {
      if (chunks.length === 0) {
        chunks = [[item]];
        size = 1;
        return true;
      }
      let [c, p] = locate(item);
      if (c === chunks.length) {
        c = chunks.length - 1;
        p = (chunks[c] as T[]).length;
      }
      const chunk = chunks[c] as T[];
      if (p < chunk.length && compare(chunk[p] as T, item) === 0) return false;
      chunk.splice(p, 0, item);
      size++;
      if (chunk.length > 2 * LOAD) chunks.splice(c + 1, 0, chunk.splice(LOAD));
      return true;
    },
    remove(item) {
      const [c, p] = locate(item);
      const chunk = chunks[c];
      if (chunk === undefined || p >= chunk.length || compare(chunk[p] as T, item) !== 0) return false;
      chunk.splice(p, 1);
      size--;
      if (chunk.length === 0) chunks.splice(c, 1);
      return true;
    },
    has(item) {
      const [c, p] = locate(item);
      const chunk = chunks[c];
      return chunk !== undefined && p < chunk.length && compare(chunk[p] as T, item) === 0;
    },
    from(atOrAfterStart) {
      const c = chunkFor(atOrAfterStart);
      if (c === chunks.length) return scan(c, 0);
      return scan(c, positionIn(chunks[c] as T[], atOrAfterStart));
    },
    values() {
      return scan(0, 0);
    },
  };
}
