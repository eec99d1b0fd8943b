import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken, requestFingerprint } from "../../src/domain/page-token.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";

type Key = [string, string];
const isKey = (value: unknown): value is Key => Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string");

const fingerprint = requestFingerprint({ caller: "user:alice", namespace: "acme", orderBy: "display_name", query: "" });

describe("page tokens", () => {
  it("round-trips the last key", () => {
    const token = encodePageToken(["Engineering", "g42"], fingerprint);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token, fingerprint, isKey)).toEqual(["Engineering", "g42"]);
  });

  it("round-trips unusual keys", () => {
    const key: Key = ['ünïcode 😀 "quoted"', ""];
    expect(decodePageToken(encodePageToken(key, fingerprint), fingerprint, isKey)).toEqual(key);
  });

  it("treats an empty token as the first page", () => {
    expect(decodePageToken("", fingerprint, isKey)).toBeUndefined();
  });

  const invalid = "invalid_argument: page_token: is not a valid page token";
  it.each([
    ["garbage", "not a token!"],
    ["base64 of non-JSON", Buffer.from("hello").toString("base64url")],
    ["JSON without fields", Buffer.from("{}").toString("base64url")],
    ["JSON array", Buffer.from("[1,2]").toString("base64url")],
    ["a non-string fingerprint", Buffer.from(JSON.stringify({ k: ["a", "b"], f: 1 })).toString("base64url")],
    ["a key of the wrong shape", encodePageToken({ k: 1 }, fingerprint)],
    ["an overlong token", "A".repeat(5000)],
  ])("refuses %s", (_name, token) => {
    expect(thrownBy(() => decodePageToken(token, fingerprint, isKey))).toBe(invalid);
  });

  it("refuses a token from another request", () => {
    const token = encodePageToken(["a", "b"], fingerprint);
    const other = requestFingerprint({ caller: "user:alice", namespace: "acme", orderBy: "create_time", query: "" });
    expect(thrownBy(() => decodePageToken(token, other, isKey))).toBe(
      "invalid_argument: page_token: was issued for a different request (the other fields must be unchanged)",
    );
    expect(thrownBy(() => decodePageToken(token, other, isKey, "operations[0].page_token"))).toBe(
      "invalid_argument: operations[0].page_token: was issued for a different request (the other fields must be unchanged)",
    );
  });

  it("fingerprints by value, not by field order, and ignores undefined fields", () => {
    expect(requestFingerprint({ a: 1, b: "x" })).toBe(requestFingerprint({ b: "x", a: 1 }));
    expect(requestFingerprint({ a: 1, b: undefined })).toBe(requestFingerprint({ a: 1 }));
    expect(requestFingerprint({ a: 1 })).not.toBe(requestFingerprint({ a: 2 }));
    expect(requestFingerprint({ a: [1, 2] })).not.toBe(requestFingerprint({ a: [2, 1] }));
    expect(requestFingerprint({ a: { x: 1, y: 2 } })).toBe(requestFingerprint({ a: { y: 2, x: 1 } }));
    expect(requestFingerprint({ a: null })).not.toBe(requestFingerprint({ a: "null" }));
  });
});
