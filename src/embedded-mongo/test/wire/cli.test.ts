import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";
import { describe, expect, it } from "vitest";
import { parseCli } from "../../cli-options.ts";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));
/** tsx's command, which `npm run embedded-mongo` runs. */
const tsx = createRequire(import.meta.url).resolve("tsx/cli");
const cli = join(packageDir, "cli.ts");

function start(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [tsx, cli, ...args], { cwd: packageDir, stdio: "pipe" });
}

/**
 * The command with tsx's loader in the server's own process. Signals go to
 * the server itself, as a terminal's Ctrl-C reaches every process of the
 * foreground group: tsx's wrapper, given a signal alone, kills its child
 * unless the child confirms within 30 ms, which a loaded machine misses
 * (exit 130 instead of the server's 0).
 */
function startServer(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", cli, ...args], { cwd: packageDir, stdio: "pipe" });
}

async function collect(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

async function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  let text = "";
  for await (const chunk of child.stdout) {
    text += (chunk as Buffer).toString();
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0] ?? "";
}

// Each test starts processes of its own and mostly waits for them, so the three run at once.
describe.concurrent("embedded-mongo CLI", () => {
  it("prints one URI line, serves clients, persists to --data-dir and exits 0 on SIGTERM", async ({ expect }) => {
    const dataDir = await mkdtemp(join(tmpdir(), "embedded-mongo-cli-"));
    try {
      const child = startServer(["--port", "0", "--data-dir", dataDir, "--log-level", "warn"]);
      const line = await firstLine(child);
      expect(line).toMatch(/^embedded-mongo listening on mongodb:\/\/127\.0\.0\.1:\d+\/\?directConnection=true$/);
      const uri = /mongodb:\/\/\S+/.exec(line)?.[0] ?? "";
      const client = new MongoClient(uri);
      await client
        .db("cli")
        .collection("c")
        .insertOne({ _id: 1 } as never);
      await client.close();
      const rest = collect(child);
      child.kill("SIGTERM");
      const result = await rest;
      expect(result.code).toBe(0);
      expect(result.stdout).toBe("");

      const again = startServer(["--port", "0", "--data-dir", dataDir, "--log-level", "warn"]);
      const uri2 = /mongodb:\/\/\S+/.exec(await firstLine(again))?.[0] ?? "";
      const client2 = new MongoClient(uri2);
      expect(await client2.db("cli").collection("c").findOne({})).toEqual({ _id: 1 });
      await client2.close();
      const done = collect(again);
      again.kill("SIGINT");
      expect((await done).code).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("prints usage for --help and exits 0", async ({ expect }) => {
    const result = await collect(start(["--help"]));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("usage: npm run embedded-mongo -- --port <0..65535> [--data-dir <dir>]");
  });

  it("exits 2 with the problem on stderr for invalid arguments", async ({ expect }) => {
    const result = await collect(start(["--port", "70000"]));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("--port must be an integer between 0 and 65535, got '70000'");
  });
});

describe("parseCli", () => {
  it("accepts a port, a data directory and a log level", () => {
    const defaults = { changeLogRetention: undefined, changeLogRetentionMs: undefined, enableTestCommands: false };
    expect(parseCli(["--port", "0"])).toEqual({ help: false, port: 0, dataDir: undefined, logLevel: "info", ...defaults });
    expect(parseCli(["--port", "27017", "--data-dir", "/tmp/x", "--log-level", "debug"])).toEqual({
      help: false,
      port: 27017,
      dataDir: "/tmp/x",
      logLevel: "debug",
      ...defaults,
    });
    expect(
      parseCli(["--port", "0", "--enable-test-commands", "--change-log-retention", "500", "--change-log-retention-seconds", "60"]),
    ).toEqual({
      help: false,
      port: 0,
      dataDir: undefined,
      logLevel: "info",
      changeLogRetention: 500,
      changeLogRetentionMs: 60_000,
      enableTestCommands: true,
    });
  });

  it.each([
    [[], "--port is required"],
    [["--port", "abc"], "--port must be an integer between 0 and 65535, got 'abc'"],
    [["--port=-1"], "--port must be an integer between 0 and 65535, got '-1'"],
    [["--port", "0", "--bogus"], "Unknown option '--bogus'"],
    [["--port", "0", "extra"], "unexpected argument 'extra'"],
    [["--port", "0", "--data-dir", " "], "--data-dir must not be empty"],
    [["--port", "0", "--log-level", "loud"], "--log-level must be one of"],
  ])("rejects %j with a clear message", (args, message) => {
    expect(() => parseCli(args)).toThrow(message);
  });
});
