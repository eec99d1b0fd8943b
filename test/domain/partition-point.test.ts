import { describe, expect, it } from "vitest";
import { partitionPoint } from "../../src/domain/partition-point.ts";

describe("partitionPoint", () => {
  const sorted = [1, 3, 3, 5, 8];

  it("finds the first index whose item is not before the bound, over every bound", () => {
    for (let bound = 0; bound <= 9; bound++) {
      const expected = sorted.findIndex((item) => item >= bound);
      expect(partitionPoint(0, sorted.length, (i) => (sorted[i] as number) < bound)).toBe(expected === -1 ? sorted.length : expected);
    }
  });

  it("answers within the range it is given, and the range's end when the predicate holds throughout", () => {
    expect(partitionPoint(2, 4, (i) => (sorted[i] as number) <= 3)).toBe(3);
    expect(partitionPoint(1, 3, () => true)).toBe(3);
    expect(partitionPoint(1, 3, () => false)).toBe(1);
    expect(partitionPoint(0, 0, () => true)).toBe(0);
  });
});
