import { describe, expect, it } from "vitest";
import { parseDuration, parseTokenArgs, TokenArgsError } from "../../src/auth/token-args.ts";

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TokenArgsError);
    return (error as Error).message;
  }
  throw new Error("expected a usage error");
}

describe("parseTokenArgs", () => {
  it("defaults to a one-hour user token", () => {
    expect(parseTokenArgs(["alice"])).toEqual({ subject: "alice", admin: false, service: false, ttlSeconds: 3600 });
  });

  it("reads flags in any position", () => {
    expect(parseTokenArgs(["--admin", "bot", "--service", "--ttl", "15m"])).toEqual({
      subject: "bot",
      admin: true,
      service: true,
      ttlSeconds: 900,
    });
    expect(parseTokenArgs(["alice", "--ttl=2d"])).toEqual({ subject: "alice", admin: false, service: false, ttlSeconds: 172800 });
  });

  it("recognises --help", () => {
    expect(parseTokenArgs(["--help"])).toEqual({ help: true });
    expect(parseTokenArgs(["alice", "-h"])).toEqual({ help: true });
  });

  it.each([
    [[], "missing <subject>"],
    [["alice", "bob"], 'unexpected argument "bob": give exactly one subject'],
    [["--root", "alice"], "unknown option --root"],
    [["alice", "--ttl"], "--ttl: needs a value, e.g. --ttl 1h"],
    [["alice", "--ttl", "soon"], '--ttl: "soon" is not a duration like 90s, 15m, 1h or 2d'],
    [["user:alice"], '<subject> is the bare id ("alice"), not a principal ("user:alice"); use --service for services'],
    [["a b"], "<subject> must be 1-256 characters without whitespace or control characters"],
  ])("refuses %j", (argv, message) => {
    expect(usageError(() => parseTokenArgs(argv))).toBe(message);
  });
});

describe("parseDuration", () => {
  it.each([
    ["90", 90],
    ["90s", 90],
    ["15m", 900],
    ["1h", 3600],
    ["30d", 2592000],
  ])("%s → %i s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["0", "0s", "31d", "-1h", "1.5h", "1w", "h"])("refuses %j", (text) => {
    expect(usageError(() => parseDuration(text))).toMatch(/^--ttl: /);
  });
});
