/**
 * The CreateGroup input the test fixtures build when they create groups
 * directly through the app: one set of defaults for all of them.
 */
import type { GroupInput } from "../../src/app/index.ts";

/** Fields to set instead of the defaults; one left undefined keeps its default (so optional fixture specs can be passed as they are). */
export type GroupInputOverrides = { readonly [K in keyof GroupInput]?: GroupInput[K] | undefined };

/** A valid CreateGroup input with `slug`: top-level, no namespace, description or labels, PRIVATE, MEMBERS; display name defaults to the slug. */
export function groupInput(slug: string, overrides: GroupInputOverrides = {}): GroupInput {
  return {
    namespace: overrides.namespace ?? "",
    slug: overrides.slug ?? slug,
    displayName: overrides.displayName ?? slug,
    description: overrides.description ?? "",
    parentId: overrides.parentId ?? "",
    labels: overrides.labels ?? {},
    visibility: overrides.visibility ?? "PRIVATE",
    memberVisibility: overrides.memberVisibility ?? "MEMBERS",
    ...(overrides.joinPolicy === undefined ? {} : { joinPolicy: overrides.joinPolicy }),
    ...(overrides.signupFields === undefined ? {} : { signupFields: overrides.signupFields }),
    ...(overrides.authenticationAssuranceTimeout === undefined ? {} : { authenticationAssuranceTimeout: overrides.authenticationAssuranceTimeout }),
  };
}
