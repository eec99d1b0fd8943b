import { describe, expect, it } from "vitest";
import { createWeightedLru } from "../../src/domain/weighted-lru.ts";

describe("createWeightedLru", () => {
  it("evicts the least recently used entries until the total weight fits, a get counting as a use", () => {
    const lru = createWeightedLru<string>(5);
    lru.set("a", "A", 2);
    lru.set("b", "B", 2);
    expect(lru.get("a")).toBe("A"); // a is now more recent than b
    lru.set("c", "C", 2);
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")).toBe("A");
    expect(lru.get("c")).toBe("C");
    expect(lru.weight).toBe(4);
  });

  it("does not store a value heavier than the bound, and leaves what was under its key", () => {
    const lru = createWeightedLru<string>(3);
    lru.set("a", "A", 1);
    lru.set("a", "heavy", 4);
    expect(lru.get("a")).toBe("A");
    expect(lru.weight).toBe(1);
    const none = createWeightedLru<string>(0);
    none.set("x", "X");
    expect(none.get("x")).toBeUndefined();
  });

  it("replaces a key's value and weight, counts at least 1 per entry, and forgets on delete and clear", () => {
    const lru = createWeightedLru<string>(10);
    lru.set("a", "A", 3);
    lru.set("a", "A2", 0);
    expect(lru.get("a")).toBe("A2");
    expect(lru.weight).toBe(1);
    lru.set("b", "B", 4);
    lru.delete("a");
    expect(lru.get("a")).toBeUndefined();
    expect(lru.weight).toBe(4);
    lru.clear();
    expect(lru.get("b")).toBeUndefined();
    expect(lru.weight).toBe(0);
  });
});
