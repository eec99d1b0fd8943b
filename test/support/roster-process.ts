/**
 * Roster as `npm start` runs it — `node --import tsx src/main.ts` in its own
 * process — for tests of what only a real process shows: signals, the exit
 * code, the log on stdout. Both doors listen on free ports on 127.0.0.1;
 * tokens are signed with the process's random HS256 secret.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { signHs256Token } from "../../src/auth/token-signer.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** How the process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() when it exited. */
  readonly at: number;
}

export interface RosterProcess {
  readonly grpcPort: number;
  /** `127.0.0.1:<grpc port>`. */
  readonly address: string;
  readonly httpUrl: string;
  readonly child: ChildProcess;
  /** Resolves when the process exits (never rejects). */
  readonly exited: Promise<ProcessExit>;
  token(subject: string): Promise<string>;
  /** JSON log lines printed so far. */
  logs(): Record<string, unknown>[];
  /** Resolves with the first log line matching `test`, waiting up to `timeoutMs`. */
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stderr(): string;
  /** Kills the process if it still runs (SIGKILL) and removes its data directory. */
  dispose(): Promise<void>;
}

/**
 * Starts the process with `env` on top of a test default (ports 0, host
 * 127.0.0.1, a random ROSTER_JWT_SECRET, a temporary ROSTER_DATA_DIR) and
 * command-line flags `args`, and resolves once both doors listen. Rejects with
 * its output if it exits or does not get ready within `startTimeoutMs`.
 */
export async function startRosterProcess(
  env: Readonly<Record<string, string>>,
  startTimeoutMs = 15_000,
  args: readonly string[] = [],
): Promise<RosterProcess> {
  const secret = randomBytes(32).toString("base64url");
  const dataDir = await mkdtemp(join(tmpdir(), "roster-process-"));
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: repoRoot,
    env: {
      PATH: process.env["PATH"] ?? "",
      ROSTER_HOST: "127.0.0.1",
      ROSTER_GRPC_PORT: "0",
      ROSTER_HTTP_PORT: "0",
      ROSTER_DATA_DIR: dataDir,
      ROSTER_JWT_SECRET: secret,
      ROSTER_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  const watchers = new Set<() => void>();
  let pending = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const complete = pending.split("\n");
    pending = complete.pop() ?? "";
    for (const text of complete) {
      if (text.trim() === "") continue;
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        lines.push({ msg: text });
      }
    }
    for (const watcher of watchers) watcher();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      for (const watcher of watchers) watcher();
      resolve({ code, signal, at: performance.now() });
    });
  });
  let exitedYet = false;
  void exited.then(() => (exitedYet = true));

  const waitForLog = (test: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(test);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (exitedYet || child.exitCode !== null) {
          done();
          reject(new Error(`roster exited before the expected log line\n${stderr}\n${JSON.stringify(lines)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no expected log line within ${timeoutMs} ms\n${stderr}\n${JSON.stringify(lines)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });

  const dispose = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const grpc = await waitForLog((line) => line["msg"] === "roster gRPC door listening", startTimeoutMs);
    const web = await waitForLog((line) => line["msg"] === "roster web door listening", startTimeoutMs);
    const grpcPort = Number(grpc["grpcPort"]);
    return {
      grpcPort,
      address: `127.0.0.1:${grpcPort}`,
      httpUrl: String(web["url"]),
      child,
      exited,
      token: (subject) => signHs256Token({ subject, ttlSeconds: 3600 }, secret),
      logs: () => [...lines],
      waitForLog,
      stderr: () => stderr,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
