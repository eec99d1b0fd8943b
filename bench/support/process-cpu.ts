/**
 * The CPU time a process has used, from /proc/<pid>/stat (Linux only): on a
 * shared machine a call's wall time moves with everyone else's load, the
 * answering process's own CPU per call much less.
 */
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

/**
 * CPU time (user + system, every thread: the garbage collector's helpers
 * too) process `pid` has used so far, in µs; undefined off Linux. The kernel
 * scales the ticks to the precise runtime, so a difference of two readings
 * is exact to a tick (10 ms) at each end.
 */
export function processCpuUs(pid: number): number | undefined {
  try {
    // Fields after the parenthesised command name: state is the 1st, utime the 12th, stime the 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1_000_000) / ticksPerSecond : undefined;
  } catch {
    return undefined;
  }
}
