/**
 * Whether a stored membership confers anything now. Issue 14 adds
 * invitations and requests (`status` INVITED or REQUESTED; absent means
 * ACTIVE) and expiring memberships (`expireTime`): only an ACTIVE
 * membership that has not expired counts for closures and checks. Time is
 * compared when the question is asked, never when the membership was
 * loaded, so a read model holding it stops counting it on time. This is the
 * one place the rule lives; issue 14 may replace it with its own.
 */

/** The parts of a stored membership that decide its standing. */
export interface MembershipStanding {
  /** Absent: ACTIVE. */
  readonly status?: string;
  /** Absent: never expires. */
  readonly expireTime?: Date;
}

/** Whether `membership` confers its role at `now` (epoch ms). */
export function confersAt(membership: MembershipStanding, now: number): boolean {
  if (membership.status !== undefined && membership.status !== "ACTIVE") return false;
  return membership.expireTime === undefined || membership.expireTime.getTime() > now;
}
