/**
 * Where a read outside a transaction gets its facts: the database (the
 * stores), or this process's read model (read-model/), which answers the
 * same questions from memory. Both implement the same read methods, and the
 * use cases and the authorization step are the same code over either: the
 * domain decides on the same facts, whichever source supplied them.
 *
 * Which source a call reads is decided once per request (and kept in its
 * request memo, so the authorization step and the use case read the same
 * one) from the call's `consistency` and the read model's state: see
 * `readCallOf`. Transactions always read the database.
 */
import type { GroupStore } from "../storage/group-store.ts";
import type { MembershipStore } from "../storage/membership-store.ts";
import type { StoreCall } from "../storage/store-call.ts";
import type { ReadConsistency } from "../domain/consistency.ts";
import type { AppContext } from "./app-context.ts";
import type { FactsMemo } from "./read-model/facts-memo.ts";
import { storeCallOf, type CallOptions } from "./call-options.ts";
import { createMemoSlot, memoized } from "./request-memo.ts";

/** The group reads use cases make outside transactions. */
export type GroupReads = Pick<GroupStore, "get" | "getMany" | "getLiveBySlug" | "statesOf" | "idsGrantingTo" | "listPage" | "count">;

/** The membership reads use cases make outside transactions. */
export type MembershipReads = Pick<
  MembershipStore,
  "get" | "edgesOfMembers" | "groupEdgesOf" | "listPage" | "countMembers" | "usersAndServicesPage"
>;

/** The database, or the read model. */
export interface ReadSource {
  /** "database" or "read model", for logs and tests. */
  readonly name: string;
  readonly groups: GroupReads;
  readonly memberships: MembershipReads;
  /**
   * What reads derived from this source may keep across requests, valid while
   * its facts are unchanged (the read model's); undefined for the database,
   * whose facts may change at any moment.
   */
  readonly facts?: FactsMemo;
}

/** A StoreCall that may carry the source its reads use (set by `readCallOf`). */
export interface AppCall extends StoreCall {
  readonly reads?: ReadSource;
}

/** The source `call` reads: the database inside a transaction or when none was chosen, else the chosen one. */
export function readsOf(ctx: AppContext, call: AppCall): ReadSource {
  if (call.session !== undefined) return ctx.databaseReads;
  return call.reads ?? ctx.databaseReads;
}

/**
 * Makes the request's call on the source it may read. Made by a function
 * rather than bound to a name in readCallOf: under tsx, esbuild names every
 * such closure with a property definition, per call.
 */
function readCallMaker(
  ctx: AppContext,
  model: NonNullable<AppContext["readModel"]>,
  consistency: ReadConsistency,
  options: CallOptions | undefined,
): () => Promise<AppCall> {
  return async () => {
    const call = storeCallOf(options);
    const reads = (await model.sourceFor(consistency, call)) ?? ctx.databaseReads;
    // Not a spread: that would read the call's signal (see storeCallOf).
    return Object.assign(call, { reads });
  };
}

/** The call of one request, made once. */
const readCallSlot = createMemoSlot<AppCall>("read call");
/** What `memoized` is told of the read call: never in a transaction (options carry no session). */
const outsideTransactions: StoreCall = {};

/**
 * The StoreCall of a read use case (or a read RPC's authorization step):
 * `options`' deadline and signal, and the source its reads use. The read
 * model when it may answer under `options.consistency` (it is serving within
 * its staleness bound and has applied what the consistency and this
 * process's own writes require, waiting for that within the deadline), else
 * the database. A call without a consistency (a write's authorization step,
 * start-up work) reads the database, as does `fully_consistent`: a write is
 * never allowed on facts older than the database's. Made once per request
 * memo (the same call for the authorization step and the use case, so they
 * read one source; made twice per request, with an async layer each, it was
 * the largest allocation of a GetGroup in `npm run bench:rpc`).
 */
export function readCallOf(ctx: AppContext, options: CallOptions | undefined): Promise<AppCall> {
  const model = ctx.readModel;
  const consistency = options?.consistency;
  if (model === undefined || consistency === undefined || consistency.kind === "fully_consistent") {
    return Promise.resolve(storeCallOf(options));
  }
  return memoized(options?.memo, outsideTransactions, readCallSlot, "", readCallMaker(ctx, model, consistency, options));
}
