/**
 * A cache that lives for one request: the RPC pipeline creates one per call
 * and passes it to both the authorization step and the use case, so the
 * caller's transitive groups, the target group and the caller's facts on it
 * are loaded once per request instead of twice. Only reads outside
 * transactions use it; writes always re-read inside their transaction. It
 * must never outlive the request: memberships may change right after it.
 */
import type { AccessFacts } from "../domain/access-policy.ts";
import type { GroupNode } from "../storage/documents.ts";
import type { PrincipalClosure } from "./principal-closure.ts";

export interface RequestMemo {
  /** Closures by principal, as promises so concurrent lookups share one walk. */
  readonly closures: Map<string, Promise<PrincipalClosure>>;
  /** Groups by id (undefined: no such group). */
  readonly groups: Map<string, Promise<GroupNode | undefined>>;
  /** Facts by "<principal> <group id>". */
  readonly facts: Map<string, Promise<AccessFacts>>;
}

/** A fresh, empty memo for one request. */
export function createRequestMemo(): RequestMemo {
  return { closures: new Map(), groups: new Map(), facts: new Map() };
}

/**
 * The memoised value of `key`, or `load()` stored under it. A failed load is
 * forgotten so that a retry within the request loads again.
 */
export function memoized<K, V>(map: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
  const cached = map.get(key);
  if (cached !== undefined) return cached;
  const loading = load();
  map.set(key, loading);
  loading.catch(() => map.delete(key));
  return loading;
}
