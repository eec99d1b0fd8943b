/**
 * Change-stream resume tokens: `{_data: <hex>}` encoding the change-log
 * position (16 hex digits, so tokens sort by position) and whether the token
 * is an invalidate event's (resumable only with `startAfter`).
 */
import type { Document } from "bson";
import { isPlainObject } from "./document-paths.ts";
import { commandError } from "./errors.ts";

export interface ResumePosition {
  readonly seq: bigint;
  readonly invalidate: boolean;
}

export function encodeResumeToken(seq: bigint, invalidate = false): Document {
  return { _data: `${seq.toString(16).padStart(16, "0")}${invalidate ? "01" : "00"}` };
}

export function decodeResumeToken(token: unknown, option: string): ResumePosition {
  const data: unknown = isPlainObject(token) ? token["_data"] : undefined;
  if (typeof data !== "string" || !/^[0-9a-f]{16}0[01]$/.test(data)) {
    throw commandError("BadValue", `${option} is not a resume token issued by this server: ${JSON.stringify(token)}`);
  }
  return { seq: BigInt(`0x${data.slice(0, 16)}`), invalidate: data.endsWith("01") };
}
