/**
 * `npm run embedded-mongo -- --port N [--data-dir DIR]`: runs the embedded
 * server in the foreground. Prints exactly one line with the connection URI
 * on stdout; logs (pino) go to stderr. SIGINT/SIGTERM stop it cleanly (exit 0).
 */
import { pino } from "pino";
import { parseCli, usage, type CliOptions } from "./cli-options.ts";
import { startEmbeddedMongo } from "./index.ts";

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
    enableTestCommands: options.enableTestCommands,
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.changeLogRetention === undefined ? {} : { changeLogRetention: options.changeLogRetention }),
    ...(options.changeLogRetentionMs === undefined ? {} : { changeLogRetentionMs: options.changeLogRetentionMs }),
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
  process.on("SIGINT", () => {
    shutdown("SIGINT");
  });
  process.on("SIGTERM", () => {
    shutdown("SIGTERM");
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`embedded-mongo: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
