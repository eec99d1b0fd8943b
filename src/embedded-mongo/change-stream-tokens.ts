/**
 * Change-stream resume tokens: `{_data: <hex>}` holding the cluster time and
 * the change-log position, the token's kind, and the store's id. Fixed-width
 * big-endian hex, so tokens of one store sort like the positions they stand
 * for (time, then position), as MongoDB's do. The kinds: an event's own token,
 * an invalidate event's (resumable only with `startAfter`), and a high-water
 * mark (the `postBatchResumeToken` of a stream that has seen every change up
 * to a cluster time, which keeps moving while the stream is idle).
 *
 * The layout starts as MongoDB's KeyString encoding of a token does: the
 * type byte of a Timestamp (0x82), then the cluster time's seconds and
 * increment as 4 big-endian bytes each. A consumer that reads the cluster
 * time out of a MongoDB token (`82` + 16 hex digits) reads it out of these
 * too. What follows is the store's own.
 */
import { Timestamp, type Document } from "bson";
import { isPlainObject } from "./document-paths.ts";
import { commandError } from "./errors.ts";

export type TokenKind = "event" | "invalidate" | "highWaterMark";

export interface ResumePosition {
  /** The change-log position the stream has reached (resuming continues after it). */
  readonly seq: bigint;
  /** Its cluster time; absent in tokens issued before tokens carried one. */
  readonly time: Timestamp | undefined;
  readonly kind: TokenKind;
  /** The issuing store (absent in tokens issued before tokens carried it). */
  readonly storeId: string | undefined;
}

const kindCodes: Readonly<Record<TokenKind, string>> = { event: "00", invalidate: "01", highWaterMark: "02" };

const hex = (n: number | bigint, width: number): string => n.toString(16).padStart(width, "0");

/** KeyString's type byte of a BSON Timestamp, with which MongoDB's tokens begin. */
const timestampType = "82";

export function encodeResumeToken(
  position: { readonly seq: bigint; readonly time: Timestamp; readonly kind: TokenKind },
  storeId: string,
): Document {
  return {
    _data: `${timestampType}${hex(position.time.t, 8)}${hex(position.time.i, 8)}${hex(position.seq, 16)}${kindCodes[position.kind]}${storeId}`,
  };
}

const kinds: Readonly<Record<string, TokenKind>> = { "00": "event", "01": "invalidate", "02": "highWaterMark" };

export function decodeResumeToken(token: unknown, option: string): ResumePosition {
  const data: unknown = isPlainObject(token) ? token["_data"] : undefined;
  if (typeof data === "string" && /^82[0-9a-f]{32}0[0-2][0-9a-f]{16}$/.test(data)) return positionOf(data.slice(2));
  // The form before tokens began with the type byte.
  if (typeof data === "string" && /^[0-9a-f]{32}0[0-2][0-9a-f]{16}$/.test(data)) return positionOf(data);
  // The form before tokens carried a cluster time: position and invalidate flag.
  if (typeof data === "string" && /^[0-9a-f]{16}0[01]$/.test(data)) {
    return {
      seq: BigInt(`0x${data.slice(0, 16)}`),
      time: undefined,
      kind: data.endsWith("01") ? "invalidate" : "event",
      storeId: undefined,
    };
  }
  throw commandError("BadValue", `${option} is not a resume token issued by this server: ${JSON.stringify(token)}`);
}

/** Time, position, kind and store of a token's hex digits after the type byte. */
function positionOf(data: string): ResumePosition {
  const time = new Timestamp({ t: Number.parseInt(data.slice(0, 8), 16), i: Number.parseInt(data.slice(8, 16), 16) });
  return { seq: BigInt(`0x${data.slice(16, 32)}`), time, kind: kinds[data.slice(32, 34)] ?? "event", storeId: data.slice(34) };
}
