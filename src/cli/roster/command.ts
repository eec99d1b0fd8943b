/**
 * What a `roster` subcommand is: its declaration (command-line.ts) and the
 * function that runs it with the parsed command line, an open connection,
 * and the streams to print on. Commands return their exit code; a failed
 * call may simply throw (run-roster.ts prints it with its gRPC code, exit 3).
 */
import type { CommandSpec, FlagValues } from "./command-line.ts";
import type { Connection, ConnectionSettings } from "./connection.ts";

/** Where a command prints: answers on `out`, progress and diagnostics on `err`. */
export interface CommandStreams {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
}

/**
 * What one run of the command gets from the process that runs it (main.ts:
 * the real process; tests run it in their own): the environment, the
 * directory relative file names are resolved against, where it prints, and
 * Ctrl-C.
 */
export interface CommandHost extends CommandStreams {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Calls `listener` on each Ctrl-C (SIGINT); returns the function that stops listening. */
  readonly onInterrupt: (listener: () => void) => () => void;
}

export interface CommandContext extends CommandHost {
  readonly args: readonly string[];
  readonly flags: FlagValues;
  readonly connection: Connection;
  readonly settings: ConnectionSettings;
  /** True with --json. */
  readonly json: boolean;
}

export interface Command extends CommandSpec {
  run(ctx: CommandContext): Promise<number>;
}
