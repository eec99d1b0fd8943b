/**
 * The `roster` command line: subcommands declared as data (their arguments,
 * flags and help), parsed with `node:util`'s parseArgs, and the help texts
 * rendered from the same declarations, so `--help` cannot drift from what
 * is accepted. Flags may come before or after the arguments (`roster import
 * g f.csv --sync` and `roster import --sync g f.csv`), as kubectl and gh
 * accept them; `--` ends the flags.
 */
import { parseArgs } from "node:util";

/** Exit codes of every subcommand (README: "The roster command"). */
export const exitCodes = {
  ok: 0,
  /** The command ran, with a negative outcome: rows failed, `check` says no. */
  negative: 1,
  /** The command line or an input file is unusable; nothing was sent. */
  usage: 2,
  /** A call failed: connection, token, permission, a missing group, a stream cut off. */
  rpc: 3,
  /** Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;

/** A mistake on the command line: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** For string flags: what the value is, in the help (`--role ROLE`). */
  readonly value?: string;
  readonly description: string;
}

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

export interface CommandSpec {
  readonly name: string;
  /** One line for `roster --help`. */
  readonly summary: string;
  /** Positional arguments, all required, e.g. ["<group>", "<file>"]. */
  readonly args: readonly string[];
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** Paragraphs after the usage line in `roster <name> --help`. */
  readonly help: string;
  readonly examples: readonly string[];
}

/** Flags every subcommand takes: where the server is, who calls, how long to wait, how to print. */
export const globalFlags: Readonly<Record<string, FlagSpec>> = {
  addr: { type: "string", value: "HOST:PORT", description: "gRPC address of Roster (env ROSTER_ADDR; default localhost:50051)" },
  token: { type: "string", value: "JWT", description: "bearer token (env ROSTER_TOKEN; prefer the variable: flags show in ps)" },
  plaintext: { type: "boolean", description: "no TLS (env ROSTER_PLAINTEXT=true); TLS is the default, as with grpcurl" },
  cacert: { type: "string", value: "FILE", description: "PEM CA bundle that signs the server's certificate" },
  cert: { type: "string", value: "FILE", description: "PEM client certificate (mTLS); needs --key" },
  key: { type: "string", value: "FILE", description: "PEM private key of --cert" },
  insecure: { type: "boolean", description: "TLS without verifying the server's certificate" },
  timeout: { type: "string", value: "DURATION", description: "deadline of each call, e.g. 30s, 5m (default: none)" },
  json: { type: "boolean", description: "print JSON instead of tables and sentences" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

export interface ParsedCommand {
  readonly args: readonly string[];
  readonly flags: FlagValues;
}

/** Parses `argv` (after the subcommand's name) for `spec`; throws UsageError for anything it does not accept. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, flag] of Object.entries({ ...globalFlags, ...spec.flags })) {
    options[name] = flag.short === undefined ? { type: flag.type } : { type: flag.type, short: flag.short };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(usageMessageOf(error));
  }
  const flags = parsed.values as FlagValues;
  if (flags["help"] === true) return { args: parsed.positionals, flags };
  const missing = spec.args.slice(parsed.positionals.length);
  if (missing.length > 0) throw new UsageError(`missing ${missing.join(" ")}`);
  if (parsed.positionals.length > spec.args.length) {
    throw new UsageError(`unexpected argument "${parsed.positionals[spec.args.length] ?? ""}"`);
  }
  return { args: parsed.positionals, flags };
}

/** parseArgs' errors, in this command's words. */
function usageMessageOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag !== undefined) return `unknown flag ${flag}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag !== undefined) {
    return message.includes("argument missing") ? `${flag} needs a value` : `${flag} takes no value`;
  }
  return message;
}

/** A string flag's value, or undefined. */
export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
}

/** --limit: a whole number, `fallback` when absent; 0 means no limit (Infinity). */
export function limitFlag(flags: FlagValues, fallback: number): number {
  const text = stringFlag(flags, "limit") ?? String(fallback);
  if (!/^\d+$/.test(text)) throw new UsageError(`--limit must be a whole number, got "${text}"`);
  return Number(text) === 0 ? Infinity : Number(text);
}

/** `roster <name> --help`. */
export function renderCommandHelp(spec: CommandSpec): string {
  const lines = [`Usage: roster ${spec.name} ${[...spec.args, "[flags]"].join(" ")}`, "", spec.summary, "", spec.help.trim(), ""];
  if (Object.keys(spec.flags).length > 0) lines.push("Flags:", ...renderFlags(spec.flags), "");
  lines.push("Connection and output flags:", ...renderFlags(globalFlags), "");
  if (spec.examples.length > 0) lines.push("Examples:", ...spec.examples.map((e) => `  ${e}`), "");
  lines.push(exitCodeHelp);
  return lines.join("\n");
}

/** `roster --help`. */
export function renderOverview(specs: readonly CommandSpec[]): string {
  const width = Math.max(...specs.map((s) => s.name.length));
  return [
    "Usage: roster <command> [arguments] [flags]",
    "",
    "Operate Roster from a shell: look groups up, change members, import and export member lists.",
    "",
    "Commands:",
    ...specs.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    "",
    "A <group> is a group id, or NAMESPACE/SLUG (/SLUG in the global namespace).",
    "Run `roster <command> --help` for its arguments and flags.",
    "",
    "Connection and output flags (every command):",
    ...renderFlags(globalFlags),
    "",
    exitCodeHelp,
  ].join("\n");
}

const exitCodeHelp = `Exit codes: ${exitCodes.ok} done; ${exitCodes.negative} done, but rows failed (import) or the answer is no (check); ${exitCodes.usage} bad command line or input file; ${exitCodes.rpc} a call failed; ${exitCodes.interrupted} interrupted (Ctrl-C).`;

function renderFlags(flags: Readonly<Record<string, FlagSpec>>): string[] {
  const names = Object.entries(flags).map(([name, flag]) => {
    const long = `--${name}${flag.value === undefined ? "" : ` ${flag.value}`}`;
    return [flag.short === undefined ? `    ${long}` : `-${flag.short}, ${long}`, flag.description] as const;
  });
  const width = Math.max(...names.map(([n]) => n.length));
  return names.map(([n, description]) => `  ${n.padEnd(width)}  ${description}`);
}
