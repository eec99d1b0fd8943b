/**
 * The `roster` command as a function of its arguments and its host (the
 * environment, working directory, output streams and Ctrl-C of the process
 * that runs it, or of a test): picks the subcommand, parses its command line, connects,
 * runs it, and turns what went wrong into a message and an exit code
 * (command-line.ts: exitCodes). Failed calls print their gRPC code name and
 * the server's message.
 */
import { ConnectError } from "@connectrpc/connect";
import type { Command, CommandHost, CommandStreams } from "./command.ts";
import { exitCodes, parseCommand, renderCommandHelp, renderOverview, UsageError } from "./command-line.ts";
import { connectionSettingsOf, describeCallError, openConnection, type ConnectionSettings } from "./connection.ts";
import { exportCommand } from "./export-command.ts";
import { createCommand, getCommand, listCommand } from "./group-commands.ts";
import { importCommand } from "./import-command.ts";
import { addCommand, checkCommand, removeCommand } from "./member-commands.ts";
import { historyCommand, watchCommand } from "./change-commands.ts";

export const commands: readonly Command[] = [
  getCommand,
  listCommand,
  createCommand,
  addCommand,
  removeCommand,
  checkCommand,
  importCommand,
  exportCommand,
  historyCommand,
  watchCommand,
];

/** Runs `roster <argv>` in `host` and resolves with its exit code; throws only what is a bug (main.ts prints it, exit 1). */
export async function runRoster(argv: readonly string[], host: CommandHost): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    (name === undefined ? host.err : host.out).write(`${renderOverview(commands)}\n`);
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const command = commands.find((c) => c.name === (name === "help" ? rest[0] : name));
  if (command === undefined) {
    host.err.write(`roster: unknown command "${name === "help" ? (rest[0] ?? "") : name}"\nRun 'roster --help' for the commands.\n`);
    return exitCodes.usage;
  }
  if (name === "help") {
    host.out.write(`${renderCommandHelp(command)}\n`);
    return exitCodes.ok;
  }

  let settings: ConnectionSettings;
  let parsed;
  try {
    parsed = parseCommand(command, rest);
    if (parsed.flags["help"] === true) {
      host.out.write(`${renderCommandHelp(command)}\n`);
      return exitCodes.ok;
    }
    settings = connectionSettingsOf(parsed.flags, host.env, host.cwd);
  } catch (error) {
    return usageFailure(command, error, host);
  }
  const connection = openConnection(settings);
  try {
    return await command.run({
      ...host,
      args: parsed.args,
      flags: parsed.flags,
      connection,
      settings,
      json: parsed.flags["json"] === true,
    });
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(command, error, host);
    if (!(error instanceof ConnectError)) throw error;
    host.err.write(`roster ${command.name}: ${describeCallError(error, settings)}\n`);
    return exitCodes.rpc;
  } finally {
    connection.close();
  }
}

function usageFailure(command: Command, error: unknown, streams: CommandStreams): number {
  if (!(error instanceof UsageError)) throw error;
  streams.err.write(`roster ${command.name}: ${error.message}\nRun 'roster ${command.name} --help' for usage.\n`);
  return exitCodes.usage;
}
