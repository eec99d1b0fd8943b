import { describe, expect, it } from "vitest";
import {
  normalizeDisplayName,
  normalizePageSize,
  parseOrderBy,
  validateAcl,
  validateBatchGetIds,
  validateDescription,
  validateGroupDraft,
  validateGroupId,
  validateLabels,
  validateNamespace,
  validateParentId,
  validateQuery,
  validateRequestId,
  validateSlug,
} from "../../src/domain/group-validation.ts";
import type { GroupDraft } from "../../src/domain/model.ts";
import { thrownBy } from "../fixtures/expect-roster-error.ts";

const slugRule = "must match ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

describe("slug and namespace", () => {
  it.each(["a", "0", "eng", "a-b", "a--b", "x".repeat(63), "9lives"])("accepts slug %j", (slug) => {
    expect(validateSlug(slug)).toBe(slug);
  });
  it.each(["-a", "a-", "A", "a_b", "a.b", "a b", "é", "x".repeat(64)])("refuses slug %j", (slug) => {
    expect(thrownBy(() => validateSlug(slug))).toBe(`invalid_argument: group.slug: ${slugRule}`);
  });
  it("requires a slug", () => {
    expect(thrownBy(() => validateSlug(""))).toBe("invalid_argument: group.slug: is required");
    expect(thrownBy(() => validateSlug("", "slug"))).toBe("invalid_argument: slug: is required");
  });
  it("accepts the global namespace and slug-like namespaces", () => {
    expect(validateNamespace("")).toBe("");
    expect(validateNamespace("acme-corp")).toBe("acme-corp");
  });
  it("refuses other namespaces", () => {
    expect(thrownBy(() => validateNamespace("Acme"))).toBe(
      "invalid_argument: group.namespace: must be empty or match ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    );
    expect(thrownBy(() => validateNamespace("a/b", "namespace"))).toBe(
      "invalid_argument: namespace: must be empty or match ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    );
  });
});

describe("display name, description, labels", () => {
  it("trims display names and counts characters, not UTF-16 units", () => {
    expect(normalizeDisplayName("  Engineering \n")).toBe("Engineering");
    expect(normalizeDisplayName("😀".repeat(200))).toBe("😀".repeat(200));
    expect(normalizeDisplayName(` ${"x".repeat(200)} `)).toBe("x".repeat(200));
  });
  it("refuses empty and long display names", () => {
    expect(thrownBy(() => normalizeDisplayName(" \t "))).toBe("invalid_argument: group.display_name: is required");
    expect(thrownBy(() => normalizeDisplayName("x".repeat(201)))).toBe(
      "invalid_argument: group.display_name: must be at most 200 characters (got 201)",
    );
  });
  it("limits descriptions to 4096 characters", () => {
    expect(validateDescription("")).toBe("");
    expect(validateDescription("d".repeat(4096))).toHaveLength(4096);
    expect(thrownBy(() => validateDescription("d".repeat(4097)))).toBe(
      "invalid_argument: group.description: must be at most 4096 characters (got 4097)",
    );
  });
  it("accepts valid labels", () => {
    const labels = { env: "prod", "team.name": "x", a_b: "", k9: "v".repeat(256), ["k".repeat(63)]: "" };
    expect(validateLabels(labels)).toBe(labels);
    expect(validateLabels(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, "v"])))).toBeDefined();
  });
  it.each([
    [{ Env: "x" }, 'invalid_argument: group.labels: key "Env" must be 1-63 characters of [a-z0-9_.-] starting with a letter'],
    [{ "9a": "x" }, 'invalid_argument: group.labels: key "9a" must be 1-63 characters of [a-z0-9_.-] starting with a letter'],
    [{ "": "x" }, 'invalid_argument: group.labels: key "" must be 1-63 characters of [a-z0-9_.-] starting with a letter'],
    [
      { ["k".repeat(64)]: "x" },
      `invalid_argument: group.labels: key "${"k".repeat(64)}" must be 1-63 characters of [a-z0-9_.-] starting with a letter`,
    ],
    [{ env: "v".repeat(257) }, 'invalid_argument: group.labels: value of "env" must be at most 256 characters (got 257)'],
    [
      Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])),
      "invalid_argument: group.labels: must have at most 64 entries (got 65)",
    ],
  ])("refuses labels %#", (labels, expected) => {
    expect(thrownBy(() => validateLabels(labels))).toBe(expected);
  });
});

describe("ids, request ids, queries", () => {
  it("requires group ids shaped like principal ids", () => {
    expect(validateGroupId("g1", "group_id")).toBe("g1");
    expect(thrownBy(() => validateGroupId("", "group_id"))).toBe("invalid_argument: group_id: is required");
    expect(thrownBy(() => validateGroupId("a b", "id"))).toBe("invalid_argument: id: id must not contain whitespace or control characters");
    expect(validateParentId("")).toBe("");
    expect(thrownBy(() => validateParentId("x".repeat(257)))).toBe("invalid_argument: group.parent_id: id must be 1-256 characters");
  });
  it("limits request ids and queries", () => {
    expect(validateRequestId("r".repeat(128))).toHaveLength(128);
    expect(thrownBy(() => validateRequestId("r".repeat(129)))).toBe(
      "invalid_argument: request_id: must be at most 128 characters (got 129)",
    );
    expect(thrownBy(() => validateQuery("q".repeat(201)))).toBe("invalid_argument: query: must be at most 200 characters (got 201)");
  });
  it("checks BatchGetGroups ids and answers duplicates once", () => {
    expect(validateBatchGetIds(["b", "a", "b"])).toEqual(["b", "a"]);
    expect(thrownBy(() => validateBatchGetIds([]))).toBe("invalid_argument: ids: must have 1-100 entries (got 0)");
    expect(thrownBy(() => validateBatchGetIds(Array.from({ length: 101 }, (_, i) => `g${i}`)))).toBe(
      "invalid_argument: ids: must have 1-100 entries (got 101)",
    );
    expect(thrownBy(() => validateBatchGetIds(["a", ""]))).toBe("invalid_argument: ids[1]: is required");
  });
});

describe("validateGroupDraft", () => {
  const draft: GroupDraft = {
    namespace: "",
    slug: "eng",
    displayName: " Engineering ",
    description: "",
    parentId: "",
    labels: {},
    visibility: "PRIVATE",
    memberVisibility: "MEMBERS",
  };
  it("normalises", () => {
    expect(validateGroupDraft(draft)).toEqual({
      ...draft,
      displayName: "Engineering",
      joinPolicy: "CLOSED",
      signupFields: [],
      authenticationAssuranceTimeout: 0,
    });
  });
  it("checks the join policies", () => {
    expect(thrownBy(() => validateGroupDraft({ ...draft, signupFields: ["institution", "Bad"] }))).toBe(
      "invalid_argument: group.policies.signup_fields[1]: must match ^[a-z][a-z0-9_]{0,62}$",
    );
    expect(thrownBy(() => validateGroupDraft({ ...draft, signupFields: ["a", "a"] }))).toBe(
      'invalid_argument: group.policies.signup_fields[1]: duplicates "a"',
    );
    expect(thrownBy(() => validateGroupDraft({ ...draft, signupFields: Array.from({ length: 17 }, (_, i) => `f${i}`) }))).toBe(
      "invalid_argument: group.policies.signup_fields: must have at most 16 entries (got 17)",
    );
    expect(thrownBy(() => validateGroupDraft({ ...draft, authenticationAssuranceTimeout: -1 }))).toBe(
      "invalid_argument: group.policies.authentication_assurance_timeout: must be 0 (off) to 31536000 seconds (got -1)",
    );
  });
  it("names fields under the prefix", () => {
    expect(thrownBy(() => validateGroupDraft({ ...draft, slug: "Eng" }))).toBe(`invalid_argument: group.slug: ${slugRule}`);
    expect(thrownBy(() => validateGroupDraft({ ...draft, displayName: "" }, "operations[0].group"))).toBe(
      "invalid_argument: operations[0].group.display_name: is required",
    );
  });
});

describe("validateAcl", () => {
  it("sorts by principal", () => {
    expect(
      validateAcl([
        { principal: "user:bob", permission: "READ" },
        { principal: "group:g2", permission: "MANAGE" },
        { principal: "service:ci", permission: "WRITE" },
      ]),
    ).toEqual([
      { principal: "group:g2", permission: "MANAGE" },
      { principal: "service:ci", permission: "WRITE" },
      { principal: "user:bob", permission: "READ" },
    ]);
    expect(validateAcl([])).toEqual([]);
  });
  it.each([
    [
      [{ principal: "bob", permission: "READ" }],
      'invalid_argument: entries[0].principal: must be "user:<id>", "group:<group id>" or "service:<id>"',
    ],
    [[{ principal: "user:bob", permission: "NONE" }], "invalid_argument: entries[0].permission: must be READ, WRITE or MANAGE"],
    [
      [
        { principal: "user:a", permission: "READ" },
        { principal: "user:b", permission: "READ" },
        { principal: "user:a", permission: "WRITE" },
      ],
      'invalid_argument: entries[2].principal: duplicate principal "user:a" (already in entries[0])',
    ],
  ] as const)("refuses %#", (entries, expected) => {
    expect(thrownBy(() => validateAcl(entries))).toBe(expected);
  });
  it("allows 256 entries, not 257", () => {
    const entries = Array.from({ length: 257 }, (_, i) => ({ principal: `user:u${i}`, permission: "READ" as const }));
    expect(validateAcl(entries.slice(0, 256))).toHaveLength(256);
    expect(thrownBy(() => validateAcl(entries))).toBe("invalid_argument: entries: must have at most 256 entries (got 257)");
  });
});

describe("paging and ordering", () => {
  it.each([
    [0, 50],
    [1, 1],
    [999, 999],
    [1000, 1000],
    [1001, 1000],
    [2147483647, 1000],
  ])("page_size %i → %i", (size, expected) => {
    expect(normalizePageSize(size)).toBe(expected);
  });
  it("refuses negative and fractional sizes", () => {
    expect(thrownBy(() => normalizePageSize(-1))).toBe("invalid_argument: page_size: must not be negative");
    expect(thrownBy(() => normalizePageSize(1.5))).toBe("invalid_argument: page_size: must be an integer");
  });
  it.each([
    ["", "display_name", false],
    ["display_name", "display_name", false],
    ["display_name desc", "display_name", true],
    ["  create_time   desc ", "create_time", true],
    ["create_time asc", "create_time", false],
  ])("order_by %j", (orderBy, field, descending) => {
    expect(parseOrderBy(orderBy)).toEqual({ field, descending });
  });
  it.each(["slug", "display_name descending", "create_time desc extra", "DISPLAY_NAME", "desc"])("refuses order_by %j", (orderBy) => {
    expect(thrownBy(() => parseOrderBy(orderBy))).toBe(
      'invalid_argument: order_by: must be "display_name" or "create_time", optionally followed by " desc"',
    );
  });
});
