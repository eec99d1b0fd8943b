/**
 * State rules of a group's life: what may happen to a deleted group and when
 * a group may be deleted. Access (who may) is access-policy.ts; this is about
 * whether the group is in a state that allows it at all.
 */
import { failedPrecondition } from "./errors.ts";
import type { GroupRecord } from "./model.ts";

/**
 * Refuses changes to a DELETED group (members, details, ACL, children): its
 * memberships and grants confer nothing until it is undeleted, so changing
 * them would only surprise. Reading and undeleting stay possible.
 */
export function ensureGroupActive(group: Pick<GroupRecord, "id" | "state">): void {
  if (group.state === "DELETED") throw failedPrecondition(`group "${group.id}" is deleted`);
}

/** UndeleteGroup on a live group is refused rather than silently succeeding. */
export function ensureGroupDeleted(group: Pick<GroupRecord, "id" | "state">): void {
  if (group.state !== "DELETED") throw failedPrecondition(`group "${group.id}" is not deleted`);
}

/** A group with live child groups cannot be deleted (they would be orphaned). */
export function ensureNoLiveChildren(groupId: string, liveChildCount: number): void {
  if (liveChildCount > 0) {
    const noun = liveChildCount === 1 ? "child group" : "child groups";
    throw failedPrecondition(`group "${groupId}" has ${liveChildCount} live ${noun}; delete them first`);
  }
}
