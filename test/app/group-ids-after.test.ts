import { describe, expect, it } from "vitest";
import { groupIdsAfter } from "../../src/app/principal-closure.ts";
import type { Role } from "../../src/domain/model.ts";

describe("groupIdsAfter (ListPrincipalGroups' order)", () => {
  const roles = new Map<string, Role>([
    ["team-b", "MEMBER"],
    ["Team-Z", "ADMIN"],
    ["team-a", "MANAGER"],
    ["team-c", "MEMBER"],
  ]);

  it("answers the ids in code-unit order above the keyset, as sorting them per call did", () => {
    const everyId = [...roles.keys()].sort();
    expect(groupIdsAfter(roles, undefined)).toEqual(everyId);
    for (const after of ["", "Team-Z", "team-a", "team-aa", "team-b", "team-c", "zzz"]) {
      expect(groupIdsAfter(roles, after), after).toEqual(everyId.filter((id) => id > after));
    }
  });

  it("sorts a map once and hands out copies", () => {
    const first = groupIdsAfter(roles, undefined);
    first.pop();
    expect(groupIdsAfter(roles, undefined)).toEqual(["Team-Z", "team-a", "team-b", "team-c"]);
  });
});
