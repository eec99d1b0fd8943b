/**
 * `npm start`: configuration from the environment and command-line flags,
 * then the server; SIGTERM/SIGINT stop it gracefully and exit 0. A bad
 * configuration or a failed start prints one clear message and exits 1.
 */
import { ConfigError, loadConfig, renderUsage } from "./config.ts";
import { startRoster } from "./server.ts";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${renderUsage()}\n`);
    return 0;
  }
  let config;
  try {
    config = loadConfig(process.env, argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`roster: ${error.message}\n`);
      return 1;
    }
    throw error;
  }

  let server;
  try {
    server = await startRoster(config);
  } catch (error) {
    process.stderr.write(`roster: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }

  const running = server;
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        process.stderr.write(`roster: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      signalled = true;
      running.logger.info({ signal }, "shutdown requested");
      running.stop().then(resolve, (error: unknown) => {
        process.stderr.write(`roster: error during shutdown: ${String(error)}\n`);
        resolve();
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  return 0;
}

main().then(
  (code) => {
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`roster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
