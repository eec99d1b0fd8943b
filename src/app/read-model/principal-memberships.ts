/**
 * Users' and services' own memberships, which the read model does not hold
 * in full (there may be hundreds of millions): each principal's are read
 * with one indexed query when first needed, kept in a cache bounded by the
 * number of memberships it holds (least recently used principals leave
 * first), and kept current by the same change stream as the groups.
 *
 * A principal is read at some cluster time T, while the stream may be
 * behind or ahead of T. Changes the stream delivers while a read is on its
 * way are kept and, once the read is in, applied to it when they are newer
 * than T (a removal names only the membership's document id, so every
 * change seen meanwhile is kept); older ones are already in the read.
 * A principal read at T is used once the model has applied T (the caller
 * waits for that), so its memberships and the groups are of one time. A
 * rebuilt model starts with a new, empty cache.
 */
import type { ClusterTime } from "../../domain/consistency.ts";
import type { StoredMembership } from "../../storage/documents.ts";
import type { GraphChange } from "../../storage/graph-changes.ts";
import type { StoreCall } from "../../storage/store-call.ts";

/** What loading needs: the memberships of `members` and the cluster time they were read at. */
export type MembershipLoader = (
  members: readonly string[],
  call: StoreCall,
) => Promise<{ time: ClusterTime; memberships: StoredMembership[] }>;

export interface PrincipalMemberships {
  /**
   * The memberships of each of `principals`, by group id, reading the ones
   * not held; and the latest cluster time any of them was read at (the
   * model must have applied it before they are used).
   */
  get(
    principals: readonly string[],
    call: StoreCall,
  ): Promise<{ byPrincipal: Map<string, ReadonlyMap<string, StoredMembership>>; readAt: ClusterTime }>;
  /** Applies a change of a membership that is not a group edge, at cluster time `time`. */
  apply(change: GraphChange, time: ClusterTime): void;
  readonly principalCount: number;
  readonly membershipCount: number;
}

interface Entry {
  readonly memberships: Map<string, StoredMembership>;
  readonly readAt: ClusterTime;
}

/** A cache holding at most about `maxMemberships` memberships (principals being read or returned are never evicted). */
export function createPrincipalMemberships(load: MembershipLoader, maxMemberships: number): PrincipalMemberships {
  /** In least recently used order (a Map keeps insertion order; a use moves the entry to the end). */
  const entries = new Map<string, Entry>();
  /** Membership document id → its principal and group, for the held entries. */
  const owners = new Map<string, { readonly principal: string; readonly groupId: string }>();
  const loading = new Map<string, Promise<void>>();
  /** Principals a `get` is about to return (not evicted meanwhile), with how many `get`s hold each. */
  const pinned = new Map<string, number>();
  /** Changes delivered while reads are on their way (kept only then). */
  let meanwhile: { change: GraphChange; time: ClusterTime }[] = [];
  let total = 0;

  const put = (principal: string, entry: Entry, membership: StoredMembership): void => {
    const before = entry.memberships.get(membership.groupId);
    if (before !== undefined) owners.delete(before.id);
    else total += 1;
    entry.memberships.set(membership.groupId, membership);
    owners.set(membership.id, { principal, groupId: membership.groupId });
  };

  /** The held membership with document id `id`, if `only` admits its principal. */
  const heldById = (
    id: string,
    only: (principal: string) => boolean,
  ): { principal: string; entry: Entry; membership: StoredMembership } | undefined => {
    const owner = owners.get(id);
    if (owner === undefined || !only(owner.principal)) return undefined;
    const entry = entries.get(owner.principal);
    const membership = entry?.memberships.get(owner.groupId);
    return entry === undefined || membership === undefined ? undefined : { principal: owner.principal, entry, membership };
  };

  /** Applies `change` to the held principals `only` admits. */
  const applyTo = (change: GraphChange, only: (principal: string) => boolean): void => {
    switch (change.kind) {
      case "membership_put": {
        const principal = change.member;
        const entry = only(principal) ? entries.get(principal) : undefined;
        if (entry !== undefined) put(principal, entry, change.membership);
        break;
      }
      case "membership_changed": {
        const held = heldById(change.id, only);
        if (held === undefined) break;
        put(held.principal, held.entry, change.update(held.membership));
        break;
      }
      case "membership_removed": {
        const held = heldById(change.id, only);
        if (held === undefined) break;
        owners.delete(change.id);
        held.entry.memberships.delete(held.membership.groupId);
        total -= 1;
        break;
      }
      case "group_put":
      case "group_removed":
        break;
    }
  };

  const evict = (): void => {
    for (const [principal, entry] of entries) {
      if (total <= maxMemberships) return;
      if (pinned.has(principal) || loading.has(principal)) continue;
      entries.delete(principal);
      for (const membership of entry.memberships.values()) owners.delete(membership.id);
      total -= entry.memberships.size;
    }
  };

  const read = async (principals: readonly string[], call: StoreCall): Promise<void> => {
    const { time, memberships } = await load(principals, call);
    const fresh = new Set(principals);
    for (const principal of fresh) entries.set(principal, { memberships: new Map(), readAt: time });
    for (const membership of memberships) {
      const entry = fresh.has(membership.member) ? entries.get(membership.member) : undefined;
      if (entry !== undefined) put(membership.member, entry, membership);
    }
    for (const { change, time: at } of meanwhile) if (at > time) applyTo(change, (principal) => fresh.has(principal));
  };

  const pin = (principals: readonly string[], by: number): void => {
    for (const principal of principals) {
      const count = (pinned.get(principal) ?? 0) + by;
      if (count > 0) pinned.set(principal, count);
      else pinned.delete(principal);
    }
  };

  return {
    async get(principals, call) {
      pin(principals, 1);
      try {
        const missing = principals.filter((principal) => !entries.has(principal) && !loading.has(principal));
        if (missing.length > 0) {
          const reading = read(missing, call).finally(() => {
            for (const principal of missing) loading.delete(principal);
            if (loading.size === 0) meanwhile = [];
            evict();
          });
          for (const principal of missing) loading.set(principal, reading);
        }
        await Promise.all(principals.flatMap((principal) => loading.get(principal) ?? []));
        const byPrincipal = new Map<string, ReadonlyMap<string, StoredMembership>>();
        let readAt = 0n;
        for (const principal of principals) {
          const entry = entries.get(principal);
          if (entry === undefined) throw new Error(`the memberships of ${principal} were read but are not held`);
          entries.delete(principal);
          entries.set(principal, entry);
          byPrincipal.set(principal, entry.memberships);
          if (entry.readAt > readAt) readAt = entry.readAt;
        }
        return { byPrincipal, readAt };
      } finally {
        pin(principals, -1);
      }
    },
    apply(change, time) {
      applyTo(change, () => true);
      if (loading.size > 0) meanwhile.push({ change, time });
    },
    get principalCount() {
      return entries.size;
    },
    get membershipCount() {
      return total;
    },
  };
}
