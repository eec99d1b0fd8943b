/**
 * The rules of a membership's life before and after it confers anything:
 * invitations, join requests (a group's join policy and signup fields) and
 * expire times. Pure; the membership-operation engine applies them to every
 * unary and batch operation, and the access policy borrows `joinRefusal`
 * for RequestToJoin's access rule.
 */
import { alreadyExists, invalidArgument, notFound, permissionDenied, type RosterError } from "./errors.ts";
import { statusOf } from "./membership-status.ts";
import type { GroupRecord, MembershipRecord } from "./model.ts";
import { codePointLength } from "./text-length.ts";

/** Longest invitation or join request message. */
export const MAX_MESSAGE_LENGTH = 4096;
/** Longest signup field value. */
export const MAX_FIELD_VALUE_LENGTH = 1024;
/** Default lifetime of an invitation: 14 days (ROSTER_INVITATION_TTL_DAYS). */
export const DEFAULT_INVITATION_TTL_DAYS = 14;

/** The PERMISSION_DENIED of RequestToJoin on a CLOSED group (the caller can see it). */
export function joinRefusal(groupId: string): RosterError {
  return permissionDenied(`permission denied: group ${groupId} does not accept join requests (join_policy CLOSED)`);
}

/** ALREADY_EXISTS for inviting, or asking to join for, a principal that has a membership (naming its status). */
export function membershipExists(existing: MembershipRecord): RosterError {
  return alreadyExists(`${existing.member} already has a membership of group "${existing.groupId}" (status ${statusOf(existing)})`);
}

/** NOT_FOUND for answering an invitation that is not pending. */
export function noInvitation(groupId: string, member: string): RosterError {
  return notFound(`${member} has no pending invitation to group "${groupId}"`);
}

/** NOT_FOUND for deciding a join request that is not pending. */
export function noJoinRequest(groupId: string, member: string): RosterError {
  return notFound(`${member} has no pending join request to group "${groupId}"`);
}

/** An invitation's or a join request's message: at most 4096 characters. */
export function validateMessage(message: string, field: string): string {
  const length = codePointLength(message);
  if (length > MAX_MESSAGE_LENGTH) throw invalidArgument(field, `must be at most ${MAX_MESSAGE_LENGTH} characters (got ${length})`);
  return message;
}

/** An expire_time to set: strictly after `now` (a time already past would remove at once). */
export function validateExpireTime(expireTime: Date, now: Date, field = "expire_time"): Date {
  if (expireTime.getTime() <= now.getTime()) throw invalidArgument(field, `must be in the future (got ${expireTime.toISOString()})`);
  return expireTime;
}

/**
 * The signup field values of a join request to `group`: every signup field
 * present and non-empty, no other field, each value at most 1024
 * characters. Errors name the field ("fields.institution").
 */
export function validateSignupValues(
  group: Pick<GroupRecord, "id" | "signupFields">,
  fields: Readonly<Record<string, string>>,
  field = "fields",
): Record<string, string> {
  for (const name of Object.keys(fields).sort()) {
    if (!group.signupFields.includes(name)) throw invalidArgument(`${field}.${name}`, `is not a signup field of group "${group.id}"`);
    const length = codePointLength(fields[name] ?? "");
    if (length > MAX_FIELD_VALUE_LENGTH)
      throw invalidArgument(`${field}.${name}`, `must be at most ${MAX_FIELD_VALUE_LENGTH} characters (got ${length})`);
  }
  for (const name of group.signupFields) {
    if ((fields[name] ?? "").trim() === "") throw invalidArgument(`${field}.${name}`, `is required by group "${group.id}"`);
  }
  return { ...fields };
}
