/**
 * Runs the store's command (`cli.ts`) as a child process, for tests and
 * benchmarks that must crash it (`kill -9`), restart it on the same data
 * directory, or keep it out of the measuring process.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

/** The package's folder: the child runs there, so `--import tsx` finds the package's tsx. */
const packageDir = fileURLToPath(new URL(".", import.meta.url));
const cliPath = fileURLToPath(new URL("cli.ts", import.meta.url));
const uriPattern = /mongodb:\/\/\S+/;

/**
 * The environment variable naming a JavaScript bundle of cli.ts (built by a
 * test run's global setup: src/embedded-mongo/test/fixtures/store-cli-bundle.ts).
 * When set, the server runs as `node <bundle>`: the same code, started in
 * about a third of the time tsx's loader takes to load the TypeScript.
 */
export const storeCliBundleVariable = "EMBEDDED_MONGO_CLI_BUNDLE";

/** The server process, with stdout and stderr piped to the test. */
export type EmbeddedMongoProcess = ChildProcessByStdio<null, Readable, Readable>;

export interface SpawnEmbeddedMongoOptions {
  /** Journal directory; without it the server keeps everything in memory. */
  readonly dataDir?: string;
  /** Listening port; 0 (the default) lets the OS pick a free one. */
  readonly port?: number;
  /** How long to wait for the URI line before giving up. */
  readonly startTimeoutMs?: number;
  /** Flags for the child's node, before the loader (e.g. `--cpu-prof` to profile the store). */
  readonly nodeArgs?: readonly string[];
}

export interface SpawnedEmbeddedMongo {
  /** The `mongodb://` URI the server printed on stdout. */
  readonly uri: string;
  /** The server process itself (not a wrapper), so signals reach the server. */
  readonly process: EmbeddedMongoProcess;
  /** Sends `signal` (default SIGTERM) to the server; a no-op once it has exited. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code, or null when a signal ended the process. */
  readonly exited: Promise<number | null>;
  /** All stdout and stderr written so far; collection goes on after start. */
  output(): { readonly stdout: string; readonly stderr: string };
  /** SIGTERM, then SIGKILL if the server has not exited within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Every live child, killed if the test process exits without stopping them. */
const liveChildren = new Set<EmbeddedMongoProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of liveChildren) child.kill("SIGKILL");
  });
}

/**
 * Spawns `node [nodeArgs] --import tsx cli.ts --port N [--data-dir DIR]` (or
 * `node [nodeArgs] <bundle> …` given storeCliBundleVariable) and resolves once the server
 * printed its URI.
 *
 * Runs node with the tsx loader rather than `node_modules/.bin/tsx`: the tsx
 * CLI is a wrapper that starts the script in a second node process, so a
 * SIGKILL sent to the wrapper would leave the real server running (and holding
 * the data directory) as an orphan, which defeats crash tests.
 */
export async function spawnEmbeddedMongo(options: SpawnEmbeddedMongoOptions = {}): Promise<SpawnedEmbeddedMongo> {
  const bundle = process.env[storeCliBundleVariable];
  const entry = bundle === undefined || bundle === "" ? ["--import", "tsx", cliPath] : [bundle];
  const args = [...(options.nodeArgs ?? []), ...entry, "--port", String(options.port ?? 0)];
  if (options.dataDir !== undefined) args.push("--data-dir", options.dataDir);
  const child = spawn(process.execPath, args, { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] });
  installExitHook();
  liveChildren.add(child);

  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (stdout += chunk));
  child.stderr.on("data", (chunk: string) => (stderr += chunk));

  let hasExited = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      hasExited = true;
      liveChildren.delete(child);
      resolve(code);
    });
  });
  const kill = (signal: NodeJS.Signals = "SIGTERM"): void => {
    if (!hasExited) child.kill(signal);
  };

  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const describe = (): string =>
    `${process.execPath} ${args.join(" ")} (cwd ${packageDir})\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      kill("SIGKILL");
      reject(new Error(`embedded mongo did not print a mongodb:// URI within ${timeoutMs} ms: ${describe()}`));
    }, timeoutMs);
    const onData = (): void => {
      // Only complete lines: a chunk may end in the middle of the URI.
      const match = uriPattern.exec(stdout.slice(0, stdout.lastIndexOf("\n") + 1));
      if (match) {
        cleanup();
        resolve(match[0]);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup();
      reject(new Error(`embedded mongo exited (code ${code}, signal ${signal}) before printing its URI: ${describe()}`));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new Error(`could not spawn embedded mongo: ${error.message}: ${describe()}`));
    };
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout.off("data", onData);
      child.off("close", onExit);
      child.off("error", onError);
    }
    child.stdout.on("data", onData);
    // "close", not "exit": at "exit" the pipes may still hold the child's
    // last words (why it did not start), and under load the error went out
    // without its stderr.
    child.once("close", onExit);
    child.once("error", onError);
  });

  const stop = async (stopTimeoutMs = 10_000): Promise<number | null> => {
    kill("SIGTERM");
    const timer = setTimeout(() => {
      kill("SIGKILL");
    }, stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return { uri, process: child, kill, exited, output: () => ({ stdout, stderr }), stop };
}
