/** Command-line options of the embedded-mongo CLI, validated with messages naming the problem. */
import { parseArgs } from "node:util";

export const usage = "usage: npm run embedded-mongo -- --port <0..65535> [--data-dir <dir>] [--log-level <level>]";

export interface CliOptions {
  readonly help: boolean;
  readonly port: number;
  readonly dataDir: string | undefined;
  readonly logLevel: string;
}

/** Parses and validates the command line; throws with a message naming the problem. */
export function parseCli(argv: readonly string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      port: { type: "string" },
      "data-dir": { type: "string" },
      "log-level": { type: "string" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) return { help: true, port: 0, dataDir: undefined, logLevel: "info" };
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
  return { help: false, port: Number(values.port), dataDir, logLevel };
}

