/**
 * `npm run embedded-mongo -- --port N [--data-dir DIR]`: runs the embedded
 * server in the foreground. Prints exactly one line with the connection URI
 * on stdout; logs (pino) go to stderr. SIGINT/SIGTERM stop it cleanly (exit 0).
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { startEmbeddedMongo } from "./index.ts";

const usage = "usage: npm run embedded-mongo -- --port <0..65535> [--data-dir <dir>] [--log-level <level>]";

interface CliOptions {
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

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`embedded-mongo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const log = pino({ level: options.logLevel }, pino.destination(2));
  const server = await startEmbeddedMongo({
    port: options.port,
    log,
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
  });
  process.stdout.write(`embedded-mongo listening on ${server.uri}\n`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => { shutdown("SIGINT"); });
  process.on("SIGTERM", () => { shutdown("SIGTERM"); });
}

main().catch((err: unknown) => {
  process.stderr.write(`embedded-mongo: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
