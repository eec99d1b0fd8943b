/**
 * Input rules for groups and list requests. Every error is invalid_argument
 * naming the request field ("group.slug: must match …"), so a client can fix
 * the request without guessing. Functions that normalise (trim, defaults)
 * return the value to store.
 */
import { invalidArgument } from "./errors.ts";
import type { AclEntry, GroupDraft, JoinPolicy, Permission, Role } from "./model.ts";
import { checkPrincipalId, parsePrincipal, type ParsedPrincipal } from "./principal.ts";
import { codePointLength as length } from "./text-length.ts";

export const SLUG_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const LABEL_KEY_PATTERN = /^[a-z][a-z0-9_.-]{0,62}$/;
export const MAX_DISPLAY_NAME_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 4096;
export const MAX_LABELS = 64;
export const MAX_LABEL_VALUE_LENGTH = 256;
export const MAX_REQUEST_ID_LENGTH = 128;
export const MAX_ACL_ENTRIES = 256;
export const MAX_QUERY_LENGTH = 200;
export const MAX_BATCH_GET_IDS = 100;
export const DEFAULT_PAGE_SIZE = 50;
export const SIGNUP_FIELD_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
export const MAX_SIGNUP_FIELDS = 16;
/** A year: the longest high-assurance window. */
export const MAX_ASSURANCE_TIMEOUT_SECONDS = 31_536_000;
export const MAX_PAGE_SIZE = 1000;

function checkMaxLength(value: string, max: number, field: string): void {
  const n = length(value);
  if (n > max) throw invalidArgument(field, `must be at most ${max} characters (got ${n})`);
}

/** A slug: required, `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`. */
export function validateSlug(slug: string, field = "group.slug"): string {
  if (slug === "") throw invalidArgument(field, "is required");
  if (!SLUG_PATTERN.test(slug)) throw invalidArgument(field, `must match ${SLUG_PATTERN.source}`);
  return slug;
}

/** A namespace: "" (global) or the slug charset. */
export function validateNamespace(namespace: string, field = "group.namespace"): string {
  if (namespace !== "" && !SLUG_PATTERN.test(namespace)) {
    throw invalidArgument(field, `must be empty or match ${SLUG_PATTERN.source}`);
  }
  return namespace;
}

/** A display name: trimmed, then 1-200 characters. Returns the trimmed name. */
export function normalizeDisplayName(displayName: string, field = "group.display_name"): string {
  const trimmed = displayName.trim();
  if (trimmed === "") throw invalidArgument(field, "is required");
  checkMaxLength(trimmed, MAX_DISPLAY_NAME_LENGTH, field);
  return trimmed;
}

/** A description: at most 4096 characters. */
export function validateDescription(description: string, field = "group.description"): string {
  checkMaxLength(description, MAX_DESCRIPTION_LENGTH, field);
  return description;
}

/** Labels: at most 64; keys 1-63 of [a-z0-9_.-] starting with a letter; values at most 256 characters. */
export function validateLabels(labels: Readonly<Record<string, string>>, field = "group.labels"): Readonly<Record<string, string>> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    throw invalidArgument(field, `must have at most ${MAX_LABELS} entries (got ${entries.length})`);
  }
  for (const [key, value] of entries) {
    if (!LABEL_KEY_PATTERN.test(key)) {
      throw invalidArgument(field, `key ${JSON.stringify(key)} must be 1-63 characters of [a-z0-9_.-] starting with a letter`);
    }
    const n = length(value);
    if (n > MAX_LABEL_VALUE_LENGTH) {
      throw invalidArgument(field, `value of ${JSON.stringify(key)} must be at most ${MAX_LABEL_VALUE_LENGTH} characters (got ${n})`);
    }
  }
  return labels;
}

/** A group id named in a request: required, and shaped like a principal id. */
export function validateGroupId(id: string, field: string): string {
  if (id === "") throw invalidArgument(field, "is required");
  checkPrincipalId(id, field);
  return id;
}

/** An optional parent id: "" (top level) or a group id. */
export function validateParentId(parentId: string, field = "group.parent_id"): string {
  return parentId === "" ? "" : validateGroupId(parentId, field);
}

/** An idempotency key: optional, at most 128 characters. */
export function validateRequestId(requestId: string, field = "request_id"): string {
  checkMaxLength(requestId, MAX_REQUEST_ID_LENGTH, field);
  return requestId;
}

/** A search query: at most 200 characters. */
export function validateQuery(query: string, field = "query"): string {
  checkMaxLength(query, MAX_QUERY_LENGTH, field);
  return query;
}

/** BatchGetGroups ids: 1-100 valid ids; duplicates are dropped (answered once), order kept. */
export function validateBatchGetIds(ids: readonly string[], field = "ids"): string[] {
  if (ids.length < 1 || ids.length > MAX_BATCH_GET_IDS) {
    throw invalidArgument(field, `must have 1-${MAX_BATCH_GET_IDS} entries (got ${ids.length})`);
  }
  ids.forEach((id, i) => validateGroupId(id, `${field}[${i}]`));
  return [...new Set(ids)];
}

/** Signup field names: at most 16 distinct names of [a-z0-9_] starting with a letter (1-63 characters). */
export function validateSignupFields(names: readonly string[], field = "group.policies.signup_fields"): string[] {
  if (names.length > MAX_SIGNUP_FIELDS)
    throw invalidArgument(field, `must have at most ${MAX_SIGNUP_FIELDS} entries (got ${names.length})`);
  names.forEach((name, i) => {
    if (!SIGNUP_FIELD_PATTERN.test(name)) throw invalidArgument(`${field}[${i}]`, `must match ${SIGNUP_FIELD_PATTERN.source}`);
    if (names.indexOf(name) !== i) throw invalidArgument(`${field}[${i}]`, `duplicates ${JSON.stringify(name)}`);
  });
  return [...names];
}

/** A high-assurance window in seconds: 0 (off) to a year. */
export function validateAssuranceTimeout(seconds: number, field = "group.policies.authentication_assurance_timeout"): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_ASSURANCE_TIMEOUT_SECONDS) {
    throw invalidArgument(field, `must be 0 (off) to ${MAX_ASSURANCE_TIMEOUT_SECONDS} seconds (got ${seconds})`);
  }
  return seconds;
}

/** The join policies of a group's values, validated, with their defaults (CLOSED, none, off). */
export function validateJoinPolicies(
  values: Pick<GroupDraft, "joinPolicy" | "signupFields" | "authenticationAssuranceTimeout">,
  prefix = "group",
): { joinPolicy: JoinPolicy; signupFields: string[]; authenticationAssuranceTimeout: number } {
  return {
    joinPolicy: values.joinPolicy ?? "CLOSED",
    signupFields: validateSignupFields(values.signupFields ?? [], `${prefix}.policies.signup_fields`),
    authenticationAssuranceTimeout: validateAssuranceTimeout(
      values.authenticationAssuranceTimeout ?? 0,
      `${prefix}.policies.authentication_assurance_timeout`,
    ),
  };
}

/** A filter of group ids (WatchChanges, ListChanges): 0-100 valid ids; duplicates are dropped, order kept. */
export function validateGroupIdFilter(ids: readonly string[], field = "group_ids"): string[] {
  if (ids.length > MAX_BATCH_GET_IDS) {
    throw invalidArgument(field, `must have at most ${MAX_BATCH_GET_IDS} entries (got ${ids.length})`);
  }
  ids.forEach((id, i) => validateGroupId(id, `${field}[${i}]`));
  return [...new Set(ids)];
}

/** One of CreateGroup's initial members as the client sent it; `role` undefined is ROLE_UNSPECIFIED (MEMBER). */
export interface InitialMemberInput {
  readonly member: string;
  readonly role: Role | undefined;
}

/** A checked initial member. */
export interface InitialMember {
  readonly member: ParsedPrincipal;
  readonly role: Role;
}

/**
 * CreateGroup's initial members: at most `max`, each a well-formed
 * principal listed once ("members[3].member: …"). The creator becomes the
 * group's ADMIN anyway: listed as ADMIN it is left out, with another role
 * it is refused (the group would start without its creator's ADMIN).
 */
export function validateInitialMembers(members: readonly InitialMemberInput[], creator: string, max: number): InitialMember[] {
  if (members.length > max) throw invalidArgument("members", `must have at most ${max} entries (got ${members.length})`);
  const firstIndex = new Map<string, number>();
  const checked: InitialMember[] = [];
  members.forEach((input, i) => {
    const member = parsePrincipal(input.member, `members[${i}].member`);
    const earlier = firstIndex.get(member.principal);
    if (earlier !== undefined) throw invalidArgument(`members[${i}].member`, `${member.principal} is already members[${earlier}]`);
    firstIndex.set(member.principal, i);
    const role = input.role ?? "MEMBER";
    if (member.principal !== creator) {
      checked.push({ member, role });
    } else if (role !== "ADMIN") {
      throw invalidArgument(`members[${i}].role`, `the creator ${creator} becomes the group's ADMIN and cannot be listed as ${role}`);
    }
  });
  return checked;
}

/** Validates and normalises a group to create; fields are named under `prefix` ("group"). */
export function validateGroupDraft(draft: GroupDraft, prefix = "group"): GroupDraft & ReturnType<typeof validateJoinPolicies> {
  return {
    namespace: validateNamespace(draft.namespace, `${prefix}.namespace`),
    slug: validateSlug(draft.slug, `${prefix}.slug`),
    displayName: normalizeDisplayName(draft.displayName, `${prefix}.display_name`),
    description: validateDescription(draft.description, `${prefix}.description`),
    parentId: validateParentId(draft.parentId, `${prefix}.parent_id`),
    labels: validateLabels(draft.labels, `${prefix}.labels`),
    visibility: draft.visibility,
    memberVisibility: draft.memberVisibility,
    ...validateJoinPolicies(draft, prefix),
  };
}

/** An ACL entry as received: NONE stands for an unspecified permission. */
export interface AclEntryInput {
  readonly principal: string;
  readonly permission: Permission;
}

/**
 * A complete ACL: at most 256 entries, valid principals, READ/WRITE/MANAGE,
 * one entry per principal. Returns the entries ordered by principal, as
 * stored and returned.
 */
export function validateAcl(entries: readonly AclEntryInput[], field = "entries"): AclEntry[] {
  if (entries.length > MAX_ACL_ENTRIES) {
    throw invalidArgument(field, `must have at most ${MAX_ACL_ENTRIES} entries (got ${entries.length})`);
  }
  const seen = new Map<string, number>();
  const result: AclEntry[] = [];
  entries.forEach((entry, i) => {
    parsePrincipal(entry.principal, `${field}[${i}].principal`);
    const first = seen.get(entry.principal);
    if (first !== undefined) {
      throw invalidArgument(
        `${field}[${i}].principal`,
        `duplicate principal ${JSON.stringify(entry.principal)} (already in ${field}[${first}])`,
      );
    }
    seen.set(entry.principal, i);
    if (entry.permission === "NONE") throw invalidArgument(`${field}[${i}].permission`, "must be READ, WRITE or MANAGE");
    result.push({ principal: entry.principal, permission: entry.permission });
  });
  return result.sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0));
}

/** Page size: 0 means 50, above 1000 is clamped to 1000, negative is refused. */
export function normalizePageSize(pageSize: number, field = "page_size"): number {
  if (!Number.isInteger(pageSize)) throw invalidArgument(field, "must be an integer");
  if (pageSize < 0) throw invalidArgument(field, "must not be negative");
  if (pageSize === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(pageSize, MAX_PAGE_SIZE);
}

/** The sort keys ListGroups supports. */
export type GroupOrderField = "display_name" | "create_time";

/** A parsed `order_by`. */
export interface GroupOrder {
  readonly field: GroupOrderField;
  readonly descending: boolean;
}

/**
 * `order_by`: "display_name" or "create_time", optionally followed by
 * " desc" (or " asc"); empty means display_name ascending.
 */
export function parseOrderBy(orderBy: string, field = "order_by"): GroupOrder {
  const words = orderBy
    .trim()
    .split(/\s+/u)
    .filter((w) => w !== "");
  if (words.length === 0) return { field: "display_name", descending: false };
  const [name, direction, ...rest] = words;
  const ok =
    (name === "display_name" || name === "create_time") &&
    (direction === undefined || direction === "desc" || direction === "asc") &&
    rest.length === 0;
  if (!ok) throw invalidArgument(field, 'must be "display_name" or "create_time", optionally followed by " desc"');
  return { field: name, descending: direction === "desc" };
}
