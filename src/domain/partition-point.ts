/**
 * The one binary search behind the read model's ordered structures (the
 * sorted index of groups everyone sees, a caller's kept own groups, a
 * closure's sorted ids): where a walk over sorted items starts.
 */

/**
 * The first index in [lo, hi) at which `before(index)` is false, or `hi` if
 * there is none; `before` must be true on a prefix of the range and false
 * after it.
 */
export function partitionPoint(lo: number, hi: number, before: (index: number) => boolean): number {
  let low = lo;
  let high = hi;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (before(mid)) low = mid + 1;
    else high = mid;
  }
  return low;
}
