/**
 * UpdateGroup semantics: which fields an update mask names, what the update
 * changes, and whether it touches a MANAGE-only field an access rule names
 * (policies, parent) — the fact `evaluateAccess` needs as `manageFieldChanged`.
 */
import { invalidArgument } from "./errors.ts";
import type { GroupRecord, GroupValues } from "./model.ts";
import {
  normalizeDisplayName,
  validateDescription,
  validateLabels,
  validateAssuranceTimeout,
  validateParentId,
  validateSignupFields,
} from "./group-validation.ts";

/** A mutable group field, as named in an update mask. */
export type GroupField =
  | "display_name"
  | "description"
  | "labels"
  | "policies.visibility"
  | "policies.member_visibility"
  | "policies.join_policy"
  | "policies.signup_fields"
  | "policies.authentication_assurance_timeout"
  | "parent_id";

/** Every mutable field: the effect of an empty mask ("replace every mutable field"). */
export const mutableGroupFields: readonly GroupField[] = [
  "display_name",
  "description",
  "labels",
  "policies.visibility",
  "policies.member_visibility",
  "policies.join_policy",
  "policies.signup_fields",
  "policies.authentication_assurance_timeout",
  "parent_id",
];

const policyFields = mutableGroupFields.filter((field) => field.startsWith("policies."));
const allowedPaths = ["display_name", "description", "labels", "policies", ...mutableGroupFields.slice(3)];

/**
 * The fields an update mask names; "policies" stands for both policy fields.
 * No paths means every mutable field. Unknown paths are refused.
 */
export function parseUpdateMask(paths: readonly string[], field = "update_mask"): ReadonlySet<GroupField> {
  if (paths.length === 0) return new Set(mutableGroupFields);
  const fields = new Set<GroupField>();
  for (const path of paths) {
    if (path === "policies") {
      for (const policy of policyFields) fields.add(policy);
      continue;
    }
    const known = mutableGroupFields.find((f) => f === path);
    if (known === undefined) {
      throw invalidArgument(field, `unknown or immutable field ${JSON.stringify(path)} (allowed: ${allowedPaths.join(", ")})`);
    }
    fields.add(known);
  }
  return fields;
}

/**
 * The masked changes that differ from the stored group, validated and
 * normalised (display name trimmed). Fields are named "group.<field>".
 */
export function changedGroupValues(current: GroupRecord, requested: GroupValues, mask: ReadonlySet<GroupField>): Partial<GroupValues> {
  const changes: { -readonly [K in keyof GroupValues]?: GroupValues[K] } = {};
  if (mask.has("display_name")) {
    const value = normalizeDisplayName(requested.displayName);
    if (value !== current.displayName) changes.displayName = value;
  }
  if (mask.has("description")) {
    const value = validateDescription(requested.description);
    if (value !== current.description) changes.description = value;
  }
  if (mask.has("labels")) {
    const value = validateLabels(requested.labels);
    if (!sameLabels(value, current.labels)) changes.labels = value;
  }
  if (mask.has("policies.visibility") && requested.visibility !== current.visibility) {
    changes.visibility = requested.visibility;
  }
  if (mask.has("policies.member_visibility") && requested.memberVisibility !== current.memberVisibility) {
    changes.memberVisibility = requested.memberVisibility;
  }
  if (mask.has("policies.join_policy") && (requested.joinPolicy ?? "CLOSED") !== current.joinPolicy) {
    changes.joinPolicy = requested.joinPolicy ?? "CLOSED";
  }
  if (mask.has("policies.signup_fields")) {
    const value = validateSignupFields(requested.signupFields ?? []);
    if (value.join("\n") !== current.signupFields.join("\n")) changes.signupFields = value;
  }
  if (mask.has("policies.authentication_assurance_timeout")) {
    const value = validateAssuranceTimeout(requested.authenticationAssuranceTimeout ?? 0);
    if (value !== current.authenticationAssuranceTimeout) changes.authenticationAssuranceTimeout = value;
  }
  if (mask.has("parent_id")) {
    const value = validateParentId(requested.parentId);
    if (value !== current.parentId) changes.parentId = value;
  }
  return changes;
}

/** The request field each group value is sent in, as access rules name them (manage_fields). */
const requestFieldOf: Readonly<Record<keyof GroupValues, string>> = {
  displayName: "group.display_name",
  description: "group.description",
  labels: "group.labels",
  visibility: "group.policies",
  memberVisibility: "group.policies",
  joinPolicy: "group.policies",
  signupFields: "group.policies",
  authenticationAssuranceTimeout: "group.policies",
  parentId: "group.parent_id",
};

/**
 * The first of `manageFields` (request fields whose change needs MANAGE, as
 * an access rule declares them, e.g. "group.policies", "group.parent_id")
 * that `changes` change, or undefined.
 */
export function manageFieldChanged(changes: Partial<GroupValues>, manageFields: readonly string[]): string | undefined {
  const changed = new Set(
    (Object.keys(changes) as (keyof GroupValues)[]).filter((key) => changes[key] !== undefined).map((key) => requestFieldOf[key]),
  );
  return manageFields.find((field) => changed.has(field));
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}
