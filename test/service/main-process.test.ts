/**
 * `npm start` as a process (src/main.ts): a bad setting prints one clear
 * message and exits 1; a running server stops on SIGTERM and exits 0.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { withDatabase } from "../fixtures/roster-in-process.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs src/main.ts with `env`; `whenReady` may act once stdout shows `ready`. */
function runMain(env: Record<string, string>, args: string[] = [], onStdout?: (text: string, kill: () => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
      cwd: repoRoot,
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`main did not exit in time\n${stdout}\n${stderr}`));
    }, 50_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout, () => child.kill("SIGTERM"));
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let mongo: TestMongo;
let dataDir: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  dataDir = await mkdtemp(join(tmpdir(), "roster-main-"));
});

afterAll(async () => {
  await mongo.stop();
  await rm(dataDir, { recursive: true, force: true });
});

// Three processes that mostly start (tsx compiling src/main.ts): they run at once, each
// given a minute, as a cold start on a loaded 2-core machine took over 25 s.
describe("npm start", { concurrent: true, timeout: 60_000 }, () => {
  it("exits 1 with a message naming the variable for an invalid setting", async () => {
    const run = await runMain({ ROSTER_GRPC_PORT: "not-a-port" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ROSTER_GRPC_PORT: must be a whole number between 0 and 65535, got "not-a-port"');
  });

  it("prints usage for --help", async () => {
    const run = await runMain({}, ["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("--grpc-port");
  });

  it("serves, then stops gracefully on SIGTERM and exits 0", async () => {
    let signalled = false;
    const run = await runMain(
      {
        MONGODB_URI: withDatabase(mongo.uri, uniqueDbName("main")),
        ROSTER_DATA_DIR: dataDir,
        ROSTER_GRPC_PORT: "0",
        ROSTER_HOST: "127.0.0.1",
        ROSTER_SHUTDOWN_GRACE_MS: "500",
      },
      [],
      (text, kill) => {
        if (!signalled && text.includes("roster gRPC door listening")) {
          signalled = true;
          kill();
        }
      },
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("DEVELOPMENT MODE");
    // The first successful probe is "reachable", not "reachable again".
    expect(run.stdout).toContain('"msg":"database reachable: health SERVING"');
    expect(run.stdout).not.toContain("reachable again");
    expect(run.stdout).toContain("roster stopped");
  });
});
