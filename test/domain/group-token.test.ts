import { describe, expect, it } from "vitest";
import { groupTokenTtlSeconds, validateAudience } from "../../src/domain/group-token.ts";
import { errorText, thrownBy } from "../fixtures/expect-roster-error.ts";

const limits = { defaultTtlSeconds: 900, maxTtlSeconds: 3600 };

describe("groupTokenTtlSeconds", () => {
  it.each([
    [undefined, 900],
    [1, 1],
    [0.2, 1],
    [59.5, 60],
    [3600, 3600],
  ])("%s → %i s", (requested, seconds) => {
    expect(groupTokenTtlSeconds(requested, limits)).toBe(seconds);
  });

  it.each([
    [3600.5, "ttl: must be at most 3600 s (ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS), got 3600.5 s"],
    [86_400, "ttl: must be at most 3600 s (ROSTER_GROUP_TOKEN_MAX_TTL_SECONDS), got 86400 s"],
    [0, "ttl: must be positive (got 0 s)"],
    [-5, "ttl: must be positive (got -5 s)"],
  ])("refuses %s", (requested, message) => {
    expect(thrownBy(() => groupTokenTtlSeconds(requested, limits))).toBe(errorText("invalid_argument", message));
  });
});

describe("validateAudience", () => {
  it("accepts a service name or URL", () => {
    expect(validateAudience("https://reports.example.com")).toBe("https://reports.example.com");
    expect(validateAudience("a".repeat(256))).toHaveLength(256);
  });

  it.each([
    ["", "audience: is required (the service the token is for)"],
    ["two words", "audience: must not contain whitespace or control characters"],
    ["tab\there", "audience: must not contain whitespace or control characters"],
    ["a".repeat(257), "audience: must be at most 256 characters (got 257)"],
  ])("refuses %j", (audience, message) => {
    expect(thrownBy(() => validateAudience(audience))).toBe(errorText("invalid_argument", message));
  });
});
