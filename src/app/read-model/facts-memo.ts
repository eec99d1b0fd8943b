/**
 * A memo that outlives requests but not the read model's facts: what a read
 * computed from the model (a principal's closure, say) is kept until the
 * model applies any change, and is answered again meanwhile instead of being
 * recomputed per call. That is Leopard's idea (Zanzibar §3.2.4: keep derived
 * membership answers in memory, invalidated by the change log) at its
 * simplest: any applied change forgets everything, so no entry can disagree
 * with the model it was computed from, and a value that depends on the time
 * (a membership's expire_time) carries the instant it stops being valid.
 *
 * Bounded by a total weight (e.g. the groups a closure holds), least recently
 * used out first; the database has no such memo (its facts change at any
 * time).
 */
import { createWeightedLru } from "../../domain/weighted-lru.ts";
import type { MemoSlot } from "../request-memo.ts";

/** What `set` needs besides the value. */
export interface FactsMemoEntry {
  /** `generation()` when the value's computation started: kept only if no change was applied since. */
  readonly generation: number;
  /** The value is valid before this instant (epoch ms); Infinity when time cannot change it. */
  readonly validUntilMs: number;
  /** Its share of the memo's bound (at least 1). */
  readonly weight: number;
}

export interface FactsMemo {
  /** Advances with every change the model applies (and every rebuild). */
  generation(): number;
  /** The value stored under `slot`/`key`, if the facts are unchanged since and it is valid at `nowMs`. */
  get<V>(slot: MemoSlot<V>, key: string, nowMs: number): V | undefined;
  /** Stores a value computed from the facts of `entry.generation`; ignored when they have changed since. */
  set<V>(slot: MemoSlot<V>, key: string, value: V, entry: FactsMemoEntry): void;
  /** The model applied a change: forgets every value. */
  invalidate(): void;
  /** The current total weight, for tests and status. */
  readonly weight: number;
}

interface Stored {
  readonly value: unknown;
  readonly validUntilMs: number;
}

/** A memo whose entries weigh at most `maxWeight` in total (0 turns it off). */
export function createFactsMemo(maxWeight: number): FactsMemo {
  let generation = 0;
  /** A number per slot, for the keys of `entries`. */
  const slotIds = new Map<MemoSlot<unknown>, number>();
  /** By `<slot number>\0<key>`. */
  const entries = createWeightedLru<Stored>(maxWeight);
  const keyOf = (slot: MemoSlot<unknown>, key: string): string => {
    let id = slotIds.get(slot);
    if (id === undefined) slotIds.set(slot, (id = slotIds.size));
    return `${id}\0${key}`;
  };

  return {
    generation: () => generation,
    get<V>(slot: MemoSlot<V>, key: string, nowMs: number): V | undefined {
      const k = keyOf(slot, key);
      const stored = entries.get(k);
      if (stored === undefined) return undefined;
      if (nowMs >= stored.validUntilMs) {
        entries.delete(k);
        return undefined;
      }
      return stored.value as V;
    },
    set<V>(slot: MemoSlot<V>, key: string, value: V, entry: FactsMemoEntry): void {
      if (entry.generation !== generation) return;
      entries.set(keyOf(slot, key), { value, validUntilMs: entry.validUntilMs }, entry.weight);
    },
    invalidate() {
      generation += 1;
      entries.clear();
    },
    get weight() {
      return entries.weight;
    },
  };
}
