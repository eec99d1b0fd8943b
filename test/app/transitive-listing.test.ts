/**
 * Transitive ListMemberships against its specification, over the real store:
 * random nestings (diamonds, principals reached several ways, direct members
 * also reached through groups, deleted groups) are listed page by page with
 * every page size and role filter, and the pages joined must equal a brute
 * force reading of the proto's rules over every stored membership: one entry
 * per user or service, in member order, with the highest role (its direct
 * role, and the role of the edge into the top group of each live member
 * group it comes through), the member groups it comes through (none for a
 * direct member), and the times of its direct membership or of the first of
 * those edges. A page costs the page (see transitive-members.ts); the total
 * is exact up to the longest page and an upper bound beyond.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListMembershipsQuery } from "../../src/app/index.ts";
import { maxRole } from "../../src/domain/permissions.ts";
import type { MembershipRecord, Role } from "../../src/domain/model.ts";
import { groupIdOfPrincipal } from "../../src/domain/principal.ts";
import { collectionNames, membershipFromDoc, type GroupDoc, type MembershipDoc } from "../../src/storage/documents.ts";
import { batchRules } from "../fixtures/access-rules-table.ts";
import { groupInput, startAppFixture, systemAdmin, type AppFixture } from "../fixtures/app-over-test-database.ts";

let fx: AppFixture;
beforeAll(async () => {
  fx = await startAppFixture("app_transitive");
});
afterAll(async () => {
  await fx.stop();
});

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const roles: readonly Role[] = ["MEMBER", "MANAGER", "ADMIN"];

/** The listing as the proto describes it, by brute force over every stored membership. */
async function reference(groupId: string): Promise<MembershipRecord[]> {
  const memberships = (await fx.db.collection<MembershipDoc>(collectionNames.memberships).find({}).toArray()).map(membershipFromDoc);
  const live = new Set((await fx.db.collection<GroupDoc>(collectionNames.groups).find({ state: "ACTIVE" }).toArray()).map((g) => g._id));
  const of = (g: string) => memberships.filter((m) => m.groupId === g);
  const result = new Map<string, { role: Role | undefined; direct: MembershipRecord | undefined; vias: Set<string> }>();
  const entry = (member: string) => {
    let e = result.get(member);
    if (e === undefined) result.set(member, (e = { role: undefined, direct: undefined, vias: new Set() }));
    return e;
  };
  const edges = new Map<string, MembershipRecord>();
  for (const m of of(groupId)) {
    const child = groupIdOfPrincipal(m.member);
    if (child === undefined) Object.assign(entry(m.member), { direct: m, role: maxRole(entry(m.member).role, m.role) });
    else if (live.has(child)) edges.set(child, m);
  }
  for (const [via, edge] of edges) {
    const reached = new Set<string>([via]);
    const stack = [via];
    for (let at = stack.pop(); at !== undefined; at = stack.pop()) {
      for (const m of of(at)) {
        const child = groupIdOfPrincipal(m.member);
        if (child === undefined) {
          const e = entry(m.member);
          e.role = maxRole(e.role, edge.role);
          e.vias.add(via);
        } else if (child !== groupId && live.has(child) && !reached.has(child)) {
          reached.add(child);
          stack.push(child);
        }
      }
    }
  }
  return [...result]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([member, e]) => {
      const viaGroupIds = e.direct === undefined ? [...e.vias].sort() : [];
      const origin = e.direct ?? edges.get(viaGroupIds[0] ?? "");
      if (origin === undefined || e.role === undefined) throw new Error(`reference: ${member} has no origin`);
      return {
        groupId,
        member,
        role: e.role,
        createTime: origin.createTime,
        updateTime: origin.updateTime,
        createdBy: origin.createdBy,
        viaGroupIds,
      };
    });
}

/** Every page of the listing joined, and the total_size of each page. */
async function listAll(
  groupId: string,
  role: Role | undefined,
  pageSize: number,
): Promise<{ members: MembershipRecord[]; totals: number[] }> {
  const members: MembershipRecord[] = [];
  const totals: number[] = [];
  let pageToken = "";
  for (let pages = 0; pages < 10_000; pages++) {
    const query: ListMembershipsQuery = { groupId, role, transitive: true, pageSize, pageToken };
    const page = await fx.app.memberships.list(systemAdmin, query);
    expect(page.memberships.length).toBeLessThanOrEqual(pageSize);
    members.push(...page.memberships);
    totals.push(page.totalSize);
    pageToken = page.nextPageToken;
    if (pageToken === "") return { members, totals };
    expect(page.memberships).toHaveLength(pageSize);
  }
  throw new Error("the listing did not end");
}

let slug = 0;
async function group(): Promise<string> {
  slug += 1;
  return (await fx.app.groups.create(systemAdmin, groupInput(`tl-${process.pid}-${slug}`), "")).id;
}

describe("transitive listing equals the proto's rules", () => {
  // Hundreds of pages, each a few store round trips: on a loaded 2-core machine a seed passed 30 s.
  it.each([1, 2, 3, 4, 5, 6])("random nesting, seed %i", { timeout: 90_000 }, async (seed) => {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const groups: string[] = [];
    for (let i = 0; i < 7; i++) groups.push(await group());
    // Group j may contain group i only when i > j: no cycles. The top is groups[0].
    for (let j = 0; j < groups.length; j++) {
      for (let i = j + 1; i < groups.length; i++) {
        if (next() < 0.4) await fx.app.memberships.add(systemAdmin, groups[j] ?? "", `group:${groups[i] ?? ""}`, pick(roles));
      }
      for (let u = 0; u < 12; u++) {
        if (next() < 0.3)
          await fx.app.memberships.add(systemAdmin, groups[j] ?? "", `${next() < 0.8 ? "user" : "service"}:p${u}`, pick(roles));
      }
    }
    // Deleted groups break chains.
    for (const id of groups.slice(1)) if (next() < 0.2) await fx.app.groups.delete(systemAdmin, id, "");

    const top = groups[0] ?? "";
    const expected = await reference(top);
    for (const role of [undefined, ...roles]) {
      const wanted = expected.filter((m) => role === undefined || m.role === role);
      for (const pageSize of [1, 2, 3, 7, 1000]) {
        const { members, totals } = await listAll(top, role, pageSize);
        expect(members, `role ${role ?? "any"}, pages of ${pageSize}`).toEqual(wanted);
        // Small listings: the total is exact on every page.
        expect(new Set(totals)).toEqual(new Set([wanted.length]));
      }
    }
  });

  it("orders members as the store does (by code point), so page tokens and pages agree", async () => {
    const top = await group();
    const inner = await group();
    await fx.app.memberships.add(systemAdmin, top, `group:${inner}`, "MEMBER");
    // U+1F600 (a surrogate pair in UTF-16) sorts after U+FF5E by code point, before it by UTF-16 unit.
    for (const member of ["user:a\u{1F600}", "user:a\uFF5E", "user:a"]) await fx.app.memberships.add(systemAdmin, inner, member, "MEMBER");
    const { members } = await listAll(top, undefined, 1);
    expect(members.map((m) => m.member)).toEqual(["user:a", "user:a\uFF5E", "user:a\u{1F600}", "user:root"]);
  });
});

describe("a listing longer than the longest page", () => {
  it("pages through every member once, and reports an upper bound of the total from member counts", async () => {
    const top = await group();
    const big = await group();
    await fx.app.memberships.add(systemAdmin, top, `group:${big}`, "MEMBER");
    const n = 1500;
    for (let start = 0; start < n; start += 1000) {
      const items = Array.from({ length: Math.min(1000, n - start) }, (_, i) => ({
        tag: "",
        operation: { kind: "add" as const, groupId: big, member: `user:m${String(start + i).padStart(5, "0")}`, role: undefined },
      }));
      const results = await fx.app.batch.applyAll(systemAdmin, items, batchRules);
      expect(results.every((r) => r.outcome.ok)).toBe(true);
    }
    const expected = await reference(top);
    // user:root (the creator) is a direct member of both: listed once, counted twice by the bound.
    expect(expected).toHaveLength(n + 1);
    const { members, totals } = await listAll(top, undefined, 400);
    expect(members).toEqual(expected);
    expect(new Set(totals)).toEqual(new Set([n + 2]));
    // With a role filter, a group whose edge grants another role is left out of
    // the bound: here it leaves one member, few enough to be counted exactly.
    const admins = await listAll(top, "ADMIN", 10);
    expect(admins.members.map((m) => m.member)).toEqual(["user:root"]);
    expect(new Set(admins.totals)).toEqual(new Set([1]));
  });
});
