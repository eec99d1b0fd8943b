/**
 * Turns the per-call options of the app API into the StoreCall that storage
 * methods take (deadline and cancellation, no session).
 */
import type { StoreCall } from "../storage/store-call.ts";
import type { CallOptions } from "./types.ts";

export function storeCallOf(options: CallOptions | undefined): StoreCall {
  if (options === undefined) return {};
  const call: { deadline?: number; signal?: AbortSignal } = {};
  if (options.deadline !== undefined) call.deadline = options.deadline;
  if (options.signal !== undefined) call.signal = options.signal;
  return call;
}
