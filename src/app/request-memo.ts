/**
 * A cache that lives for one request: the RPC pipeline creates one per call
 * and passes it to both the authorization step and the use case, so the
 * caller's transitive groups, the target group and the caller's facts on it
 * are loaded once per request instead of twice. Only reads outside
 * transactions use it; writes always re-read inside their transaction. It
 * must never outlive the request: memberships may change right after it.
 *
 * What it holds is declared by the modules that load it, as typed slots
 * (`createMemoSlot`), the way connect's context keys are: this module knows
 * no loader and no value type.
 */
import type { StoreCall } from "../storage/store-call.ts";

/** A kind of memoised value (e.g. principal closures), declared once by its loader's module. */
export interface MemoSlot<V> {
  readonly description: string;
  /** Never set: carries the value type. */
  readonly valueType?: V;
}

/** Declares a slot; `description` names it in debugging output. */
export function createMemoSlot<V>(description: string): MemoSlot<V> {
  return { description };
}

/** One request's memoised loads. */
export interface RequestMemo {
  /**
   * Slot, key and promise of each load, three entries per load. A request
   * makes a handful (the read source, the group, the facts, a closure or
   * two): scanning them costs less than the map per slot and the map of
   * maps made for every call before (~1% of the service's CPU per
   * CheckMembership in `npm run bench:rpc`).
   */
  readonly loads: unknown[];
  /** By slot, then key: made once a request has more than `scannedLoads` loads (listings load many groups). */
  index: Map<MemoSlot<unknown>, Map<string, Promise<unknown>>> | undefined;
}

/** Loads looked up by a scan; past this many, by `index`. */
const scannedLoads = 8;

/** A fresh, empty memo for one request. */
export function createRequestMemo(): RequestMemo {
  return { loads: [], index: undefined };
}

/**
 * The memoised value of `key` in `slot`, or `load()` stored under it. Without
 * a memo, or inside a transaction (`call.session` set: it must read its own
 * snapshot), just `load()`. A failed load is forgotten so that a retry within
 * the request loads again.
 */
export function memoized<V>(
  memo: RequestMemo | undefined,
  call: StoreCall,
  slot: MemoSlot<V>,
  key: string,
  load: () => Promise<V>,
): Promise<V> {
  if (memo === undefined || call.session !== undefined) return load();
  const cached = lookUp(memo, slot, key);
  if (cached !== undefined) return cached as Promise<V>;
  const loading = load();
  remember(memo, slot, key, loading);
  loading.catch(() => {
    forget(memo, slot, key, loading);
  });
  return loading;
}

function lookUp(memo: RequestMemo, slot: MemoSlot<unknown>, key: string): Promise<unknown> | undefined {
  if (memo.index !== undefined) return memo.index.get(slot)?.get(key);
  const loads = memo.loads;
  for (let i = 0; i < loads.length; i += 3) {
    if (loads[i] === slot && loads[i + 1] === key) return loads[i + 2] as Promise<unknown>;
  }
  return undefined;
}

function remember(memo: RequestMemo, slot: MemoSlot<unknown>, key: string, loading: Promise<unknown>): void {
  if (memo.index === undefined) {
    memo.loads.push(slot, key, loading);
    if (memo.loads.length <= scannedLoads * 3) return;
    memo.index = new Map();
    for (let i = 0; i < memo.loads.length; i += 3) {
      indexed(memo.index, memo.loads[i] as MemoSlot<unknown>).set(memo.loads[i + 1] as string, memo.loads[i + 2] as Promise<unknown>);
    }
    memo.loads.length = 0;
    return;
  }
  indexed(memo.index, slot).set(key, loading);
}

/** The slot's map in `index`, made on first use. */
function indexed(index: Map<MemoSlot<unknown>, Map<string, Promise<unknown>>>, slot: MemoSlot<unknown>): Map<string, Promise<unknown>> {
  let entries = index.get(slot);
  if (entries === undefined) {
    entries = new Map();
    index.set(slot, entries);
  }
  return entries;
}

/** Removes the failed `loading` (not a later load stored under the same key). */
function forget(memo: RequestMemo, slot: MemoSlot<unknown>, key: string, loading: Promise<unknown>): void {
  if (memo.index !== undefined) {
    const entries = memo.index.get(slot);
    if (entries?.get(key) === loading) entries.delete(key);
    return;
  }
  const loads = memo.loads;
  for (let i = 0; i < loads.length; i += 3) {
    if (loads[i + 2] === loading) {
      loads.splice(i, 3);
      return;
    }
  }
}
