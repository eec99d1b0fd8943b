import { describe, expect, it } from "vitest";
import { createFactsMemo } from "../../src/app/read-model/facts-memo.ts";
import { createMemoSlot } from "../../src/app/request-memo.ts";

const slot = createMemoSlot<string>("test values");
const other = createMemoSlot<string>("other values");
const forever = Number.POSITIVE_INFINITY;

describe("facts memo", () => {
  it("answers what was stored, per slot and key, until a change is applied", () => {
    const memo = createFactsMemo(100);
    memo.set(slot, "a", "A", { generation: memo.generation(), validUntilMs: forever, weight: 1 });
    expect(memo.get(slot, "a", 0)).toBe("A");
    expect(memo.get(other, "a", 0)).toBeUndefined();
    expect(memo.get(slot, "b", 0)).toBeUndefined();
    memo.invalidate();
    expect(memo.get(slot, "a", 0)).toBeUndefined();
    expect(memo.weight).toBe(0);
  });

  it("refuses a value computed before a change was applied", () => {
    const memo = createFactsMemo(100);
    const started = memo.generation();
    memo.invalidate(); // a change applied while the value was being computed
    memo.set(slot, "a", "stale", { generation: started, validUntilMs: forever, weight: 1 });
    expect(memo.get(slot, "a", 0)).toBeUndefined();
  });

  it("answers a value only before its validUntil", () => {
    const memo = createFactsMemo(100);
    memo.set(slot, "a", "A", { generation: memo.generation(), validUntilMs: 1_000, weight: 1 });
    expect(memo.get(slot, "a", 999)).toBe("A");
    expect(memo.get(slot, "a", 1_000)).toBeUndefined();
    expect(memo.get(slot, "a", 999)).toBeUndefined(); // forgotten
  });

  it("keeps its total weight within the bound, the least recently used leaving first", () => {
    const memo = createFactsMemo(10);
    const at = () => ({ generation: memo.generation(), validUntilMs: forever });
    memo.set(slot, "a", "A", { ...at(), weight: 4 });
    memo.set(slot, "b", "B", { ...at(), weight: 4 });
    expect(memo.get(slot, "a", 0)).toBe("A");
    memo.set(slot, "c", "C", { ...at(), weight: 4 });
    expect(memo.get(slot, "b", 0)).toBeUndefined();
    expect(memo.get(slot, "a", 0)).toBe("A");
    expect(memo.get(slot, "c", 0)).toBe("C");
    expect(memo.weight).toBe(8);
    memo.set(slot, "huge", "H", { ...at(), weight: 11 }); // heavier than the bound: never kept, evicts nothing
    expect(memo.get(slot, "huge", 0)).toBeUndefined();
    expect(memo.weight).toBe(8);
  });

  it("keeps nothing with a bound of 0", () => {
    const memo = createFactsMemo(0);
    memo.set(slot, "a", "A", { generation: memo.generation(), validUntilMs: forever, weight: 1 });
    expect(memo.get(slot, "a", 0)).toBeUndefined();
  });
});
