import { describe, expect, it } from "vitest";
import type { CheckMembershipResult } from "../../src/app/index.ts";
import { createReadResponses } from "../../src/convert/read-responses.ts";

/** A direct member's answer on `groupId`. */
function memberOf(groupId: string): CheckMembershipResult {
  return { isMember: true, role: "MEMBER", path: [groupId], status: "ACTIVE", expireTime: undefined };
}

describe("kept read responses", () => {
  it("keeps at most maxEntries answers, the least recently used leaving first", () => {
    const responses = createReadResponses(2);
    const first = responses.checkMembership(memberOf("g1"));
    const second = responses.checkMembership(memberOf("g2"));
    expect(responses.checkMembership(memberOf("g1"))).toBe(first);
    responses.checkMembership(memberOf("g3"));
    expect(responses.checkMembership(memberOf("g1"))).toBe(first);
    const again = responses.checkMembership(memberOf("g2"));
    expect(again).not.toBe(second);
    expect(again).toEqual(second);
  });

  it("answers each distinct answer with its own frozen response", () => {
    const responses = createReadResponses();
    const member = responses.checkMembership(memberOf("g1"));
    const other = responses.checkMembership({ ...memberOf("g1"), role: "ADMIN" });
    expect(other).not.toBe(member);
    expect(Object.isFrozen(member)).toBe(true);
    expect(member.path).toEqual(["g1"]);
  });

  it("answers a frozen answer (one the read model keeps) by the answer object, outside the bound of the others", () => {
    const responses = createReadResponses(1);
    const kept = Object.freeze({ ...memberOf("g1"), path: Object.freeze(["g1"]) });
    const response = responses.checkMembership(kept);
    expect(response).toEqual(responses.checkMembership(memberOf("g1")));
    responses.checkMembership(memberOf("g2")); // fills the bound of unfrozen answers
    expect(responses.checkMembership(kept)).toBe(response);
    expect(Object.isFrozen(response)).toBe(true);
    // Another answer object, even an equal one, is not the kept one.
    expect(responses.checkMembership(Object.freeze({ ...kept }))).not.toBe(response);
  });
});
