/** Command-line options of the embedded-mongo CLI, validated with messages naming the problem. */
import { parseArgs } from "node:util";

export const usage = [
  "usage: npm run embedded-mongo -- --port <0..65535> [--data-dir <dir>] [--log-level <level>]",
  "         [--change-log-retention <events>] [--change-log-retention-seconds <seconds>] [--enable-test-commands]",
].join("\n");

export interface CliOptions {
  readonly help: boolean;
  readonly port: number;
  readonly dataDir: string | undefined;
  readonly logLevel: string;
  /** Change events kept for change streams (undefined: the store's default). */
  readonly changeLogRetention: number | undefined;
  readonly changeLogRetentionMs: number | undefined;
  /** mongod's enableTestCommands: configureFailPoint. */
  readonly enableTestCommands: boolean;
}

/** A positive integer option, or a message naming it. */
function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new Error(`${flag} must be a positive integer, got '${value}'`);
  }
  return Number(value);
}

/** Parses and validates the command line; throws with a message naming the problem. */
export function parseCli(argv: readonly string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      port: { type: "string" },
      "data-dir": { type: "string" },
      "log-level": { type: "string" },
      "change-log-retention": { type: "string" },
      "change-log-retention-seconds": { type: "string" },
      "enable-test-commands": { type: "boolean" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    return {
      help: true,
      port: 0,
      dataDir: undefined,
      logLevel: "info",
      changeLogRetention: undefined,
      changeLogRetentionMs: undefined,
      enableTestCommands: false,
    };
  }
  if (positionals.length > 0) throw new Error(`unexpected argument '${positionals[0] ?? ""}'\n${usage}`);
  if (values.port === undefined) throw new Error(`--port is required\n${usage}`);
  if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) {
    throw new Error(`--port must be an integer between 0 and 65535, got '${values.port}'`);
  }
  const dataDir = values["data-dir"];
  if (dataDir?.trim() === "") throw new Error("--data-dir must not be empty");
  const logLevel = values["log-level"] ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new Error(`--log-level must be one of fatal, error, warn, info, debug, trace, silent; got '${logLevel}'`);
  }
  const changeLogRetention = positiveInteger(values["change-log-retention"], "--change-log-retention");
  const retentionSeconds = positiveInteger(values["change-log-retention-seconds"], "--change-log-retention-seconds");
  return {
    help: false,
    port: Number(values.port),
    dataDir,
    logLevel,
    changeLogRetention,
    changeLogRetentionMs: retentionSeconds === undefined ? undefined : retentionSeconds * 1000,
    enableTestCommands: values["enable-test-commands"] === true,
  };
}
