/**
 * An ordered set of items kept as a list of short sorted runs, so that an
 * insertion or removal moves at most a run (about `runLength` items) rather
 * than the whole set, and a walk in either direction from any position
 * costs what it returns. The read model keeps the groups every caller may
 * see (visibility AUTHENTICATED) in one per ListGroups order, so that a page
 * of them costs its length, at a million groups as at a thousand.
 */
import { partitionPoint } from "../../domain/partition-point.ts";

const runLength = 256;

export interface SortedIndex<T> {
  readonly size: number;
  /** Adds `item` (an equal one must not be present). */
  add(item: T): void;
  /** Removes the item equal to `item`, if present. */
  remove(item: T): void;
  /**
   * Items in order (`descending`: reverse order) from the first one that is
   * not `before` the start: `before(item)` must be true for a prefix of the
   * walk and false after it. The index must not change during the walk.
   */
  walk(descending: boolean, before: (item: T) => boolean): Generator<T, void, undefined>;
}

/** An index of `items` (in any order) sorted by `compare`. */
export function createSortedIndex<T>(compare: (a: T, b: T) => number, items: readonly T[] = []): SortedIndex<T> {
  const sorted = [...items].sort(compare);
  let runs: T[][] = [];
  for (let at = 0; at < sorted.length; at += runLength) runs.push(sorted.slice(at, at + runLength));
  let size = sorted.length;

  /** The run that holds, or would hold, `item`: the first whose last item is not below it. */
  const runOf = (item: T): number => {
    const r = partitionPoint(0, runs.length, (mid) => {
      const last = runs[mid]?.at(-1);
      return last !== undefined && compare(last, item) < 0;
    });
    return Math.min(r, runs.length - 1);
  };

  /** Position of the first item of `run` not below `item`. */
  const positionIn = (run: readonly T[], item: T): number => partitionPoint(0, run.length, (mid) => compare(run[mid] as T, item) < 0);

  return {
    get size() {
      return size;
    },
    add(item) {
      if (runs.length === 0) {
        runs = [[item]];
        size = 1;
        return;
      }
      const r = runOf(item);
      const run = runs[r] ?? [];
      run.splice(positionIn(run, item), 0, item);
      size += 1;
      if (run.length > 2 * runLength) runs.splice(r, 1, run.slice(0, runLength), run.slice(runLength));
    },
    remove(item) {
      if (runs.length === 0) return;
      const r = runOf(item);
      const run = runs[r] ?? [];
      const at = positionIn(run, item);
      if (at >= run.length || compare(run[at] as T, item) !== 0) return;
      run.splice(at, 1);
      size -= 1;
      if (run.length === 0) runs.splice(r, 1);
    },
    *walk(descending, before) {
      // Binary search over the runs, then within the run, for the walk's first item.
      const inOrder = (r: number): readonly T[] => runs[descending ? runs.length - 1 - r : r] ?? [];
      const at = (run: readonly T[], i: number): T => run[descending ? run.length - 1 - i : i] as T;
      const first = partitionPoint(0, runs.length, (mid) => {
        const run = inOrder(mid);
        return before(at(run, run.length - 1));
      });
      for (let r = first; r < runs.length; r++) {
        const run = inOrder(r);
        let i = r === first ? partitionPoint(0, run.length, (mid) => before(at(run, mid))) : 0;
        for (; i < run.length; i++) yield at(run, i);
      }
    },
  };
}
