/**
 * The process logger's stdout destination (src/rpc/turn-batched-destination.ts):
 * the lines of one event-loop turn leave in one write at its end, in order;
 * `flushSync` and pino's `flush` write at once; a full pipe is retried and a
 * closed one ends the output; and a process that exits right after logging
 * loses no line.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createTurnBatchedDestination } from "../../src/rpc/turn-batched-destination.ts";

/** A fake write(2) recording what each call wrote; `failures` are thrown first, one per call. */
function recorder(failures: string[] = []) {
  const writes: string[] = [];
  const write = (_fd: number, bytes: Uint8Array, offset: number): number => {
    const failure = failures.shift();
    if (failure !== undefined) throw Object.assign(new Error(failure), { code: failure });
    // Short writes: at most 8 bytes per call, as a nearly full pipe takes them.
    const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + 8));
    writes.push(Buffer.from(chunk).toString("utf8"));
    return chunk.length;
  };
  return { writes, write };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("createTurnBatchedDestination", () => {
  it("writes a turn's lines together when the turn ends, in order", async () => {
    const { writes, write } = recorder();
    const destination = createTurnBatchedDestination(99, write);
    destination.write("one\n");
    destination.write("two\n");
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes.join("")).toBe("one\ntwo\n");
    destination.write("three\n");
    await nextTurn();
    expect(writes.join("")).toBe("one\ntwo\nthree\n");
  });

  it("writes at once on flushSync and on pino's flush", () => {
    const { writes, write } = recorder();
    const destination = createTurnBatchedDestination(99, write);
    destination.write("a\n");
    destination.flushSync();
    expect(writes.join("")).toBe("a\n");
    destination.write("b\n");
    let flushed = false;
    destination.flush(() => (flushed = true));
    expect(flushed).toBe(true);
    expect(writes.join("")).toBe("a\nb\n");
  });

  it("retries a full pipe and stops writing to a closed one", () => {
    const full = recorder(["EAGAIN", "EAGAIN"]);
    const destination = createTurnBatchedDestination(99, full.write);
    destination.write("kept after a full pipe\n");
    destination.flushSync();
    expect(full.writes.join("")).toBe("kept after a full pipe\n");

    const closed = recorder(["EPIPE"]);
    const gone = createTurnBatchedDestination(99, closed.write);
    gone.write("lost\n");
    gone.flushSync();
    gone.write("also dropped\n");
    gone.flushSync();
    expect(closed.writes).toEqual([]);
  });

  it("loses no line when the process exits right after logging", () => {
    const module = fileURLToPath(new URL("../../src/rpc/turn-batched-destination.ts", import.meta.url));
    const script = [
      `import { createTurnBatchedDestination } from ${JSON.stringify(module)};`,
      "const destination = createTurnBatchedDestination(1);",
      "for (let i = 0; i < 1000; i++) destination.write(`line ${i}\\n`);",
      "process.exit(0);",
    ].join("\n");
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(child.stdout.split("\n").filter((line) => line !== "")).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
  });
});
