/**
 * A cache that lives for one request: the RPC pipeline creates one per call
 * and passes it to both the authorization step and the use case, so the
 * caller's transitive groups are walked once per request instead of twice.
 * It must never outlive the request: memberships may change right after it.
 */
import type { PrincipalClosure } from "./principal-closure.ts";

export interface RequestMemo {
  /** Closures by principal, as promises so concurrent lookups share one walk. */
  readonly closures: Map<string, Promise<PrincipalClosure>>;
}

/** A fresh, empty memo for one request. */
export function createRequestMemo(): RequestMemo {
  return { closures: new Map() };
}
