/**
 * The process scaffolding the service benches share: a temp dir, the embedded
 * store and `node src/main.ts` each in their own process, and one teardown
 * that runs on success, on failure and on Ctrl-C (children are SIGKILLed if
 * this process exits without it).
 *
 * Not test/fixtures/roster-npm-start-process.ts: that one keeps every log line (the
 * service logs one per RPC, which would grow without bound here), stops the
 * service with SIGKILL rather than a graceful SIGTERM, and has no
 * BENCH_SERVICE_NODE_ARGS.
 *
 * BENCH_STORE_NODE_ARGS passes node flags to the stores as
 * BENCH_SERVICE_NODE_ARGS does to the service, e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/store-prof` (a profile per store, written when it
 * stops).
 *
 * BENCH_STORE_IN_MEMORY=true runs the bench's stores without a data
 * directory: for data too large to snapshot on the way (a million groups
 * stalled the store past the driver's 30 s monitor timeout while it wrote
 * its snapshot).
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { spawnEmbeddedMongo, type SpawnedEmbeddedMongo } from "@roster/embedded-mongo";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const startTimeoutMs = 30_000;
const gracefulStopMs = 5_000;
const storesInMemory = process.env["BENCH_STORE_IN_MEMORY"] === "true";

/** Where a store keeps its data: `dir`, or nowhere with BENCH_STORE_IN_MEMORY. */
const storeNodeArgs = (process.env["BENCH_STORE_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");

/** How a bench store is spawned: where it keeps its data (`dir`, or nowhere with BENCH_STORE_IN_MEMORY), and its node flags. */
function storeOptions(dir: string): { dataDir?: string; nodeArgs: readonly string[] } {
  return storesInMemory ? { nodeArgs: storeNodeArgs } : { dataDir: dir, nodeArgs: storeNodeArgs };
}

type ServiceProcess = ChildProcessByStdio<null, null, Readable>;

export interface ServiceOptions {
  /** MONGODB_URI, database included. */
  readonly mongodbUri: string;
  /** Further variables on top of the bench defaults (ports 0 on 127.0.0.1, log level info, the run's secret and data dir). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface StartedService {
  /** The service's own pid (it is spawned directly, not through a wrapper, so /proc/<pid> is the service). */
  readonly pid: number;
  readonly grpcPort: number;
  /** Its log lines as parsed JSON, as far as they were read (until it listened; the rest stay in `<dataDir>/service-N.log`). */
  readonly startLog: readonly Record<string, unknown>[];
  /** Stops it now (SIGTERM, then SIGKILL), rather than at teardown; idempotent. */
  stop(): Promise<void>;
}

export interface BenchRun {
  /** The run's temporary directory (removed at teardown); the store keeps its data in `<dataDir>/store`. */
  readonly dataDir: string;
  readonly store: SpawnedEmbeddedMongo;
  /** The HS256 secret the service verifies tokens with. */
  readonly secret: string;
  /**
   * Starts `node src/main.ts` (with BENCH_SERVICE_NODE_ARGS) and resolves once
   * its gRPC door listens — and its web door too when `webDoor` is set.
   */
  readonly startService: {
    (options: ServiceOptions & { readonly webDoor: true }): Promise<StartedService & { readonly httpUrl: string }>;
    (options: ServiceOptions & { readonly webDoor?: false }): Promise<StartedService>;
  };
  /**
   * Starts another embedded store (its own process and data directory), for
   * a measurement that must start from an empty store; stopped at teardown.
   */
  readonly startStore: () => Promise<SpawnedEmbeddedMongo>;
  /** Registers something to close at teardown, before the service and store stop (last registered, first closed). */
  readonly defer: (close: () => Promise<void> | void) => void;
}

/**
 * Runs `main` with a fresh temp dir (named `<tempPrefix>…`) and store, then
 * tears everything down; a failure is printed as `<name> failed: …` and sets
 * exit code 1.
 */
export function runBench(name: string, tempPrefix: string, main: (run: BenchRun) => Promise<void>): void {
  const stores: SpawnedEmbeddedMongo[] = [];
  const services: ServiceProcess[] = [];
  let dataDir: string | undefined;
  const closers: (() => Promise<void> | void)[] = [];

  const stopService = async (service: ServiceProcess): Promise<void> => {
    if (service.exitCode !== null || service.signalCode !== null) return;
    const exited = new Promise((resolve) => service.once("exit", resolve));
    service.kill("SIGTERM");
    const timer = setTimeout(() => service.kill("SIGKILL"), gracefulStopMs);
    await exited;
    clearTimeout(timer);
  };

  const cleanup = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const service of services.splice(0).reverse()) await stopService(service);
    for (const store of stores.splice(0).reverse()) await store.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    dataDir = undefined;
  };

  process.once("exit", () => {
    for (const service of services) service.kill("SIGKILL");
    for (const store of stores) store.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }

  function startService(options: ServiceOptions & { readonly webDoor: true }): Promise<StartedService & { readonly httpUrl: string }>;
  function startService(options: ServiceOptions & { readonly webDoor?: false }): Promise<StartedService>;
  function startService(options: ServiceOptions & { readonly webDoor?: boolean }): Promise<StartedService & { readonly httpUrl?: string }> {
    const startLog: Record<string, unknown>[] = [];
    const nodeArgs = (process.env["BENCH_SERVICE_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "");
    // The service's log (one JSON line per RPC) goes to a file, as it would
    // to a log collector, not through a pipe into this process: reading and
    // decoding every line here made the load generator pay for the
    // service's logging on every Roster call (and not on the no-op's).
    const logPath = join(dataDir ?? tmpdir(), `service-${services.length + 1}.log`);
    const logFd = openSync(logPath, "a");
    let child: ServiceProcess;
    try {
      child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "src/main.ts"], {
        cwd: repoRoot,
        env: {
          PATH: process.env["PATH"] ?? "",
          MONGODB_URI: options.mongodbUri,
          ROSTER_DATA_DIR: dataDir ?? "",
          ROSTER_HOST: "127.0.0.1",
          ROSTER_GRPC_PORT: "0",
          ROSTER_HTTP_PORT: "0",
          ROSTER_JWT_SECRET: secret,
          // info: the "listening" lines carry the ports.
          ROSTER_LOG_LEVEL: "info",
          ...options.env,
        },
        stdio: ["ignore", logFd, "pipe"],
      }) as ServiceProcess;
    } finally {
      closeSync(logFd);
    }
    services.push(child);
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    return new Promise((resolve, reject) => {
      let grpcPort: number | undefined;
      let httpUrl: string | undefined;
      let read = 0;
      let pending = "";
      const finish = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        child.off("exit", exitedEarly);
      };
      const exitedEarly = (code: number | null): void => {
        finish();
        reject(new Error(`the service exited with code ${code ?? "?"} before listening\n${stderr}`));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`the service did not start within ${startTimeoutMs / 1000} s\n${stderr}`));
      }, startTimeoutMs);
      // Reads the log's new lines until both doors have said where they listen.
      const poll = setInterval(() => {
        const size = statSync(logPath).size;
        if (size <= read) return;
        const bytes = Buffer.alloc(size - read);
        const fd = openSync(logPath, "r");
        try {
          read += readSync(fd, bytes, 0, bytes.length, read);
        } finally {
          closeSync(fd);
        }
        pending += bytes.toString("utf8");
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.startsWith("{")) continue;
          const entry = JSON.parse(line) as { msg?: string; grpcPort?: number; url?: string };
          startLog.push(entry);
          if (entry.msg === "roster gRPC door listening" && entry.grpcPort !== undefined) grpcPort = entry.grpcPort;
          if (entry.msg === "roster web door listening" && entry.url !== undefined) httpUrl = entry.url;
          if (grpcPort !== undefined && (options.webDoor !== true || httpUrl !== undefined)) {
            finish();
            resolve({
              pid: child.pid ?? 0,
              grpcPort,
              startLog,
              stop: () => stopService(child),
              ...(httpUrl === undefined ? {} : { httpUrl }),
            });
            return;
          }
        }
      }, 20);
      child.once("exit", exitedEarly);
    });
  }

  const secret = randomBytes(32).toString("base64url");
  const start = async (): Promise<void> => {
    dataDir = await mkdtemp(join(tmpdir(), tempPrefix));
    process.stdout.write("starting the embedded store and the service (separate processes)...\n");
    const store = await spawnEmbeddedMongo({ port: 0, ...storeOptions(join(dataDir, "store")) });
    stores.push(store);
    const runDir = dataDir;
    await main({
      dataDir,
      store,
      secret,
      startService,
      startStore: async () => {
        const another = await spawnEmbeddedMongo({ port: 0, ...storeOptions(join(runDir, `store-${stores.length + 1}`)) });
        stores.push(another);
        return another;
      },
      defer: (close) => {
        closers.push(close);
      },
    });
  };

  start()
    .catch((error: unknown) => {
      process.stderr.write(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(() =>
      cleanup().catch((error: unknown) => {
        process.stderr.write(`${name} cleanup failed: ${String(error)}\n`);
        process.exitCode = 1;
      }),
    );
}

/** Prints `rows` (the first is the header) as a Markdown table: first column left-aligned, the others right-aligned. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(" | ")} |`;
  process.stdout.write(
    `\n${line(rows[0] ?? [])}\n|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|\n`,
  );
  for (const row of rows.slice(1)) process.stdout.write(`${line(row)}\n`);
}
