/** Consistency tokens and cluster times; the standing of a membership (issue 14's status and expiry). */
import { describe, expect, it } from "vitest";
import { clusterTime, decodeConsistencyToken, encodeConsistencyToken, incrementOf, secondsOf } from "../../src/domain/consistency.ts";
import { errorText, thrownBy } from "../fixtures/expect-roster-error.ts";

describe("consistency tokens", () => {
  it("round-trip a cluster time, and order as the times do", () => {
    const time = clusterTime(1_796_500_000, 7);
    const token = encodeConsistencyToken(time);
    expect(token).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(decodeConsistencyToken(token, "consistency.at_least_as_fresh")).toBe(time);
    expect(secondsOf(time)).toBe(1_796_500_000);
    expect(incrementOf(time)).toBe(7);
    expect(clusterTime(1_796_500_000, 8) > time && clusterTime(1_796_500_001, 0) > clusterTime(1_796_500_000, 0xffffffff)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["not base64url", "not a token!"],
    ["too short", "AQAAAA"],
    ["another version", encodeConsistencyToken(1n).replace(/^AQ/, "Ag")],
  ])("refuses a token that is %s, naming the field", (_case, token) => {
    expect(thrownBy(() => decodeConsistencyToken(token, "consistency.at_least_as_fresh"))).toBe(
      errorText("invalid_argument", "consistency.at_least_as_fresh: is not a consistency token issued by Roster"),
    );
  });
});
