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

  it("reorders on a get only an entry in the older half: a newer one keeps its place, and a hot entry never leaves", () => {
    const lru = createWeightedLru<string>(4);
    for (const key of ["a", "b", "c", "d"]) lru.set(key, key.toUpperCase());
    expect(lru.get("c")).toBe("C"); // in the newer half (only d is newer): not moved
    expect(lru.get("a")).toBe("A"); // the oldest: moved to the newest end
    lru.set("e", "E");
    expect(lru.get("b")).toBeUndefined(); // b is the least recently used
    lru.set("f", "F");
    // c was read after d but kept its place before d, so it goes first (the approximation);
    // reading it any later, once in the older half, would have moved it.
    expect(lru.get("c")).toBeUndefined();
    expect([lru.get("d"), lru.get("a"), lru.get("e"), lru.get("f")]).toEqual(["D", "A", "E", "F"]);

    // Up to half the bound a read moves nothing; the first read past it moves an old entry.
    const roomy = createWeightedLru<string>(10);
    for (const key of ["a", "b", "c"]) roomy.set(key, key.toUpperCase());
    expect(roomy.get("a")).toBe("A"); // 3 of 10: stays the oldest
    for (const key of ["d", "e", "f"]) roomy.set(key, key.toUpperCase());
    roomy.set("g", "G", 4); // 10 of 10, nothing evicted yet
    roomy.set("h", "H");
    expect(roomy.get("a")).toBeUndefined(); // a was the oldest still
    expect(roomy.get("b")).toBe("B"); // 10 of 10: b, in the older half, moves to the newest end
    roomy.set("i", "I");
    expect([roomy.get("c"), roomy.get("b")]).toEqual([undefined, "B"]);

    const hot = createWeightedLru<number>(10);
    hot.set("hot", 0);
    for (let i = 0; i < 1_000; i++) {
      hot.set(`cold-${i}`, i);
      expect(hot.get("hot")).toBe(0);
      expect(hot.weight).toBeLessThanOrEqual(10);
    }
  });
});
