/**
 * The `roster` command as a child process (`node src/cli/roster/bin.mjs`, what the
 * package's bin runs), for tests and the batch benchmark: its exit code and
 * output, and the child itself to send it signals.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface CommandRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCommand {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** stderr so far. */
  stderr(): string;
  readonly done: Promise<CommandRun>;
}

/** Starts `roster <args>` with only `env` (plus PATH and HOME) in its environment, in `cwd` (default: the repository). */
export function startRosterCommand(args: readonly string[], env: Readonly<Record<string, string>>, cwd = repoRoot): RunningCommand {
  const child = spawn(process.execPath, [`${repoRoot}src/cli/roster/bin.mjs`, ...args], {
    cwd,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<CommandRun>((resolve) => {
    child.once("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
  return { child, stderr: () => stderr, done };
}

/** Runs `roster <args>` to the end. */
export function runRosterCommand(args: readonly string[], env: Readonly<Record<string, string>>, cwd?: string): Promise<CommandRun> {
  return startRosterCommand(args, env, cwd).done;
}
