/**
 * The parts of the `roster` command that need no server: reading import
 * files (CSV with and without a header, JSONL; malformed rows reported per
 * row with their line, in file order; file-level problems refused), the
 * progress line and bar, durations, and the command line's usage errors.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { parseCommand, UsageError } from "../../src/cli/roster/command-line.ts";
import { connectionSettingsOf, parseDuration } from "../../src/cli/roster/connection.ts";
import { importCommand } from "../../src/cli/roster/import-command.ts";
import { countImportRows, InputFileError, readImportRows, type ImportRow } from "../../src/cli/roster/import-rows.ts";
import { formatProgressBar, formatProgressLine, formatSeconds } from "../../src/cli/roster/progress.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "roster-input-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rowsOf(name: string, content: string, defaultRole = Role.MEMBER): Promise<ImportRow[]> {
  const path = join(dir, name);
  await writeFile(path, content);
  const rows: ImportRow[] = [];
  for await (const row of readImportRows(path, dir, name.endsWith(".csv") ? "csv" : "jsonl", defaultRole)) rows.push(row);
  return rows;
}

const valid = (number: number, line: number, member: string, role: Role, tag = ""): ImportRow => ({
  kind: "row",
  number,
  line,
  member,
  role,
  tag,
});
const malformed = (
  number: number,
  line: number,
  message: string,
  fields: { member?: string; role?: string; tag?: string } = {},
): ImportRow => ({
  kind: "malformed",
  number,
  line,
  member: fields.member ?? "",
  role: fields.role ?? "",
  tag: fields.tag ?? "",
  message,
});

describe("CSV import files", () => {
  it("read a header in any order and case, roles in any spelling, quoted fields, blank lines, CRLF and a BOM", async () => {
    const rows = await rowsOf(
      "header.csv",
      '\uFEFFTag,Member,ROLE\r\n"a,1",user:alice,manager\r\n\r\nb, user:bob ,\r\nc,service:ci,ROLE_ADMIN\r\n',
      Role.MANAGER,
    );
    expect(rows).toEqual([
      valid(1, 2, "user:alice", Role.MANAGER, "a,1"),
      valid(2, 4, "user:bob", Role.MANAGER, "b"),
      valid(3, 5, "service:ci", Role.ADMIN, "c"),
    ]);
  });

  it("read a headerless file as one principal per line, with the default role", async () => {
    expect(await rowsOf("plain.csv", "user:a\nuser:b\n")).toEqual([valid(1, 1, "user:a", Role.MEMBER), valid(2, 2, "user:b", Role.MEMBER)]);
  });

  it("report malformed rows with their line and reason, in file order, and go on", async () => {
    const rows = await rowsOf(
      "bad.csv",
      ["member,role,tag", "user:a,OWNER,t1", ",MEMBER,t2", "user:c,MEMBER", "user:e,,t5", "user:f,admin,t6,extra"].join("\n"),
    );
    expect(rows).toEqual([
      malformed(1, 2, 'role: must be MEMBER, MANAGER or ADMIN, got "OWNER"', { member: "user:a", role: "OWNER", tag: "t1" }),
      malformed(2, 3, "member: is required", { role: "MEMBER", tag: "t2" }),
      malformed(3, 4, "expected 3 columns (member,role,tag), got 2", { member: "user:c", role: "MEMBER" }),
      valid(4, 5, "user:e", Role.MEMBER, "t5"),
      malformed(5, 6, "expected 3 columns (member,role,tag), got 4", { member: "user:f", role: "admin", tag: "t6" }),
    ]);
  });

  it("report broken quoting where the parser found it, in order with the rows around it", async () => {
    // csv-parse goes on reading a field whose quote did not close properly,
    // so the lines after it end up in that broken record (reported once).
    const rows = await rowsOf("quote.csv", ["member,tag", "user:a,t1", 'user:b,"t2"x', "user:c,t3"].join("\n"));
    expect(rows).toEqual([
      valid(1, 2, "user:a", Role.MEMBER, "t1"),
      malformed(
        2,
        3,
        'malformed CSV: Invalid Closing Quote: got "x" at line 3 instead of delimiter, record delimiter, trimable character (if activated) or comment',
      ),
      malformed(3, 4, "malformed CSV: Quote Not Closed: the parsing is finished with an opening quote at line 4"),
    ]);
  });

  it("accept a report as input: its line, code and message columns are ignored", async () => {
    const rows = await rowsOf(
      "again.report.csv",
      'line,member,role,tag,code,message\n9,user:bob,MEMBER,t7,INVALID_ARGUMENT,"member: must be…"\n',
    );
    expect(rows).toEqual([valid(1, 2, "user:bob", Role.MEMBER, "t7")]);
  });

  it("refuse a header they cannot understand, as a whole", async () => {
    await writeFile(join(dir, "typo.csv"), "memebr,role\nuser:a,MEMBER\n");
    await expect(countImportRows(join(dir, "typo.csv"), dir, "csv", Role.MEMBER)).rejects.toThrow(
      new InputFileError(
        'line 1: a CSV file with several columns needs a header row naming its columns (member, and optionally role, tag); got "memebr,role"',
      ),
    );
    await writeFile(join(dir, "extra.csv"), "member,group\nuser:a,x\n");
    await expect(countImportRows(join(dir, "extra.csv"), dir, "csv", Role.MEMBER)).rejects.toThrow(
      'line 1: unknown column "group" (the columns are member, role, tag)',
    );
    await expect(countImportRows(join(dir, "missing.csv"), dir, "csv", Role.MEMBER)).rejects.toThrow(
      `cannot read "${join(dir, "missing.csv")}": ENOENT`,
    );
  });
});

describe("JSONL import files", () => {
  it("read objects, ignore other keys (an export reads back), skip blank lines, and report bad lines alone", async () => {
    const rows = await rowsOf(
      "members.jsonl",
      [
        '{"groupId":"g","member":"user:a","role":"ROLE_MANAGER","createTime":"2024-01-01T00:00:00Z"}',
        "",
        '{"member":"user:b","tag":"t2"}',
        "{not json",
        '["user:c"]',
        '{"member":42}',
        '{"role":"ADMIN"}',
        '{"member":"user:d","role":"boss"}',
      ].join("\n"),
    );
    expect(rows).toEqual([
      valid(1, 1, "user:a", Role.MANAGER),
      valid(2, 3, "user:b", Role.MEMBER, "t2"),
      malformed(3, 4, `not valid JSON: ${jsonErrorOf("{not json")}`),
      malformed(4, 5, 'expected a JSON object like {"member": "user:alice"}'),
      malformed(5, 6, "member: must be a string"),
      malformed(6, 7, "member: is required", { role: "ADMIN" }),
      malformed(7, 8, 'role: must be MEMBER, MANAGER or ADMIN, got "boss"', { member: "user:d", role: "boss" }),
    ]);
  });
});

function jsonErrorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

describe("progress", () => {
  it("says done/total, percentage, rate, ETA and failures; at the end the time taken", () => {
    expect(formatProgressLine({ done: 4500, total: 10_000, failed: 12, elapsedMs: 2000 })).toBe(
      "4,500/10,000 rows (45%), 2,250 rows/s, ETA 2s, 12 failed",
    );
    expect(formatProgressLine({ done: 10_000, total: 10_000, failed: 0, elapsedMs: 65_000 })).toBe(
      "10,000/10,000 rows (100%), 154 rows/s, in 1m05s, 0 failed",
    );
    expect(formatProgressLine({ done: 0, total: 10, failed: 0, elapsedMs: 0 })).toBe("0/10 rows (0%), 0 rows/s, ETA ?, 0 failed");
  });

  it("draws a bar that fits the terminal", () => {
    const bar = formatProgressBar("import", { done: 5000, total: 10_000, failed: 0, elapsedMs: 1000 }, 100);
    expect(bar).toMatch(/^import \[=+> +\] 5,000\/10,000 rows \(50%\)/);
    expect(bar.length).toBeLessThan(100);
    expect(formatProgressBar("import", { done: 10, total: 10, failed: 0, elapsedMs: 1000 }, 80)).toContain(`[${"=".repeat(10)}`);
    expect(formatSeconds(7384)).toBe("2h03m");
  });
});

describe("the command line", () => {
  it("takes flags before and after the arguments, and refuses what it does not know", () => {
    expect(parseCommand(importCommand, ["--sync", "g", "f.csv", "--role=ADMIN"])).toEqual({
      args: ["g", "f.csv"],
      flags: { sync: true, role: "ADMIN" },
    });
    expect(() => parseCommand(importCommand, ["g"])).toThrow(new UsageError("missing <file>"));
    expect(() => parseCommand(importCommand, ["g", "f", "x"])).toThrow(new UsageError('unexpected argument "x"'));
    expect(() => parseCommand(importCommand, ["g", "f", "--frobnicate"])).toThrow(new UsageError("unknown flag --frobnicate"));
    expect(() => parseCommand(importCommand, ["g", "f", "--skip"])).toThrow(new UsageError("--skip needs a value"));
  });

  it("reads the connection from flags over the environment, TLS unless --plaintext", () => {
    expect(connectionSettingsOf({}, {}, dir)).toMatchObject({
      address: "localhost:50051",
      token: undefined,
      plaintext: false,
      timeoutMs: undefined,
    });
    expect(connectionSettingsOf({}, { ROSTER_ADDR: "roster:443", ROSTER_TOKEN: "t", ROSTER_PLAINTEXT: "true" }, dir)).toMatchObject({
      address: "roster:443",
      token: "t",
      plaintext: true,
    });
    expect(
      connectionSettingsOf({ addr: "[::1]:5000", token: "f", timeout: "1.5m" }, { ROSTER_ADDR: "x:1", ROSTER_TOKEN: "t" }, dir),
    ).toMatchObject({
      address: "[::1]:5000",
      token: "f",
      timeoutMs: 90_000,
    });
    expect(() => connectionSettingsOf({ addr: "http://x" }, {}, dir)).toThrow(
      'address "http://x" must be HOST:PORT (e.g. localhost:50051, [::1]:50051)',
    );
    expect(() => connectionSettingsOf({ plaintext: true, insecure: true }, {}, dir)).toThrow(
      "--plaintext cannot be combined with --cacert, --cert, --key or --insecure",
    );
    expect(() => connectionSettingsOf({ cert: "c.pem" }, {}, dir)).toThrow("--cert and --key go together");
    expect(() => connectionSettingsOf({ cacert: join(dir, "nope.pem") }, {}, dir)).toThrow(
      `--cacert: cannot read "${join(dir, "nope.pem")}": ENOENT`,
    );
  });

  it("reads durations as grpcurl users write them", () => {
    expect(parseDuration("--timeout", "500ms")).toBe(500);
    expect(parseDuration("--timeout", "2")).toBe(2000);
    expect(parseDuration("--timeout", "1h")).toBe(3_600_000);
    expect(() => parseDuration("--timeout", "soon")).toThrow('--timeout must be a duration like 30s, 5m or 500ms, got "soon"');
    expect(() => parseDuration("--timeout", "0s")).toThrow();
  });
});
