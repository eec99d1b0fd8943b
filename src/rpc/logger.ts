/**
 * The process logger: pino JSON, one object per line, pretty-printed when
 * stdout is a terminal. Authorization values are redacted wherever they might
 * appear, as a second line of defence: the pipeline never logs headers or
 * bodies in the first place.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "../config.ts";

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Where lines go (tests capture them); default stdout, pretty when it is a TTY. */
  readonly destination?: DestinationStream;
}

const redact = {
  paths: ["authorization", "*.authorization", "headers.authorization", "*.headers.authorization", "token", "*.token"],
  censor: "[redacted]",
};

export function createRootLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, redact, base: { service: "roster" } };
  if (options.destination !== undefined) return pino(base, options.destination);
  if (process.stdout.isTTY) {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss.l" } } });
  }
  return pino(base);
}
