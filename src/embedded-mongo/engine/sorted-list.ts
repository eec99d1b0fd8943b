/**
 * An ordered set split into bounded chunks (the "sorted containers" layout):
 * insert and delete cost a binary search plus a splice of at most ~2·LOAD
 * elements, so building an index of 100k entries stays fast, while range scans
 * walk contiguous arrays.
 */
const LOAD = 128;

export interface SortedList<T> {
  readonly size: number;
  /** Inserts `item` unless an equal one (compare === 0) is present; returns whether it did. */
  add(item: T): boolean;
  /** Removes the item equal to `item`; returns whether there was one. */
  remove(item: T): boolean;
  has(item: T): boolean;
  /**
   * Items from the first one for which `atOrAfterStart` is true (it must be
   * false for a prefix of the order and true after it), in order. The list
   * must not change while the iteration is in progress.
   */
  from(atOrAfterStart: (item: T) => boolean): Generator<T, void, undefined>;
  values(): Generator<T, void, undefined>;
}

export function createSortedList<T>(compare: (a: T, b: T) => number): SortedList<T> {
  return new ChunkedSortedList(compare);
}

/** Index of the first item of `list` satisfying the monotonic `pred`, or list.length. */
function firstWhere<T>(list: readonly T[], pred: (item: T) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(list[mid] as T)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A class, not a closure factory: transactions create several per write (see transaction.ts). */
class ChunkedSortedList<T> implements SortedList<T> {
  #chunks: T[][] = [];
  #size = 0;
  readonly #compare: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#size;
  }

  /** Index of the first chunk whose last item satisfies `pred`, or chunks.length. */
  #chunkFor(pred: (item: T) => boolean): number {
    const chunks = this.#chunks;
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

  /** Chunk and position of the first item >= `item` (binary searches without closures: this is the hot path). */
  #locate(item: T): [chunk: number, position: number] {
    const compare = this.#compare;
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid] as T[];
      if (compare(chunk[chunk.length - 1] as T, item) >= 0) hi = mid;
      else lo = mid + 1;
    }
    const chunk = chunks[lo];
    if (chunk === undefined) return [lo, 0];
    const c = lo;
    lo = 0;
    hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(chunk[mid] as T, item) >= 0) hi = mid;
      else lo = mid + 1;
    }
    return [c, lo];
  }

  *#scan(c: number, p: number): Generator<T, void, undefined> {
    const chunks = this.#chunks;
    for (let i = c; i < chunks.length; i++) {
      const chunk = chunks[i] as T[];
      for (let j = i === c ? p : 0; j < chunk.length; j++) yield chunk[j] as T;
    }
  }

  add(item: T): boolean {
    const chunks = this.#chunks;
    if (chunks.length === 0) {
      chunks.push([item]);
      this.#size = 1;
      return true;
    }
    let [c, p] = this.#locate(item);
    if (c === chunks.length) {
      c = chunks.length - 1;
      p = (chunks[c] as T[]).length;
    }
    const chunk = chunks[c] as T[];
    if (p < chunk.length && this.#compare(chunk[p] as T, item) === 0) return false;
    // A manual shift: Array#splice allocates a result array on every call.
    chunk.push(item);
    for (let i = chunk.length - 1; i > p; i--) chunk[i] = chunk[i - 1] as T;
    chunk[p] = item;
    this.#size++;
    if (chunk.length > 2 * LOAD) chunks.splice(c + 1, 0, chunk.splice(LOAD));
    return true;
  }

  remove(item: T): boolean {
    const [c, p] = this.#locate(item);
    const chunk = this.#chunks[c];
    if (chunk === undefined || p >= chunk.length || this.#compare(chunk[p] as T, item) !== 0) return false;
    chunk.splice(p, 1);
    this.#size--;
    if (chunk.length === 0) this.#chunks.splice(c, 1);
    return true;
  }

  has(item: T): boolean {
    const [c, p] = this.#locate(item);
    const chunk = this.#chunks[c];
    return chunk !== undefined && p < chunk.length && this.#compare(chunk[p] as T, item) === 0;
  }

  from(atOrAfterStart: (item: T) => boolean): Generator<T, void, undefined> {
    const c = this.#chunkFor(atOrAfterStart);
    if (c === this.#chunks.length) return this.#scan(c, 0);
    return this.#scan(c, firstWhere(this.#chunks[c] as T[], atOrAfterStart));
  }

  values(): Generator<T, void, undefined> {
    return this.#scan(0, 0);
  }
}
