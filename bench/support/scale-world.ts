/**
 * The data `npm run bench:scale` measures against, written straight into a
 * store with `insertMany` (not through the API, which would take hours at a
 * million groups), in the documents storage writes (storage/documents.ts):
 *
 * - N background groups `bg-<i>`, PRIVATE, in 100 namespaces, each with one
 *   ADMIN of its own (`user:owner-<i>`); every fourth one is nested, as a
 *   MEMBER, in an earlier background group (`group:bg-<i>` ∈ `bg-<i/4 - 1>`),
 *   so the group graph has N/4 edges and grows about log4(N) levels deep;
 * - 10 AUTHENTICATED groups every caller can see;
 * - a chain L0 ⊃ L1 ⊃ L2 ⊃ L3 ⊃ L4 (each a MEMBER of the one before);
 * - `user:five`, a MEMBER of L4 and of 4 more groups of its own, so 5 groups
 *   directly and the chain's 4 others through nesting;
 * - `user:many`, a MEMBER of L4 and of 1,999 more groups of its own;
 * - `user:deep-admin`, ADMIN of L0.
 *
 * The callers' groups are extra to the N background groups (a caller in
 * 2,000 groups needs 2,000 groups at every size), so the store holds
 * N + 2,013 groups; what the callers can see is the same at every size, only
 * the groups they cannot see grow.
 */
import type { Db } from "mongodb";
import type { Role } from "../../src/domain/model.ts";
import { groupNode } from "../../test/fixtures/group-node.ts";
import {
  collectionNames,
  groupToDoc,
  membershipToDoc,
  type GroupDoc,
  type GroupNode,
  type MembershipDoc,
} from "../../src/storage/documents.ts";

/** Documents per insertMany. */
const insertBatch = 5_000;
const created = new Date("2024-01-01T00:00:00Z");

export interface ScaleWorld {
  /** L0 … L4: CheckMembership(L0, self) goes through 5 levels. */
  readonly chain: readonly string[];
  /** A group both callers see (L0), for GetGroup. */
  readonly visibleGroupId: string;
  readonly groups: number;
  readonly memberships: number;
}

export const fiveGroupCaller = "user:five";
export const manyGroupCaller = "user:many";
export const manyGroupCount = 2_000;

function group(id: string, slug: string, namespace: string, visibility: GroupNode["visibility"], createdIndex: number): GroupNode {
  return groupNode(id, new Date(created.getTime() + createdIndex * 1000), {
    namespace,
    slug,
    displayName: `Group ${slug}`,
    description: `Scale bench group ${slug}`,
    visibility,
  });
}

function membership(groupId: string, member: string, role: Role): MembershipDoc {
  return membershipToDoc({ groupId, member, role, createTime: created, updateTime: created, createdBy: "user:bench" });
}

/** Buffers documents and writes them in batches, counting each group's members. */
function createWriter(db: Db): {
  group(node: GroupNode): Promise<void>;
  member(groupId: string, member: string, role: Role): Promise<void>;
  flush(): Promise<{ groups: number; memberships: number }>;
} {
  let groups: GroupDoc[] = [];
  let memberships: MembershipDoc[] = [];
  const memberCounts = new Map<string, number>();
  let groupTotal = 0;
  let membershipTotal = 0;
  const flushGroups = async (): Promise<void> => {
    if (groups.length === 0) return;
    for (const doc of groups) doc.memberCount = memberCounts.get(doc._id) ?? 0;
    await db.collection<GroupDoc>(collectionNames.groups).insertMany(groups, { ordered: false });
    groupTotal += groups.length;
    groups = [];
  };
  const flushMemberships = async (): Promise<void> => {
    if (memberships.length === 0) return;
    await db.collection<MembershipDoc>(collectionNames.memberships).insertMany(memberships, { ordered: false });
    membershipTotal += memberships.length;
    memberships = [];
  };
  return {
    async group(node) {
      groups.push(groupToDoc(node));
      if (groups.length >= insertBatch) await flushGroups();
    },
    async member(groupId, member, role) {
      memberships.push(membership(groupId, member, role));
      memberCounts.set(groupId, (memberCounts.get(groupId) ?? 0) + 1);
      if (memberships.length >= insertBatch) await flushMemberships();
    },
    async flush() {
      await flushMemberships();
      // Member counts are only final once every membership was seen: groups are written last.
      await flushGroups();
      return { groups: groupTotal, memberships: membershipTotal };
    },
  };
}

/** Writes the world of `backgroundGroups` (see the module comment) into `db`, which must be empty. */
export async function seedScaleWorld(db: Db, backgroundGroups: number): Promise<ScaleWorld> {
  const write = createWriter(db);
  // Memberships first (they fix the member counts); groups are buffered in memory meanwhile.
  const nodes: GroupNode[] = [];
  const bg = (i: number): string => `bg-${i}`;
  for (let i = 0; i < backgroundGroups; i++) {
    nodes.push(group(bg(i), bg(i), `ns-${i % 100}`, "PRIVATE", i));
    await write.member(bg(i), `user:owner-${i}`, "ADMIN");
    if (i % 4 === 0 && i >= 4) await write.member(bg(i / 4 - 1), `group:${bg(i)}`, "MEMBER");
  }
  let extra = backgroundGroups;
  for (let i = 0; i < 10; i++) {
    const id = `public-${i}`;
    nodes.push(group(id, id, "", "AUTHENTICATED", extra++));
    await write.member(id, "user:public-owner", "ADMIN");
  }
  const chain = Array.from({ length: 5 }, (_, i) => `level-${i}`);
  for (const [i, id] of chain.entries()) {
    nodes.push(group(id, id, "", "PRIVATE", extra++));
    if (i === 0) await write.member(id, "user:deep-admin", "ADMIN");
    const next = chain[i + 1];
    if (next !== undefined) await write.member(id, `group:${next}`, "MEMBER");
  }
  const last = chain.at(-1) ?? "";
  await write.member(last, fiveGroupCaller, "MEMBER");
  await write.member(last, manyGroupCaller, "MEMBER");
  for (let i = 0; i < 4; i++) {
    const id = `five-${i}`;
    nodes.push(group(id, id, "callers", "PRIVATE", extra++));
    await write.member(id, fiveGroupCaller, "MEMBER");
  }
  for (let i = 0; i < manyGroupCount - 1; i++) {
    const id = `many-${i}`;
    nodes.push(group(id, id, "callers", "PRIVATE", extra++));
    await write.member(id, manyGroupCaller, "MEMBER");
  }
  for (const node of nodes) await write.group(node);
  const totals = await write.flush();
  return { chain, visibleGroupId: chain[0] ?? "", ...totals };
}
