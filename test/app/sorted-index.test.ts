import { describe, expect, it } from "vitest";
import { createSortedIndex } from "../../src/app/read-model/sorted-index.ts";

const byNumber = (a: number, b: number): number => a - b;

describe("the read model's sorted index", () => {
  it("walks what a sorted array holds, in both directions from every start, through adds and removes across many runs", () => {
    // Deterministic pseudo-random order, enough items for several runs of 256 and for runs to split.
    let seed = 7;
    const next = (): number => (seed = (seed * 48271) % 2147483647);
    const initial = Array.from({ length: 600 }, (_, i) => i * 4);
    const index = createSortedIndex(
      byNumber,
      [...initial].sort(() => (next() % 2) - 0.5),
    );
    const model = new Set(initial);
    for (let step = 0; step < 3000; step++) {
      const value = next() % 4000;
      if (model.has(value)) {
        index.remove(value);
        model.delete(value);
      } else if (step % 3 !== 0) {
        index.add(value);
        model.add(value);
      } else {
        index.remove(value); // absent: nothing changes
      }
    }
    const sorted = [...model].sort(byNumber);
    expect(index.size).toBe(sorted.length);
    for (const start of [-1, 0, 1, 999, 2000, 2001, 3999, 4000]) {
      expect([...index.walk(false, (item) => item < start)]).toEqual(sorted.filter((item) => item >= start));
      expect([...index.walk(true, (item) => item > start)]).toEqual(sorted.filter((item) => item <= start).reverse());
    }
  });

  it("is empty after removing everything, and takes items again", () => {
    const index = createSortedIndex(byNumber, [3, 1, 2]);
    for (const item of [1, 2, 3]) index.remove(item);
    expect(index.size).toBe(0);
    expect([...index.walk(false, () => false)]).toEqual([]);
    index.add(5);
    index.add(4);
    expect([...index.walk(false, () => false)]).toEqual([4, 5]);
  });
});
