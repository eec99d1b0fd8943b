/**
 * The report of an import: one CSV row per failed row of the input — its
 * line, member, role and tag as read, the gRPC code name and the message —
 * written as failures come (never held in memory). Its columns make it an
 * import file itself (`roster import` ignores line, code and message), so
 * the failed rows can be fixed and imported again from it.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { resolve } from "node:path";
import { stringify, type Stringifier } from "csv-stringify";

export interface ReportEntry {
  readonly line: number;
  readonly member: string;
  readonly role: string;
  readonly tag: string;
  /** gRPC code name, e.g. INVALID_ARGUMENT. */
  readonly code: string;
  readonly message: string;
}

export interface ImportReport {
  readonly path: string;
  /** Failed rows written so far. */
  readonly count: number;
  add(entry: ReportEntry): void;
  /** Flushes and closes the file; resolves to whether one was written. */
  close(): Promise<boolean>;
}

export const reportColumns = ["line", "member", "role", "tag", "code", "message"] as const;

/**
 * A report at `path` (relative to `cwd`), created with the first failure, or
 * at once when `always` (an explicit --report: scripts may rely on finding the file).
 */
export function createImportReport(path: string, cwd: string, always: boolean): ImportReport {
  let writer: { csv: Stringifier; file: WriteStream; closed: Promise<void> } | undefined;
  let count = 0;
  const open = (): NonNullable<typeof writer> => {
    if (writer !== undefined) return writer;
    const csv = stringify({ header: true, columns: [...reportColumns] });
    const file = createWriteStream(resolve(cwd, path));
    const closed = new Promise<void>((resolve, reject) => {
      file.once("close", resolve);
      file.once("error", reject);
    });
    // Observed at close(); until then a failed write must not crash the import.
    closed.catch(() => undefined);
    csv.pipe(file);
    writer = { csv, file, closed };
    return writer;
  };
  if (always) open();
  return {
    path,
    get count() {
      return count;
    },
    add(entry) {
      count += 1;
      open().csv.write(reportColumns.map((column) => entry[column]));
    },
    async close() {
      if (writer === undefined) return false;
      writer.csv.end();
      await writer.closed;
      return true;
    },
  };
}
