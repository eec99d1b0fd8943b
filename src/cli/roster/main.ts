/**
 * Entry of the `roster` command (`npm run roster -- …`, or the `roster` bin:
 * src/cli/roster/bin.mjs). Sets the exit code and lets the process end on its own,
 * so everything written to a pipe gets out.
 */
import { runRoster } from "./run-roster.ts";

// `roster export … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

runRoster(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  out: process.stdout,
  err: process.stderr,
  onInterrupt: (listener) => {
    process.on("SIGINT", listener);
    return () => {
      process.off("SIGINT", listener);
    };
  },
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`roster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
