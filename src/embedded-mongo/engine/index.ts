/**
 * The embedded server's storage engine: documents with BSON type fidelity,
 * indexes, snapshot-isolated transactions, the change log and the journal.
 */
import { createEngineCore } from "./engine.ts";
import { openDataDir } from "./data-dir.ts";
import type { Engine, EngineOptions } from "./types.ts";

export * from "./types.ts";

/**
 * Creates an engine. With `dataDir`, loads the newest snapshot there, replays
 * the journal after it (cutting off a torn tail, reported once through
 * `options.log`), and journals every commit and DDL from then on.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const core = createEngineCore(options);
  if (options.dataDir !== undefined) await openDataDir(core, options.dataDir, options);
  return core.engine;
}
