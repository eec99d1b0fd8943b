/**
 * The rows of an import file, read as a stream (never the whole file in
 * memory), each with its row number (data rows only, from 1: what --skip
 * counts) and its line in the file (what the report names).
 *
 * CSV (RFC 4180, parsed by csv-parse): either a header row naming a `member`
 * column, with optional `role` and `tag` columns, in any order — the
 * report's own `line`, `code` and `message` columns are ignored, so a report
 * is itself an import file — or no header and one principal per line. Blank
 * lines are skipped; fields are trimmed.
 *
 * JSONL: one JSON object per line with a string `member` and optional
 * `role` and `tag`; other keys are ignored, so `roster export --format
 * jsonl` (Membership as proto JSON) reads back. Blank lines are skipped.
 *
 * A row that cannot become an operation (broken quoting, wrong number of
 * columns, no member, an unknown role, invalid JSON) is yielded as
 * `malformed` with the reason, and the reading goes on: it fails alone, in
 * the report. Only a file that cannot be read at all, or a CSV header that
 * cannot be understood, stops the import (InputFileError).
 */
import { createReadStream, type ReadStream } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parse, type CsvError } from "csv-parse";
import { parse as parseCsv } from "csv-parse/sync";
import type { Role } from "../../../gen/roster/v1/access_pb.ts";
import { reportColumns } from "./import-report.ts";
import { parseRoleName, roleProblem } from "./roles.ts";

export type ImportFormat = "csv" | "jsonl";

/** A row that becomes an add operation; `role` already defaulted. */
export interface ValidRow {
  readonly kind: "row";
  readonly number: number;
  readonly line: number;
  readonly member: string;
  readonly role: Role;
  readonly tag: string;
}

/** A row that cannot be sent; its fields as written, for the report. */
export interface MalformedRow {
  readonly kind: "malformed";
  readonly number: number;
  readonly line: number;
  readonly member: string;
  readonly role: string;
  readonly tag: string;
  readonly message: string;
}

export type ImportRow = ValidRow | MalformedRow;

/** The file cannot be imported at all (unreadable, or a CSV header that names no usable columns). */
export class InputFileError extends Error {
  override readonly name = "InputFileError";
}

/** The format of `path` by its extension, or undefined. */
export function formatOfPath(path: string): ImportFormat | undefined {
  if (/\.csv$/i.test(path)) return "csv";
  if (/\.(jsonl|ndjson)$/i.test(path)) return "jsonl";
  return undefined;
}

/** Columns a CSV header may name; a report's others (line, code, message) are ignored. */
const knownColumns: readonly string[] = ["member", "role", "tag"];

/** Reads `path` (relative to `cwd`) row by row; `defaultRole` is the role of rows that name none. */
export async function* readImportRows(path: string, cwd: string, format: ImportFormat, defaultRole: Role): AsyncGenerator<ImportRow> {
  const input = await openInput(path, cwd);
  try {
    if (format === "csv") yield* csvRows(input, defaultRole);
    else yield* jsonlRows(input, defaultRole);
  } finally {
    // Also when the reader stops early (an interrupted import): no file handle is left open.
    input.destroy();
  }
}

/**
 * The number of rows of `path` without parsing it (a byte scan for lines
 * with something on them, less a CSV header), for the progress total: exact
 * unless quoted CSV fields span lines. Checks that the file can be read and
 * its CSV header understood, so an import fails before it sends anything.
 */
export async function estimateImportRows(path: string, cwd: string, format: ImportFormat): Promise<number> {
  const input = await openInput(path, cwd);
  let lines = 0;
  let content = false;
  let first = "";
  for await (const chunk of input as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === 0x0a) {
        if (content) lines += 1;
        content = false;
      } else if (!content && byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
        content = true;
      }
    }
    if (lines === 0 && first.length < 65_536) first += chunk.toString("utf8");
  }
  if (content) lines += 1;
  if (format === "jsonl") return lines;
  const firstLine =
    first
      .replace(/^\uFEFF/, "")
      .split("\n")
      .find((line) => line.trim() !== "") ?? "";
  let header: ColumnIndex | undefined;
  try {
    header = headerOf(parseCsv(firstLine, { relax_column_count: true, trim: true, relax_quotes: true })[0] ?? []);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    header = undefined;
  }
  return header === undefined ? lines : lines - 1;
}

/** Counts the rows of `path` by reading them all (a first pass that checks every row, for a sync); throws InputFileError as reading does. */
export async function countImportRows(
  path: string,
  cwd: string,
  format: ImportFormat,
  defaultRole: Role,
  onMalformed?: (row: MalformedRow) => void,
): Promise<number> {
  let count = 0;
  for await (const row of readImportRows(path, cwd, format, defaultRole)) {
    count = row.number;
    if (row.kind === "malformed") onMalformed?.(row);
  }
  return count;
}

/**
 * The file as a stream, once open: opening errors (ENOENT, EACCES) surface here rather than mid-iteration.
 * Messages name `path` as the user wrote it.
 */
async function openInput(path: string, cwd: string): Promise<ReadStream> {
  const input = createReadStream(resolve(cwd, path));
  await new Promise<void>((resolve, reject) => {
    input.once("open", () => {
      resolve();
    });
    input.once("error", (error: NodeJS.ErrnoException) => {
      reject(new InputFileError(`cannot read "${path}": ${error.code ?? error.message}`));
    });
  });
  return input;
}

async function* csvRows(input: NodeJS.ReadableStream, defaultRole: Role): AsyncGenerator<ImportRow> {
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    relax_column_count: true,
    skip_records_with_error: true,
    info: true,
  });
  // csv-parse reports a broken record as a 'skip' event, possibly before the
  // records read ahead of it are consumed here: they are merged back in line order.
  const broken: { readonly line: number; readonly message: string }[] = [];
  parser.on("skip", (error: CsvError) =>
    broken.push({ line: typeof error["lines"] === "number" ? error["lines"] : 0, message: error.message }),
  );
  input.pipe(parser);
  let columns: ColumnIndex | undefined;
  let number = 0;
  const brokenBefore = function* (line: number): Generator<MalformedRow> {
    for (let next = broken[0]; next !== undefined && next.line < line; next = broken[0]) {
      broken.shift();
      number += 1;
      yield { kind: "malformed", number, line: next.line, member: "", role: "", tag: "", message: `malformed CSV: ${next.message}` };
    }
  };
  let first = true;
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (broken.length > 0) yield* brokenBefore(info.lines);
    if (first) {
      first = false;
      columns = headerOf(record);
      if (columns !== undefined) continue;
    }
    number += 1;
    yield csvRow(record, columns, number, info.lines, defaultRole);
  }
  yield* brokenBefore(Infinity);
}

interface ColumnIndex {
  readonly names: readonly string[];
  readonly member: number;
  readonly role: number | undefined;
  readonly tag: number | undefined;
}

/** The header of a CSV whose first row names `member`; undefined for a headerless single-column file. */
function headerOf(record: readonly string[]): ColumnIndex | undefined {
  const names = record.map((cell) => cell.toLowerCase());
  if (!names.includes("member")) {
    if (record.length > 1) {
      throw new InputFileError(
        `line 1: a CSV file with several columns needs a header row naming its columns (member, and optionally role, tag); got "${record.join(",")}"`,
      );
    }
    return undefined;
  }
  const allowed: readonly string[] = [...knownColumns, ...reportColumns];
  const unknown = names.find((name) => !allowed.includes(name));
  if (unknown !== undefined) throw new InputFileError(`line 1: unknown column "${unknown}" (the columns are member, role, tag)`);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new InputFileError(`line 1: column "${duplicate}" appears twice`);
  const at = (name: string): number | undefined => (names.includes(name) ? names.indexOf(name) : undefined);
  return { names, member: names.indexOf("member"), role: at("role"), tag: at("tag") };
}

function csvRow(record: readonly string[], columns: ColumnIndex | undefined, number: number, line: number, defaultRole: Role): ImportRow {
  const cell = (index: number | undefined): string => (index === undefined ? "" : (record[index] ?? ""));
  const member = cell(columns?.member ?? 0);
  const roleText = cell(columns?.role);
  const tag = cell(columns?.tag);
  const expected = columns?.names.length ?? 1;
  if (record.length !== expected) {
    const shape =
      columns === undefined
        ? "one column (a principal); a file with more columns needs a header row"
        : `${expected} columns (${columns.names.join(",")})`;
    return { kind: "malformed", number, line, member, role: roleText, tag, message: `expected ${shape}, got ${record.length}` };
  }
  return rowOf(number, line, member, roleText, tag, defaultRole);
}

async function* jsonlRows(input: NodeJS.ReadableStream, defaultRole: Role): AsyncGenerator<ImportRow> {
  let line = 0;
  let number = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line += 1;
    if (text.trim() === "") continue;
    number += 1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      yield {
        kind: "malformed",
        number,
        line,
        member: "",
        role: "",
        tag: "",
        message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
      };
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      yield {
        kind: "malformed",
        number,
        line,
        member: "",
        role: "",
        tag: "",
        message: 'expected a JSON object like {"member": "user:alice"}',
      };
      continue;
    }
    const fields = value as Record<string, unknown>;
    const { member = "", role = "", tag = "" } = fields;
    const wrong = Object.entries({ member, role, tag }).find(([, field]) => typeof field !== "string");
    if (wrong !== undefined || typeof member !== "string" || typeof role !== "string" || typeof tag !== "string") {
      const message = `${wrong?.[0] ?? "member"}: must be a string`;
      yield { kind: "malformed", number, line, member: typeof member === "string" ? member : "", role: "", tag: "", message };
      continue;
    }
    yield rowOf(number, line, member.trim(), role, tag, defaultRole);
  }
}

/** The checks both formats share: a member, and a role that names one. */
function rowOf(number: number, line: number, member: string, roleText: string, tag: string, defaultRole: Role): ImportRow {
  if (member === "") return { kind: "malformed", number, line, member, role: roleText, tag, message: "member: is required" };
  if (roleText.trim() === "") return { kind: "row", number, line, member, role: defaultRole, tag };
  const role = parseRoleName(roleText);
  if (role === undefined) return { kind: "malformed", number, line, member, role: roleText, tag, message: roleProblem("role", roleText) };
  return { kind: "row", number, line, member, role, tag };
}
