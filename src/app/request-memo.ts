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
  /** Promises by slot, then key, so that concurrent lookups share one load. */
  readonly slots: Map<MemoSlot<unknown>, Map<string, Promise<unknown>>>;
}

/** A fresh, empty memo for one request. */
export function createRequestMemo(): RequestMemo {
  return { slots: new Map() };
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
  let entries = memo.slots.get(slot);
  if (entries === undefined) {
    entries = new Map();
    memo.slots.set(slot, entries);
  }
  const cached = entries.get(key);
  if (cached !== undefined) return cached as Promise<V>;
  const loading = load();
  entries.set(key, loading);
  const forget = entries;
  loading.catch(() => forget.delete(key));
  return loading;
}
