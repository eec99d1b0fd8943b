/**
 * A map bounded by the total weight of its entries, least recently used out
 * first (approximately: a use reorders only an entry in the older half, see
 * `get`, so an entry read at least once per half a map's worth of stores
 * never leaves): the one eviction rule behind the caches that outlive a request (the
 * verified-token cache weighs each token 1, the read model's kept closures
 * weigh each closure by the groups it holds). What makes an entry still
 * usable (an expiry, a generation) is the caller's: it reads, judges and
 * deletes.
 */
export interface WeightedLru<V> {
  /**
   * The value under `key`, marked as just used when it is in the older half
   * of the entries and the map holds more than half its bound (an entry in
   * the newer half is already safe from the next evictions, as is every
   * entry while the stores needed to fill the other half have not been
   * made; moving it costs a map delete and insert per read: the hot entries
   * of a read are read on every call, and a replica's memo and token cache
   * usually hold far less than their bound: ~0.1-0.2 µs per read saved,
   * .scratch microbenchmark of the read model's memo).
   */
  get(key: string): V | undefined;
  /** Stores `value` as the most recently used, then evicts the least recently used until the bound holds; a value heavier than the bound is not stored. */
  set(key: string, value: V, weight?: number): void;
  delete(key: string): void;
  clear(): void;
  /** The total weight held. */
  readonly weight: number;
}

interface Held<V> {
  readonly value: V;
  readonly weight: number;
  /** `stamp` when it was stored or last moved to the newest end. */
  stamp: number;
}

/** An LRU map holding at most `maxWeight` in total (0 holds nothing); each entry weighs at least 1. */
export function createWeightedLru<V>(maxWeight: number): WeightedLru<V> {
  /** In least recently used order: a Map keeps insertion order, and a use moves its entry to the end. */
  const entries = new Map<string, Held<V>>();
  let total = 0;
  /**
   * Counts the moves to the newest end (stores and refreshes): at most
   * `stamp - held.stamp` entries are newer than `held`, so an entry with
   * fewer than half the map's size since its own stamp is in the newer half.
   */
  let stamp = 0;
  const remove = (key: string): Held<V> | undefined => {
    const held = entries.get(key);
    if (held === undefined) return undefined;
    entries.delete(key);
    total -= held.weight;
    return held;
  };
  return {
    get(key) {
      const held = entries.get(key);
      if (held === undefined) return undefined;
      // Below half the bound, more than a half map's worth of stores must come
      // before any eviction, and the first read after this half is passed moves it.
      if (2 * total > maxWeight && 2 * (stamp - held.stamp) >= entries.size) {
        entries.delete(key);
        entries.set(key, held);
        held.stamp = ++stamp;
      }
      return held.value;
    },
    set(key, value, weight = 1) {
      const entryWeight = Math.max(1, weight);
      if (entryWeight > maxWeight) return;
      remove(key);
      entries.set(key, { value, weight: entryWeight, stamp: ++stamp });
      total += entryWeight;
      for (const oldest of entries.keys()) {
        if (total <= maxWeight) break;
        remove(oldest);
      }
    },
    delete(key) {
      remove(key);
    },
    clear() {
      entries.clear();
      total = 0;
    },
    get weight() {
      return total;
    },
  };
}
