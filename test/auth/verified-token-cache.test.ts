import { describe, expect, it } from "vitest";
import { createVerifiedTokenCache } from "../../src/auth/verified-token-cache.ts";

const alice = { principal: "user:alice", isSystemAdmin: false };
const t0 = 1_800_000_000_000;
const seconds = (ms: number) => Math.floor(ms / 1000);

describe("verified token cache", () => {
  it("answers a token it holds while the token is valid, and nothing else", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 });
    cache.set("token-a", alice, seconds(t0) + 30, t0);
    expect(cache.get("token-a", t0 + 1_000)).toEqual(alice);
    expect(cache.get("token-a ", t0 + 1_000)).toBeUndefined();
    expect(cache.get("token-b", t0 + 1_000)).toBeUndefined();
  });

  it("stops answering at the second exp (plus tolerance) ends, as jose's check does, and forgets the token", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 10, maxAgeMs: 600_000 });
    const until = seconds(t0) + 30;
    cache.set("token-a", alice, until, t0);
    expect(cache.get("token-a", until * 1000 - 1)).toEqual(alice);
    expect(cache.get("token-a", until * 1000)).toBeUndefined();
    expect(cache.get("token-a", until * 1000 - 1)).toBeUndefined();
  });

  it("does not answer at a time before the token's verification (a clock set back: nbf may not hold then)", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 10, maxAgeMs: 600_000 });
    cache.set("token-a", alice, seconds(t0) + 300, t0);
    expect(cache.get("token-a", t0 - 1)).toBeUndefined();
  });

  it("answers a token at most maxAgeMs after it was verified, however long it is valid", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 });
    cache.set("token-a", alice, seconds(t0) + 3_600, t0);
    expect(cache.get("token-a", t0 + 59_999)).toEqual(alice);
    expect(cache.get("token-a", t0 + 60_000)).toBeUndefined();
  });

  it("keeps at most maxEntries tokens, the least recently used leaving first", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 2, maxAgeMs: 60_000 });
    const validity = seconds(t0) + 60;
    cache.set("a", alice, validity, t0);
    cache.set("b", alice, validity, t0);
    expect(cache.get("a", t0)).toEqual(alice); // a is now the most recently used
    cache.set("c", alice, validity, t0);
    expect(cache.get("b", t0)).toBeUndefined();
    expect(cache.get("a", t0)).toEqual(alice);
    expect(cache.get("c", t0)).toEqual(alice);
  });

  it("answers tokens used in turn each with its own caller, and the last one answered by the same rules as any other", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 10, maxAgeMs: 600_000 });
    const bob = { principal: "user:bob", isSystemAdmin: true };
    const until = seconds(t0) + 30;
    cache.set("token-a", alice, until, t0);
    cache.set("token-b", bob, seconds(t0) + 300, t0);
    for (let i = 0; i < 3; i++) {
      expect(cache.get("token-a", t0)).toEqual(alice);
      expect(cache.get("token-a", t0)).toEqual(alice);
      expect(cache.get("token-b", t0)).toEqual(bob);
    }
    expect(cache.get("token-a", t0)).toEqual(alice); // the last one answered
    expect(cache.get("token-a", t0 - 1)).toBeUndefined(); // before its verification: dropped
    expect(cache.get("token-a", t0)).toBeUndefined();
    expect(cache.get("token-b", until * 1000)).toEqual(bob);
    const one = createVerifiedTokenCache({ maxEntries: 1, maxAgeMs: 600_000 });
    one.set("token-a", alice, until, t0);
    expect(one.get("token-a", t0)).toEqual(alice);
    one.set("token-b", bob, until, t0);
    expect(one.get("token-a", t0)).toBeUndefined(); // evicted, though it was the last one answered before token-b came
    expect(one.get("token-b", t0)).toEqual(bob);
  });

  it("keeps nothing with maxEntries 0", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 0, maxAgeMs: 60_000 });
    cache.set("a", alice, seconds(t0) + 60, t0);
    expect(cache.get("a", t0)).toBeUndefined();
  });

  it("hands out a frozen copy, so no caller can change what later calls get", () => {
    const cache = createVerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 });
    const caller = { principal: "user:alice", isSystemAdmin: false };
    cache.set("a", caller, seconds(t0) + 60, t0);
    (caller as { isSystemAdmin: boolean }).isSystemAdmin = true;
    const cached = cache.get("a", t0);
    expect(cached).toEqual(alice);
    expect(Object.isFrozen(cached)).toBe(true);
  });
});
