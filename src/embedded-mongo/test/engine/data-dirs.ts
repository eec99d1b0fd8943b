/**
 * Per-test data directories for engine durability tests: a fresh temporary
 * root per test, engines started on a directory there (closed afterwards),
 * and crash copies (the files as they are, without close()).
 */
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { createEngine } from "../../engine/index.ts";
import type { Engine, EngineOptions } from "../../engine/index.ts";

export interface Logged {
  readonly level: string;
  readonly message: string;
}

export interface DataDirs {
  /** A path for a directory below this test's root. */
  path(name: string): string;
  /** Starts an engine on `dir`, collecting its log lines. */
  start(dir: string, extra?: Partial<EngineOptions>): Promise<{ engine: Engine; logs: Logged[] }>;
  /** What a crash leaves behind: a copy of `dir` as it is now. */
  crashCopy(dir: string, name: string): Promise<string>;
  /** The newest (or `index`-th) journal file of `dir`. */
  journal(dir: string, index?: number): Promise<string>;
  /** The root's entries (to check nothing was written). */
  rootEntries(): Promise<string[]>;
}

/** Registers the hooks; call at the top of a test file. */
export function useDataDirs(prefix: string): DataDirs {
  let root = "";
  const open: Engine[] = [];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `${prefix}-`));
  });
  afterEach(async () => {
    for (const engine of open.splice(0)) await engine.close();
    await rm(root, { recursive: true, force: true });
  });
  return {
    path: (name) => join(root, name),
    async start(dir, extra = {}) {
      const logs: Logged[] = [];
      const engine = await createEngine({ dataDir: dir, log: (level, message) => logs.push({ level, message }), ...extra });
      open.push(engine);
      return { engine, logs };
    },
    async crashCopy(dir, name) {
      const copy = join(root, name);
      await cp(dir, copy, { recursive: true });
      return copy;
    },
    async journal(dir, index = -1) {
      const names = (await readdir(dir)).filter((n) => n.startsWith("journal-")).sort();
      const name = names.at(index);
      if (name === undefined) throw new Error(`no journal in ${dir}`);
      return join(dir, name);
    },
    rootEntries: () => readdir(root),
  };
}
