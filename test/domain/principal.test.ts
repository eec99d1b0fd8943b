import { describe, expect, it } from "vitest";
import {
  formatPrincipal,
  groupIdOfPrincipal,
  groupPrincipal,
  isValidPrincipal,
  isValidPrincipalId,
  parsePrincipal,
} from "../../src/domain/principal.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";

describe("parsePrincipal", () => {
  it.each([
    ["user:alice", "user", "alice"],
    ["service:ci-bot", "service", "ci-bot"],
    ["group:65f0c0ffee", "group", "65f0c0ffee"],
    ["user:a:b", "user", "a:b"],
    ["user:alice@example.com", "user", "alice@example.com"],
    [`user:${"x".repeat(256)}`, "user", "x".repeat(256)],
    [`user:${"é".repeat(256)}`, "user", "é".repeat(256)],
    ["user:😀", "user", "😀"],
  ])("accepts %s", (value, kind, id) => {
    expect(parsePrincipal(value, "member")).toEqual({ kind, id, principal: value });
    expect(isValidPrincipal(value)).toBe(true);
  });

  const shape = 'invalid_argument: member: must be "user:<id>", "group:<group id>" or "service:<id>"';
  const length = "invalid_argument: member: id must be 1-256 characters";
  const chars = "invalid_argument: member: id must not contain whitespace or control characters";
  it.each([
    ["", "invalid_argument: member: is required"],
    ["alice", shape],
    ["User:alice", shape],
    ["robot:x", shape],
    [":alice", shape],
    ["user:", length],
    [`user:${"x".repeat(257)}`, length],
    ["user:al ice", chars],
    ["user: alice", chars],
    ["user:alice\n", chars],
    ["user:a\tb", chars],
    ["user:a\u0000b", chars],
    ["user:a\u007fb", chars],
    ["user:a\u00a0b", chars],
    ["user:a\u2028b", chars],
  ])("refuses %j", (value, expected) => {
    expect(thrownBy(() => parsePrincipal(value, "member"))).toBe(expected);
    expect(isValidPrincipal(value)).toBe(false);
  });

  it("names the field it was given", () => {
    expect(thrownBy(() => parsePrincipal("x", "entries[2].principal"))).toBe(
      'invalid_argument: entries[2].principal: must be "user:<id>", "group:<group id>" or "service:<id>"',
    );
  });

  it("exposes the field on the error", () => {
    try {
      parsePrincipal("", "principal");
      expect.unreachable();
    } catch (error) {
      expect((error as { field?: string }).field).toBe("principal");
    }
  });
});

describe("principal helpers", () => {
  it("formats and splits group principals", () => {
    expect(groupPrincipal("g1")).toBe("group:g1");
    expect(formatPrincipal("service", "x")).toBe("service:x");
    expect(groupIdOfPrincipal("group:g1")).toBe("g1");
    expect(groupIdOfPrincipal("user:g1")).toBeUndefined();
  });

  it("checks bare ids (JWT subjects)", () => {
    expect(isValidPrincipalId("alice")).toBe(true);
    expect(isValidPrincipalId("")).toBe(false);
    expect(isValidPrincipalId("a b")).toBe(false);
    expect(isValidPrincipalId("x".repeat(257))).toBe(false);
  });
});
