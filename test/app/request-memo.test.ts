/**
 * The request memo (src/app/request-memo.ts): one load per slot and key for
 * the whole request, whether it holds a few loads (scanned) or many
 * (indexed); a failed load is forgotten; transactions never share loads.
 */
import { describe, expect, it } from "vitest";
import { createMemoSlot, createRequestMemo, memoized } from "../../src/app/request-memo.ts";
import type { StoreCall } from "../../src/storage/store-call.ts";

const groups = createMemoSlot<string>("groups");
const closures = createMemoSlot<string>("closures");
const outside: StoreCall = {};

/** A loader that counts its loads and answers `<prefix><n>`. */
function counting(prefix: string) {
  let loads = 0;
  return {
    load: () => Promise.resolve(`${prefix}${String(++loads)}`),
    get loads() {
      return loads;
    },
  };
}

describe("request memo", () => {
  it("loads each slot and key once, a few loads or many", async () => {
    const memo = createRequestMemo();
    for (const count of [3, 40]) {
      const loaders = Array.from({ length: count }, (_, i) => counting(`g${String(i)}-`));
      for (let round = 0; round < 2; round++) {
        for (const [i, loader] of loaders.entries()) {
          expect(await memoized(memo, outside, groups, `${String(count)}:${String(i)}`, loader.load)).toBe(`g${String(i)}-1`);
        }
      }
      expect(loaders.map((loader) => loader.loads)).toEqual(loaders.map(() => 1));
    }
    const other = counting("c");
    expect(await memoized(memo, outside, closures, "3:0", other.load)).toBe("c1"); // same key, another slot
  });

  it("forgets a failed load, so the request may load again, and never a later one in its place", async () => {
    for (const loadsBefore of [0, 20]) {
      const memo = createRequestMemo();
      for (let i = 0; i < loadsBefore; i++) await memoized(memo, outside, groups, `other ${String(i)}`, () => Promise.resolve("x"));
      const failing = memoized(memo, outside, groups, "id", () => Promise.reject(new Error("store unavailable")));
      await expect(failing).rejects.toThrow("store unavailable");
      const retry = counting("retry");
      expect(await memoized(memo, outside, groups, "id", retry.load)).toBe("retry1");
      expect(await memoized(memo, outside, groups, "id", retry.load)).toBe("retry1");
      expect(retry.loads).toBe(1);
    }
  });

  it("shares nothing with a call inside a transaction, nor without a memo", async () => {
    const memo = createRequestMemo();
    const loader = counting("t");
    // Only its presence matters here: memoized never touches the session.
    const inTransaction = Object.assign({}, { session: {} }) as unknown as StoreCall;
    await memoized(memo, outside, groups, "id", loader.load);
    expect(await memoized(memo, inTransaction, groups, "id", loader.load)).toBe("t2");
    expect(await memoized(undefined, outside, groups, "id", loader.load)).toBe("t3");
  });
});
