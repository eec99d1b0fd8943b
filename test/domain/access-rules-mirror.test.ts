import { getOption, hasOption } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { access, Requirement } from "../../gen/roster/v1/access_pb.ts";
import { ChangeService } from "../../gen/roster/v1/change_service_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { accessRules } from "../fixtures/access-rules-table.ts";

// The domain tables test the rules as written in access-rules-table.ts; this
// proves that table is what the proto actually declares, so the two cannot drift.
const methods = [...GroupService.methods, ...MembershipService.methods, ...ChangeService.methods];

describe("access-rules-table mirrors the proto's (roster.v1.access) options", () => {
  it("covers exactly the declared RPCs", () => {
    expect(Object.keys(accessRules).sort()).toEqual(methods.map((m) => m.name).sort());
  });

  it.each(methods.map((m) => [m.name, m] as const))("%s", (name, method) => {
    expect(hasOption(method, access)).toBe(true);
    const rule = getOption(method, access);
    const mirrored = accessRules[name as keyof typeof accessRules];
    expect({
      requires: Requirement[rule.requires].replace(/^REQUIREMENT_/, ""),
      groupField: rule.groupField,
      namespaceField: rule.namespaceField,
      slugField: rule.slugField,
      roleField: rule.roleField,
      memberField: rule.memberField,
      selfAllowed: rule.selfAllowed,
      manageFields: [...rule.manageFields],
      memberGroupNeedsRead: rule.memberGroupNeedsRead,
      parentField: rule.parentField,
      memberDefaultsToCaller: rule.memberDefaultsToCaller,
      memberOptional: rule.memberOptional,
    }).toEqual(mirrored);
  });
});
