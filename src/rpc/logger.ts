/**
 * The process logger: pino JSON, one object per line, pretty-printed when
 * stdout is a terminal. Authorization values are redacted wherever they might
 * appear, as a second line of defence: the pipeline never logs headers or
 * bodies in the first place.
 *
 * Each root logger has a sibling for lines built only of known scalar fields
 * (the request log's one line per RPC: `fixedFieldLogger`): same destination,
 * level and base, without the redaction pass, which cannot match such a line
 * (no field is named authorization or token, none is an object) and doubled
 * the cost of writing it (5.3 µs against 11.1 µs of CPU per line, measured
 * with pino 10 to a pipe). The request log goes one step further and writes
 * that line itself, as the sibling would (`fixedLineTarget`,
 * request-log-line.ts).
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "../config.ts";
import { createTurnBatchedDestination } from "./turn-batched-destination.ts";

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go (tests capture them); default stdout, pretty when it is a TTY. */
  readonly destination?: DestinationStream;
}

const redact = {
  paths: ["authorization", "*.authorization", "headers.authorization", "*.headers.authorization", "token", "*.token"],
  censor: "[redacted]",
};

/** Where a root logger's fixed-field lines go, for a writer that formats such a line itself. */
export interface FixedLineTarget {
  /** The root's fixed-field sibling: its level decides which lines are written. */
  readonly logger: Logger;
  /** What every line of the root has between its time and its own fields: the base fields' JSON (`,"service":"roster"`). */
  readonly bindings: string;
  readonly destination: DestinationStream;
}

/** Root loggers made here → where their fixed-field lines go. */
const fixedLineTargets = new WeakMap<Logger, FixedLineTarget>();

export function createRootLogger(options: LoggerOptions): Logger {
  const unredacted = { level: options.level, base: { service: "roster" } };
  const destination =
    options.destination ??
    (process.stdout.isTTY
      ? pino.transport({ target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } })
      : stdoutDestination());
  const root = pino({ ...unredacted, redact }, destination);
  const sibling = pino(unredacted, destination);
  const bindings = (sibling as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  if (typeof bindings !== "string") throw new Error("pino keeps a logger's bindings elsewhere: update fixedLineTarget");
  fixedLineTargets.set(root, { logger: sibling, bindings, destination });
  return root;
}

/**
 * Made here so two loggers can share it: a turn-batched writer on stdout's
 * descriptor (turn-batched-destination.ts), or process.stdout itself when
 * something (a test runner) replaced its write.
 */
function stdoutDestination(): DestinationStream {
  const replaced = process.stdout.write !== (Object.getPrototypeOf(process.stdout) as typeof process.stdout).write;
  return replaced ? process.stdout : createTurnBatchedDestination(process.stdout.fd);
}

/**
 * The logger for lines whose fields are all known scalars, never a header, a
 * token or a message: `root`'s sibling without redaction when `root` was made
 * by createRootLogger, else `root` itself. It follows `root`'s level as it was
 * when `root` was made.
 */
export function fixedFieldLogger(root: Logger): Logger {
  return fixedLineTargets.get(root)?.logger ?? root;
}

/**
 * Where the fixed-field lines of `root` go when createRootLogger made it: a
 * line written there as `{"level":N,"time":T` + bindings + fields +
 * `,"msg":…}` and a newline is the line the sibling would write (it has no
 * hooks, mixin, formatters or serializers). Undefined for any other logger.
 */
export function fixedLineTarget(root: Logger): FixedLineTarget | undefined {
  return fixedLineTargets.get(root);
}
