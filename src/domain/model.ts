/**
 * Plain data types shared by every layer. They mirror the proto messages but
 * use string unions instead of generated enums so that the domain stays free
 * of gen/ and can be tested with literals. Converters at the edges
 * (src/handlers, src/storage) translate to and from protobuf and documents.
 */

/** A member's role in a group. */
export type Role = "MEMBER" | "MANAGER" | "ADMIN";

/** A level of access, ordered NONE < READ < WRITE < MANAGE (see permissions.ts). */
export type Permission = "NONE" | "READ" | "WRITE" | "MANAGE";

/** A permission that can be granted in an ACL entry. */
export type GrantablePermission = Exclude<Permission, "NONE">;

/** Who may see a group's details. */
export type Visibility = "PRIVATE" | "AUTHENTICATED";

/** Who may list a group's members. */
export type MemberVisibility = "MEMBERS" | "MANAGERS";

/** Whether and how non-members may join a group (absent in storage: CLOSED). */
export type JoinPolicy = "CLOSED" | "REQUEST" | "OPEN";

/**
 * Where a membership stands: ACTIVE, or pending (INVITED: waiting for the
 * invitee; REQUESTED: waiting for a manager). Only ACTIVE confers anything
 * (membership-status.ts).
 */
export type MembershipStatus = "ACTIVE" | "INVITED" | "REQUESTED";

/** Lifecycle state of a group. */
export type GroupState = "ACTIVE" | "DELETED";

/** The kinds of principal: `user:<id>`, `group:<group id>`, `service:<id>`. */
export type PrincipalKind = "user" | "group" | "service";

/** Every role, lowest first. */
export const roles: readonly Role[] = ["MEMBER", "MANAGER", "ADMIN"];

/** The authenticated caller of an RPC, as produced by the JWT verifier. */
export interface Caller {
  /** "user:alice" or "service:x" (never "group:…"). */
  readonly principal: string;
  /** Listed in ROSTER_ADMINS (or, in development mode, a roster_admin token claim). */
  readonly isSystemAdmin: boolean;
  /**
   * When the caller last authenticated: the token's `auth_time` claim
   * (high-assurance groups need it recent). Undefined when the token has none.
   */
  readonly authTime?: Date | undefined;
  /**
   * When the caller's credential stops being accepted (a token's `exp` plus
   * the allowed clock skew): a stream still open then is ended. Undefined for
   * a credential without one (a client certificate, checked by its
   * connection's TLS handshake).
   */
  readonly credentialExpiresAt?: Date | undefined;
}

/** One grant of a group's access control list. */
export interface AclEntry {
  readonly principal: string;
  readonly permission: GrantablePermission;
}

/** The mutable fields of a group: what UpdateGroup may replace. */
export interface GroupValues {
  readonly displayName: string;
  readonly description: string;
  /** "" for a top-level group. */
  readonly parentId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly visibility: Visibility;
  readonly memberVisibility: MemberVisibility;
  /** Absent: CLOSED. */
  readonly joinPolicy?: JoinPolicy;
  /** Names of the fields a join request must carry; absent: none. */
  readonly signupFields?: readonly string[];
  /** High assurance: callers must have authenticated within this many seconds; absent or 0: off. */
  readonly authenticationAssuranceTimeout?: number;
}

/** The fields of a group its creator sets: the mutable ones plus the immutable scope and slug. */
export interface GroupDraft extends GroupValues {
  readonly namespace: string;
  readonly slug: string;
}

/** A group as stored and returned: its draft plus the fields the service maintains. */
export interface GroupRecord extends GroupDraft {
  readonly joinPolicy: JoinPolicy;
  readonly signupFields: readonly string[];
  readonly authenticationAssuranceTimeout: number;
  readonly id: string;
  readonly state: GroupState;
  /** Number of direct members. */
  readonly memberCount: number;
  readonly acl: readonly AclEntry[];
  readonly createTime: Date;
  readonly updateTime: Date;
  /** Set while the group is DELETED. */
  readonly deleteTime: Date | undefined;
  readonly createdBy: string;
  readonly updatedBy: string;
  /** Opaque version of details and ACL; changes on every update. */
  readonly etag: string;
}

/** A principal's membership of a group (direct, or transitive in listings). */
export interface MembershipRecord {
  readonly groupId: string;
  readonly member: string;
  readonly role: Role;
  readonly createTime: Date;
  readonly updateTime: Date;
  readonly createdBy: string;
  /** Absent: ACTIVE. */
  readonly status?: Exclude<MembershipStatus, "ACTIVE"> | undefined;
  /** When it ends by itself; absent: never. */
  readonly expireTime?: Date | undefined;
  /** The invitation's or join request's message; absent: none. */
  readonly message?: string | undefined;
  /** A join request's signup field values; absent: none. */
  readonly fields?: Readonly<Record<string, string>> | undefined;
  /** Transitive listings only: the direct member groups the member is reached through, sorted. */
  readonly viaGroupIds?: readonly string[];
}
