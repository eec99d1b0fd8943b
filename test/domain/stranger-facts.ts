/** The facts of a caller with no role and no grant on the live PRIVATE group "g1": what the domain tables vary. */
import type { AccessFacts } from "../../src/domain/access-policy.ts";

export const strangerFacts: AccessFacts = {
  groupId: "g1",
  state: "ACTIVE",
  isSystemAdmin: false,
  role: undefined,
  aclGrants: [],
  ancestorManage: false,
  visibility: "PRIVATE",
  memberVisibility: "MEMBERS",
  joinPolicy: "CLOSED",
  invited: false,
  assurance: undefined,
};
