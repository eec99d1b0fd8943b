/**
 * `roster import <group> <file>`: the rows of a CSV or JSONL file as `add`
 * operations on one BatchMemberships stream, with flow control end to end:
 * the file is read only as fast as the transport can send (connect-node
 * writes the next message once the previous one is flushed, and HTTP/2 flow
 * control holds the writes while the server is busy), and results are read
 * as they come. Memory holds the rows in flight, whatever the file's size.
 *
 * A row fails alone: malformed rows are not sent, refused ones come back
 * with their code; both go to the report (import-report.ts) with their line.
 *
 * --sync declares the stream the group's complete member list (SyncOptions
 * as the first message): at the end the server removes the direct members
 * the file does not name, and answers a SyncSummary; --dry-run reports what
 * would change and changes nothing. Since a row left out would be a member
 * removed, a sync is refused before anything is sent when any row is
 * malformed (a first pass over the file checks; it also counts the rows for
 * the progress total).
 *
 * Ctrl-C: the first stops reading the file and half-closes the stream; the
 * results of everything sent still arrive and are counted, the report is
 * written, and the command prints the `--skip N` that resumes after the last
 * row whose outcome is known. A sync is cancelled instead (half-closing
 * would complete it with a partial list and remove everyone after). A
 * second Ctrl-C aborts at once.
 */
import { accessSync, constants as fsConstants } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { toJson, type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { Role } from "../../../gen/roster/v1/access_pb.ts";
import { SyncSummarySchema, type SyncSummary } from "../../../gen/roster/v1/membership_pb.ts";
import type { BatchMembershipsRequestSchema } from "../../../gen/roster/v1/membership_service_pb.ts";
import { statusName } from "../../rpc/status-names.ts";
import type { Command, CommandContext } from "./command.ts";
import { exitCodes, stringFlag, UsageError } from "./command-line.ts";
import { describeCallError } from "./connection.ts";
import { describeGroup, fetchGroup } from "./group-ref.ts";
import { createImportReport, type ImportReport } from "./import-report.ts";
import {
  countImportRows,
  estimateImportRows,
  formatOfPath,
  InputFileError,
  readImportRows,
  type ImportFormat,
  type ImportRow,
  type MalformedRow,
} from "./import-rows.ts";
import { handleInterrupts } from "./interruption.ts";
import { roleFlag } from "./member-commands.ts";
import { createProgress } from "./progress.ts";
import { roleName } from "./roles.ts";

export const importCommand: Command = {
  name: "import",
  summary: "Add the members listed in a CSV or JSONL file (BatchMemberships)",
  args: ["<group>", "<file>"],
  flags: {
    role: { type: "string", value: "ROLE", description: "role of rows that name none: MEMBER (default), MANAGER or ADMIN" },
    sync: { type: "boolean", description: "the file is the complete member list: direct members it does not name are removed" },
    "dry-run": { type: "boolean", description: "with --sync: report what would change, change nothing" },
    skip: { type: "string", value: "N", description: "skip the first N rows (to resume an interrupted import)" },
    report: {
      type: "string",
      value: "FILE",
      description: "where failed rows go (default: ./NAME.report.csv for NAME.csv, written if a row fails)",
    },
    format: { type: "string", value: "csv|jsonl", description: "the file's format (default: by its extension, .csv or .jsonl)" },
    quiet: { type: "boolean", short: "q", description: "no progress on stderr" },
  },
  help: `
Reads <file> as a stream and sends one add operation per row; shows progress on
stderr (a bar on a terminal, a line every 2 s otherwise) and a summary at the end.

CSV: a header row naming a "member" column, and optionally "role" and "tag"
(in any order), or no header and one principal per line. JSONL: one object per
line, {"member": "user:alice", "role": "MANAGER", "tag": "hr-42"}; other keys
are ignored, so roster export's output reads back. Roles: MEMBER, MANAGER,
ADMIN (any case, ROLE_ prefix allowed); empty means --role.

Every failed row — malformed, or refused by the server — goes to the report:
CSV with line, member, role, tag, code (the gRPC code name) and message. The
report is an import file too: fix it and import it again. Exit code 1 when
any row failed.

Ctrl-C stops sending, waits for the results of what was sent, writes the report
and prints the --skip that resumes; a second Ctrl-C aborts at once. An
interrupted --sync is cancelled before it removes anyone: run it again whole.`,
  examples: [
    "roster import acme/students registrar.csv --report failed.csv",
    "roster import acme/team hr-export.jsonl --sync --dry-run",
    "roster import acme/students registrar.csv --skip 45000",
  ],
  run: runImport,
};

interface ImportOptions {
  readonly groupRef: string;
  readonly path: string;
  readonly format: ImportFormat;
  readonly role: Role;
  readonly sync: boolean;
  readonly dryRun: boolean;
  readonly skip: number;
  readonly reportPath: string;
  readonly reportExplicit: boolean;
  readonly quiet: boolean;
}

function importOptionsOf(ctx: CommandContext): ImportOptions {
  const [groupRef = "", path = ""] = ctx.args;
  const formatText = stringFlag(ctx.flags, "format");
  if (formatText !== undefined && formatText !== "csv" && formatText !== "jsonl") {
    throw new UsageError(`--format must be csv or jsonl, got "${formatText}"`);
  }
  const format = formatText ?? formatOfPath(path);
  if (format === undefined) throw new UsageError(`cannot tell the format of "${path}" from its name: use --format csv or --format jsonl`);
  const skipText = stringFlag(ctx.flags, "skip") ?? "0";
  if (!/^\d+$/.test(skipText)) throw new UsageError(`--skip must be a whole number, got "${skipText}"`);
  const sync = ctx.flags["sync"] === true;
  const dryRun = ctx.flags["dry-run"] === true;
  if (dryRun && !sync) throw new UsageError("--dry-run previews a sync: use it with --sync");
  if (sync && skipText !== "0")
    throw new UsageError("--skip cannot be used with --sync: a sync needs the complete list, run it again whole");
  const explicitReport = stringFlag(ctx.flags, "report");
  const reportPath = explicitReport ?? `${basename(path).replace(/\.[^.]*$/, "")}.report.csv`;
  if (resolve(ctx.cwd, reportPath) === resolve(ctx.cwd, path)) throw new UsageError(`--report: "${reportPath}" is the input file`);
  try {
    accessSync(dirname(resolve(ctx.cwd, reportPath)), fsConstants.W_OK);
  } catch {
    throw new UsageError(`cannot write the report "${reportPath}" (choose another place with --report FILE)`);
  }
  return {
    groupRef,
    path,
    format,
    role: roleFlag(stringFlag(ctx.flags, "role")),
    sync,
    dryRun,
    skip: Number(skipText),
    reportPath,
    reportExplicit: explicitReport !== undefined,
    quiet: ctx.flags["quiet"] === true,
  };
}

type BatchRequestInit = MessageInitShape<typeof BatchMembershipsRequestSchema>;

/** How the stream ended. */
type Ending = { readonly kind: "complete" } | { readonly kind: "interrupted" } | { readonly kind: "failed"; readonly error: unknown };

async function runImport(ctx: CommandContext): Promise<number> {
  const options = importOptionsOf(ctx);
  const group = (await fetchGroup(ctx.connection, options.groupRef)).group;
  const groupId = group?.id ?? "";
  const report = createImportReport(options.reportPath, ctx.cwd, options.reportExplicit);

  let rows: number;
  try {
    // A sync reads the file twice: first to check every row, since a row it
    // could not send would be a member removed.
    rows = options.sync
      ? await countImportRows(options.path, ctx.cwd, options.format, options.role, (row) => {
          report.add(reportEntryOf(row));
        })
      : await estimateImportRows(options.path, ctx.cwd, options.format);
  } catch (error) {
    await report.close();
    if (error instanceof InputFileError) throw new UsageError(error.message);
    throw error;
  }
  if (options.sync && report.count > 0) {
    await report.close();
    ctx.err.write(
      `roster: ${report.count} rows of ${options.path} are malformed (see ${report.path}); a sync removes the members the file ` +
        "does not name, so nothing was sent. Fix the rows and run the sync again.\n",
    );
    return exitCodes.negative;
  }

  const total = Math.max(0, rows - options.skip);
  const progress = createProgress({ label: "import", total, stream: ctx.err, quiet: options.quiet });
  const counts = { done: 0, failed: 0, changed: 0, unchanged: 0 };
  // Rows read and not yet settled, in file order: sent rows wait for their
  // result; a malformed row behind them waits its turn, so the report and
  // the resume point follow the file's order.
  const pending = createFifo<ImportRow>();
  let lastRead = options.skip;
  let stopping = false;
  // Changed by the Ctrl-C handler and the stream's failure.
  let ending = { kind: "complete" } as Ending;
  let summary: SyncSummary | undefined;
  const abort = new AbortController();
  const settle = (entry: Parameters<ImportReport["add"]>[0] | undefined): void => {
    counts.done += 1;
    if (entry !== undefined) {
      counts.failed += 1;
      report.add(entry);
    }
    progress.update(counts.done, counts.failed);
  };
  const settleMalformedAhead = (): void => {
    for (let head = pending.peek(); head?.kind === "malformed"; head = pending.peek()) {
      pending.shift();
      settle(reportEntryOf(head));
    }
  };

  async function* requests(): AsyncGenerator<BatchRequestInit> {
    if (options.sync) yield { message: { case: "sync", value: { groupId, dryRun: options.dryRun } } };
    for await (const row of readImportRows(options.path, ctx.cwd, options.format, options.role)) {
      if (stopping) return;
      if (row.number <= options.skip) continue;
      lastRead = row.number;
      pending.push(row);
      if (row.kind === "malformed") {
        settleMalformedAhead();
        continue;
      }
      yield {
        message: {
          case: "operation",
          value: { tag: row.tag, operation: { case: "add", value: { groupId, member: row.member, role: row.role } } },
        },
      };
    }
  }

  const stopHandling = handleInterrupts(ctx.onInterrupt, {
    stop: () => {
      ending = { kind: "interrupted" };
      if (options.sync) {
        progress.note("roster: interrupted: cancelling the sync before it removes anyone");
        abort.abort();
        return;
      }
      stopping = true;
      progress.note("roster: interrupted: sending no more rows, waiting for the results of those sent (Ctrl-C again to abort)");
    },
    abort: () => {
      progress.note("roster: aborted");
      abort.abort();
    },
  });
  try {
    let expected = 0;
    for await (const response of ctx.connection.memberships.batchMemberships(requests(), ctx.connection.callOptions(abort.signal))) {
      if (response.message.case === "summary") {
        summary = response.message.value;
        continue;
      }
      if (response.message.case !== "result") continue;
      const result = response.message.value;
      settleMalformedAhead();
      const row = pending.shift();
      if (row?.kind !== "row" || result.index !== expected) {
        throw new Error(`the server answered operation ${result.index} where ${expected} was expected`);
      }
      expected += 1;
      const code = result.status?.code ?? 0;
      if (code === 0) {
        if (result.changed) counts.changed += 1;
        else counts.unchanged += 1;
      }
      settle(
        code === 0
          ? undefined
          : {
              line: row.line,
              member: row.member,
              role: roleName(row.role),
              tag: row.tag,
              code: codeName(code),
              message: result.status?.message ?? "",
            },
      );
    }
  } catch (error) {
    if (!abort.signal.aborted) ending = { kind: "failed", error };
    else if (ending.kind === "complete") ending = { kind: "interrupted" };
  } finally {
    stopHandling();
    settleMalformedAhead();
    progress.finish(ending.kind === "complete" ? counts.done : undefined);
  }
  const reportWritten = await report.close();
  // The rows whose outcome is known, in order: up to the first still in flight.
  const resumeSkip = (pending.peek()?.number ?? lastRead + 1) - 1;
  const outcome = {
    options,
    group,
    total: ending.kind === "complete" ? counts.done : total,
    counts,
    summary,
    ending,
    resumeSkip,
    reportPath: reportWritten ? report.path : undefined,
  };
  if (ctx.json) ctx.out.write(`${JSON.stringify(importJson(outcome, ctx))}\n`);
  else printOutcome(ctx, outcome);

  switch (ending.kind) {
    case "interrupted":
      return exitCodes.interrupted;
    case "failed":
      ctx.err.write(`roster: the stream failed: ${describeCallError(ending.error, ctx.settings)}\n`);
      return exitCodes.rpc;
    case "complete":
      return counts.failed > 0 ? exitCodes.negative : exitCodes.ok;
  }
}

interface ImportOutcome {
  readonly options: ImportOptions;
  readonly group: Parameters<typeof describeGroup>[0];
  readonly total: number;
  readonly counts: { readonly done: number; readonly failed: number; readonly changed: number; readonly unchanged: number };
  readonly summary: SyncSummary | undefined;
  readonly ending: Ending;
  readonly resumeSkip: number;
  readonly reportPath: string | undefined;
}

function printOutcome(ctx: CommandContext, outcome: ImportOutcome): void {
  const { counts, options } = outcome;
  const n = (value: number): string => value.toLocaleString("en-US");
  const ok = counts.changed + counts.unchanged;
  const lines = [
    `${options.path} → ${describeGroup(outcome.group)}: ${n(counts.done)} of ${n(outcome.total)} rows done`,
    `  ${n(ok)} ok (${n(counts.changed)} changed, ${n(counts.unchanged)} already so), ${n(counts.failed)} failed` +
      (outcome.reportPath === undefined ? "" : `: see ${outcome.reportPath}`),
  ];
  const summary = outcome.summary;
  if (summary !== undefined) {
    lines.push(
      `  sync${summary.dryRun ? " (dry run: nothing was changed)" : ""}: ${n(summary.added)} added, ${n(summary.changed)} changed, ` +
        `${n(summary.removed)} removed, ${n(summary.unchanged)} unchanged, ${n(summary.keptLastAdmins)} last admins kept`,
    );
  }
  if (outcome.ending.kind !== "complete") {
    if (options.sync) {
      lines.push("  the sync did not finish: no member was removed; rows answered before were applied. Run the whole sync again.");
    } else {
      lines.push(`  resume with: ${resumeCommand(ctx, outcome.resumeSkip)}`);
    }
  }
  ctx.out.write(`${lines.join("\n")}\n`);
}

function importJson(outcome: ImportOutcome, ctx: CommandContext): Record<string, unknown> {
  return {
    groupId: outcome.group?.id ?? "",
    file: outcome.options.path,
    rows: outcome.total,
    done: outcome.counts.done,
    ok: outcome.counts.changed + outcome.counts.unchanged,
    changed: outcome.counts.changed,
    unchanged: outcome.counts.unchanged,
    failed: outcome.counts.failed,
    report: outcome.reportPath ?? null,
    syncSummary: outcome.summary === undefined ? null : toJson(SyncSummarySchema, outcome.summary),
    ending: outcome.ending.kind,
    ...(outcome.ending.kind === "failed" ? { error: describeCallError(outcome.ending.error, ctx.settings) } : {}),
    ...(outcome.ending.kind !== "complete" && !outcome.options.sync ? { resumeSkip: outcome.resumeSkip } : {}),
  };
}

/** The command that goes on where this one stopped: the same arguments, --skip N. */
function resumeCommand(ctx: CommandContext, skip: number): string {
  const flags = ["role", "report", "format"].flatMap((name) => {
    const value = stringFlag(ctx.flags, name);
    return value === undefined ? [] : [`--${name} ${shellQuote(value)}`];
  });
  return ["roster import", ...ctx.args.map(shellQuote), ...flags, `--skip ${skip}`].join(" ");
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/** The gRPC name of a per-operation status code ("NOT_FOUND"). */
function codeName(code: number): string {
  const known = Object.values(Code).find((value): value is Code => typeof value === "number" && value.valueOf() === code);
  return known === undefined ? String(code) : statusName(known);
}

function reportEntryOf(row: MalformedRow): Parameters<ImportReport["add"]>[0] {
  return { line: row.line, member: row.member, role: row.role, tag: row.tag, code: "INVALID_ARGUMENT", message: row.message };
}

/** A queue whose removals cost O(1) amortized (rows in flight come back in the order they were sent). */
function createFifo<T>(): { push(item: T): void; shift(): T | undefined; peek(): T | undefined } {
  let items: T[] = [];
  let head = 0;
  return {
    push(item) {
      items.push(item);
    },
    shift() {
      const item = items[head];
      if (item === undefined) return undefined;
      head += 1;
      if (head >= 1024 && head * 2 >= items.length) {
        items = items.slice(head);
        head = 0;
      }
      return item;
    },
    peek: () => items[head],
  };
}
