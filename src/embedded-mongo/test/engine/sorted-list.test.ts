import { Decimal128, Double, Int32, Long, ObjectId } from "bson";
import { describe, expect, it } from "vitest";
import { compareEntries, indexEntry } from "../../engine/collection-state.ts";
import type { IndexEntry } from "../../engine/collection-state.ts";
import { compareKeys } from "../../engine/compare.ts";
import { createSortedList } from "../../engine/sorted-list.ts";

/** A small deterministic generator, so failures reproduce. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

const pool: unknown[] = [
  null,
  0,
  -1,
  2.5,
  new Int32(7),
  new Double(7),
  Long.fromNumber(3),
  Long.fromString("9007199254740993"),
  Number.NaN,
  "",
  "a",
  "b",
  "\u0000x",
  "\uff5e",
  "\u{1f600}",
  new ObjectId("000000000000000000000001"),
  new ObjectId("ffffffffffffffffffffffff"),
  true,
  new Date(3),
  { a: 1 },
  [1, 2],
];

function reference(entries: readonly IndexEntry[]): string[] {
  return [...entries].sort((a, b) => compareKeys(a.key, b.key) || (a.idk < b.idk ? -1 : a.idk > b.idk ? 1 : 0)).map((e) => e.idk);
}

describe("index entry order", () => {
  it("the fast keys order entries exactly as compareValues does, across types", () => {
    const next = random(42);
    const entries = Array.from({ length: 400 }, (_, i) => {
      const single = pool[Math.floor(next() * pool.length)];
      const key = next() < 0.2 ? [single, pool[Math.floor(next() * pool.length)]] : [single];
      return indexEntry(key, `id${i}`);
    });
    const fast = [...entries].sort(compareEntries).map((e) => e.idk);
    expect(fast).toEqual(reference(entries));
  });

  it("compound keys compare exactly as compareKeys does, pair by pair (encoded tuples and fallbacks alike)", () => {
    const components: unknown[] = [
      ...pool,
      undefined,
      -0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      -1e300,
      1e300,
      2 ** 53,
      new Int32(-7),
      Long.fromNumber(-3),
      Decimal128.fromString("7"),
      Decimal128.fromString("0.1"),
      "ab",
      "abc",
      "a\u0001",
      "a ",
      "\u007f",
      "\u0080",
      "\uffff",
      false,
      new Date(-1),
      new Date(Number.NaN),
      new Date(8_640_000_000_000_000),
      new ObjectId("000000000000000000000000"),
    ];
    const next = random(7);
    const pick = (): unknown => components[Math.floor(next() * components.length)];
    // Mostly pairs drawn from the whole pool, plus triples sharing a first component so later ones decide.
    const keys: unknown[][] = Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? ["shared", pick(), pick()] : [pick(), pick()]));
    const entries = keys.map((key, i) => indexEntry(key, `id${i % 7}`));
    let compared = 0;
    for (const a of entries) {
      for (const b of entries) {
        if (a.key.length !== b.key.length) continue;
        const expected = Math.sign(compareKeys(a.key, b.key) || (a.idk < b.idk ? -1 : a.idk > b.idk ? 1 : 0));
        if (Math.sign(compareEntries(a, b)) !== expected) {
          throw new Error(
            `compareEntries(${String(a.key)} / ${a.idk}, ${String(b.key)} / ${b.idk}) disagrees with compareKeys (${expected})`,
          );
        }
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100_000);
    // Most of these pairs took the encoded path (otherwise this test would not exercise it).
    expect(entries.filter((e) => e.fastKind !== 0).length).toBeGreaterThan(entries.length / 2);
  });
});

describe("sorted list", () => {
  it("matches a sorted array through random inserts, duplicates and removals", () => {
    const next = random(7);
    const list = createSortedList(compareEntries);
    const model = new Map<string, IndexEntry>();
    for (let step = 0; step < 6000; step++) {
      const value = Math.floor(next() * 3000);
      const entry = indexEntry([value % 2 === 0 ? value : `s${value}`], `id${value % 7}`);
      const id = `${String(entry.key[0])}/${entry.idk}`;
      if (next() < 0.7) {
        expect(list.add(entry)).toBe(!model.has(id));
        model.set(id, entry);
      } else {
        expect(list.remove(entry)).toBe(model.delete(id));
      }
      expect(list.has(entry)).toBe(model.has(id));
    }
    expect(list.size).toBe(model.size);
    expect([...list.values()].map((e) => e.idk + String(e.key[0]))).toEqual(
      [...model.values()].sort(compareEntries).map((e) => e.idk + String(e.key[0])),
    );
    // `from` starts at the first item at or after a bound.
    const bound = indexEntry([1500], "");
    const tail = [...list.from((e) => compareEntries(e, bound) >= 0)];
    expect(tail.map((e) => e.idk + String(e.key[0]))).toEqual(
      [...model.values()]
        .filter((e) => compareEntries(e, bound) >= 0)
        .sort(compareEntries)
        .map((e) => e.idk + String(e.key[0])),
    );
  });
});
