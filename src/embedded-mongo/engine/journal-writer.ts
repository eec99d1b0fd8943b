/**
 * Group commit: appends are queued in call order and written by one loop that
 * takes everything queued so far, writes it with a single call and makes it
 * durable with a single fdatasync; every append in that batch then resolves.
 * Concurrent commits therefore share fsyncs. Switching to a new file (after a
 * compaction) keeps the order: nothing in the new file is acknowledged before
 * everything queued for the old file is durable.
 */
import { close, fdatasync, fsync, openSync, write } from "node:fs";
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

export interface JournalFile {
  readonly fd: number;
  readonly path: string;
  /** Bytes in the file, including queued ones. */
  size: number;
  /** Set for a new file: its directory entry must be made durable before the first acknowledgement. */
  newFile: boolean;
}

/**
 * Opens a journal file for appending, synchronously: a compaction switches
 * files inside the commit that triggered it, so the switch cannot wait.
 */
export function openJournalFileSync(path: string, size: number, newFile: boolean): JournalFile {
  return { fd: openSync(path, "a"), path, size, newFile };
}

/** Makes a directory's entries (new or renamed files) durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface JournalWriter {
  /** Queues `bytes` for the current file; resolves once they are on disk. */
  append(bytes: Buffer): Promise<void>;
  /** Sends later appends to `file`; the old file is closed once drained. */
  switchTo(file: JournalFile): void;
  readonly current: JournalFile;
  /** fdatasync calls so far (group commit makes this far smaller than the appends). */
  readonly syncs: number;
  /** The first write or sync error; once set, every append is rejected. */
  readonly failure: Error | null;
  /** Resolves when everything queued so far is durable (or has failed). */
  drain(): Promise<void>;
  /** Drains and closes the current file. */
  close(): Promise<void>;
}

interface Pending {
  readonly file: JournalFile;
  readonly bytes: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

async function writeAll(fd: number, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    offset += (await writeAsync(fd, data, offset, data.length - offset, null)).bytesWritten;
  }
}

export function createJournalWriter(initial: JournalFile, onError: (error: unknown) => void): JournalWriter {
  let current = initial;
  let queue: Pending[] = [];
  let running: Promise<void> | null = null;
  let failure: Error | null = null;
  let syncs = 0;
  const retired: JournalFile[] = [];

  async function run(): Promise<void> {
    while (queue.length > 0) {
      const file = (queue[0] as Pending).file;
      let count = 0;
      while (count < queue.length && (queue[count] as Pending).file === file) count++;
      const batch = queue.slice(0, count);
      queue = queue.slice(count);
      try {
        if (failure !== null) throw failure;
        await writeAll(file.fd, Buffer.concat(batch.map((p) => p.bytes)));
        await fdatasyncAsync(file.fd);
        syncs++;
        if (file.newFile) {
          await fsyncAsync(file.fd);
          await fsyncDirectory(dirname(file.path));
          file.newFile = false;
        }
        for (const p of batch) p.resolve();
      } catch (error) {
        if (failure === null) {
          failure = error instanceof Error ? error : new Error("journal write failed");
          onError(error);
        }
        for (const p of batch) p.reject(error);
      }
    }
    // Files we switched away from are fully written once the queue is empty.
    for (const file of retired.splice(0)) await closeAsync(file.fd);
  }

  function kick(): void {
    if (running !== null) return;
    running = new Promise<void>((resolve) => {
      // Let the commits of this tick join the batch before writing.
      setImmediate(resolve);
    })
      .then(run)
      .finally(() => {
        running = null;
        if (queue.length > 0) kick();
      });
  }

  return {
    get current() {
      return current;
    },
    get syncs() {
      return syncs;
    },
    get failure() {
      return failure;
    },
    append(bytes) {
      if (failure !== null) return Promise.reject(failure);
      current.size += bytes.length;
      const file = current;
      return new Promise<void>((resolve, reject) => {
        queue.push({ file, bytes, resolve, reject });
        kick();
      });
    },
    switchTo(file) {
      retired.push(current);
      current = file;
    },
    async drain() {
      while (running !== null) await running;
    },
    async close() {
      while (running !== null || queue.length > 0) {
        if (running === null) kick();
        await running;
      }
      for (const file of retired.splice(0)) await closeAsync(file.fd);
      await closeAsync(current.fd);
    },
  };
}
