/**
 * The request log's one line per call, written without pino's general
 * machinery: the line has nine known scalar fields, so it is formatted by
 * concatenation straight into the root logger's destination, as the same
 * JSON, byte for byte, as the root's fixed-field sibling writes for it
 * (pino's level number, time, the root's base fields, the fields in this
 * order with undefined ones left out, `msg`). pino's `info(obj, msg)` spent
 * ~2 µs of CPU per line on the generic path (argument shuffling, `for…in` over
 * the object, a type switch per field); this spends a fraction of that.
 *
 * Every other line (and the request line of a logger createRootLogger did not
 * make, e.g. a test's own pino) still goes through pino.
 */
import type { Logger } from "pino";
import { fixedLineTarget } from "./logger.ts";

/** The fields of a call's line, in the order they are written. */
export interface RequestLogLine {
  readonly requestId: string;
  /** Undefined when tracing is off: no field then. */
  readonly traceId: string | undefined;
  readonly method: string;
  readonly door: string | undefined;
  readonly protocol: string | undefined;
  /** The status name, e.g. "OK", "NOT_FOUND". */
  readonly code: string;
  readonly ms: number;
  /** The caller's principal; undefined before authentication. */
  readonly caller: string | undefined;
  readonly peer: string | undefined;
}

/** pino's level numbers of the levels a request line is written at. */
export const requestLineLevels = { info: 30, warn: 40, error: 50 } as const;

export type RequestLineLevel = keyof typeof requestLineLevels;

/** Writes one call's line at `level` (if the logger's level lets it through). */
export type RequestLineWriter = (level: RequestLineLevel, line: RequestLogLine) => void;

/** The request line writer of `logger` (see the module comment). */
export function createRequestLineWriter(logger: Logger): RequestLineWriter {
  const target = fixedLineTarget(logger);
  if (target === undefined) return pinoLineWriter(logger);
  const { logger: sibling, bindings, destination } = target;
  return (level, line) => {
    const number = requestLineLevels[level];
    // The sibling's level as pino checks it (a level below it is a no-op there); "silent" is Infinity.
    if (number < sibling.levelVal) return;
    destination.write(formatRequestLine(number, Date.now(), bindings, line));
  };
}

/**
 * The line as pino writes `info(line, "rpc")` for a logger with `bindings`:
 * undefined fields left out, a number that is not finite as null.
 */
export function formatRequestLine(level: number, time: number, bindings: string, line: RequestLogLine): string {
  let json = `{"level":${level},"time":${time}${bindings},"requestId":${jsonString(line.requestId)}`;
  if (line.traceId !== undefined) json += `,"traceId":${jsonString(line.traceId)}`;
  json += `,"method":${jsonString(line.method)}`;
  if (line.door !== undefined) json += `,"door":${jsonString(line.door)}`;
  if (line.protocol !== undefined) json += `,"protocol":${jsonString(line.protocol)}`;
  json += `,"code":${jsonString(line.code)},"ms":${Number.isFinite(line.ms) ? line.ms : "null"}`;
  if (line.caller !== undefined) json += `,"caller":${jsonString(line.caller)}`;
  if (line.peer !== undefined) json += `,"peer":${jsonString(line.peer)}`;
  return `${json},"msg":"rpc"}\n`;
}

/**
 * `value` as a JSON string, exactly as JSON.stringify writes it: a string
 * with nothing to escape (no control character, quote, backslash or
 * surrogate) is only quoted, which is what almost every field is; any other
 * goes through JSON.stringify. pino (on node < 25) writes a lone surrogate
 * raw, which becomes U+FFFD on the way out; this writes it escaped.
 */
export function jsonString(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/** The line through pino, for a logger whose output only pino knows how to make. */
function pinoLineWriter(lines: Logger): RequestLineWriter {
  return (level, { requestId, traceId, method, door, protocol, code, ms, caller, peer }) => {
    // Literals, not a spread: pino wrote a line made by spreading 5x slower.
    const line =
      traceId === undefined
        ? { requestId, method, door, protocol, code, ms, caller, peer }
        : { requestId, traceId, method, door, protocol, code, ms, caller, peer };
    lines[level](line, "rpc");
  };
}
