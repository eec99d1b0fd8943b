/**
 * What a `roster` subcommand is: its declaration (command-line.ts) and the
 * function that runs it with the parsed command line, an open connection,
 * and the streams to print on. Commands return their exit code; a failed
 * call may simply throw (main.ts prints it with its gRPC code, exit 3).
 */
import type { CommandSpec, FlagValues } from "./command-line.ts";
import type { Connection, ConnectionSettings } from "./connection.ts";

/** Where a command prints: answers on `out`, progress and diagnostics on `err`. */
export interface CommandStreams {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
}

export interface CommandContext extends CommandStreams {
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
