/**
 * The `roster` command against a real server started by the test fixtures,
 * run in the test's process (roster-command-in-process.ts: the command's own
 * entry, runRoster) and, where the launcher is what is proved, as a process
 * (`node src/cli/roster/bin.mjs`, the package's bin: exit codes, stdio,
 * SIGINT): the everyday calls and their exit codes; importing 10,000 rows with bad rows mixed in
 * (the report, the exit code, the stored members); sync and dry run, and a
 * sync refused for a malformed row; export round trips in both formats;
 * Ctrl-C (SIGINT to the process, or in process) mid-import, then resuming with --skip; a
 * second Ctrl-C; an interrupted sync that removes nobody.
 *
 * The database sits behind a latency proxy, slowed down only for the
 * interruption tests so that an import is still running when the signal
 * comes.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Role } from "../../gen/roster/v1/access_pb.ts";
import { commands } from "../../src/cli/roster/run-roster.ts";
import type { LatencyProxy } from "../fixtures/latency-proxy.ts";
import { uniqueDbName } from "../fixtures/test-mongo.ts";
import { startRosterBehindProxy, type RosterBehindProxy } from "../fixtures/roster-behind-latency-proxy.ts";
import { runRosterInProcess, startRosterInProcess } from "../fixtures/roster-command-in-process.ts";
import { runRosterCommand, startRosterCommand, type CommandRun, type RunningCommand } from "../fixtures/roster-command-process.ts";
import type { TestRoster } from "../fixtures/roster-in-process.ts";

let stack: RosterBehindProxy;
let proxy: LatencyProxy;
let roster: TestRoster;
let token: string;
let dir: string;

beforeAll(async () => {
  stack = await startRosterBehindProxy({ dbName: uniqueDbName("roster_cli") });
  ({ roster, proxy } = stack);
  token = await roster.token("alice");
  dir = await mkdtemp(join(tmpdir(), "roster-cli-"));
});

beforeEach(() => {
  proxy.setDelay(0);
});

afterAll(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The command's environment: the server's address, alice's token, plaintext. */
function commandEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { ROSTER_ADDR: roster.address, ROSTER_TOKEN: token, ROSTER_PLAINTEXT: "true", ...extra };
}

/** `roster <args>` in this process. */
function run(args: readonly string[], extra: Record<string, string> = {}): Promise<CommandRun> {
  return runRosterInProcess(args, commandEnv(extra), dir);
}

/** `roster <args>` as a process: node running the package's bin. */
function runProcess(args: readonly string[], extra: Record<string, string> = {}): Promise<CommandRun> {
  return runRosterCommand(args, commandEnv(extra), dir);
}

async function createGroup(slug: string): Promise<string> {
  const created = await roster.client.groups.createGroup({ group: { slug, displayName: slug } }, { token });
  return created.group?.id ?? "";
}

/** Every direct member of a group, as "member ROLE". */
async function membersOf(groupId: string): Promise<string[]> {
  const members: string[] = [];
  let pageToken = "";
  do {
    const page = await roster.client.memberships.listMemberships({ groupId, pageSize: 1000, pageToken }, { token });
    members.push(...page.memberships.map((m) => `${m.member} ${Role[m.role]}`));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return members.sort();
}

async function memberCountOf(groupId: string): Promise<number> {
  return (await roster.client.groups.getGroup({ id: groupId }, { token })).group?.memberCount ?? 0;
}

async function write(name: string, lines: readonly string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

async function readReport(path: string): Promise<string[][]> {
  const rows: unknown = parse(await readFile(path, "utf8"));
  return rows as string[][];
}

const n = (value: number): string => value.toLocaleString("en-US");

describe("roster: everyday commands", () => {
  it("create, get, add, check, remove and list, with the exit codes of their answers", async () => {
    const created = await run(["create", "ops-team", "--name", "Ops team", "--namespace", "acme", "--json"]);
    expect(created.code).toBe(0);
    const id = (JSON.parse(created.stdout) as { group: { id: string } }).group.id;

    const shown = await run(["get", "acme/ops-team"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`ID:                 ${id}\n`);
    expect(shown.stdout).toContain("Name:               Ops team\n");
    expect(shown.stdout).toContain("Your role:          ADMIN\n");

    expect(await run(["add", "acme/ops-team", "user:bob", "--role", "manager"])).toMatchObject({
      code: 0,
      stdout: "added user:bob as MANAGER\n",
    });
    expect(await run(["add", id, "user:bob"])).toMatchObject({
      code: 0,
      stdout: "user:bob was already a member (MANAGER); nothing changed\n",
    });
    expect(await run(["check", id, "user:bob"])).toMatchObject({ code: 0, stdout: "yes (MANAGER, direct)\n" });
    expect(await run(["check", id, "user:carol"])).toMatchObject({ code: 1, stdout: "no\n" });
    expect(await run(["remove", "acme/ops-team", "user:bob"])).toMatchObject({ code: 0, stdout: "removed user:bob\n" });
    expect(await run(["check", id, "user:bob", "--json"])).toMatchObject({ code: 1, stdout: "{}\n" });

    const listed = await run(["list", "--namespace", "acme"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toBe("ID                 NAMESPACE   SLUG       NAME       MEMBERS   STATE");
    expect(listed.stdout).toContain(`\n${id}   acme        ops-team   Ops team   1         ACTIVE\n`);
  });

  it("print a failed call's gRPC code and message and exit 3 (as a process: the bin's exit code and stdio)", async () => {
    expect(await runProcess(["get", "no-such-group"])).toMatchObject({
      code: 3,
      stdout: "",
      stderr: 'roster get: NOT_FOUND: group "no-such-group" not found\n',
    });
    expect(await runProcess(["add", "acme/ops-team", "bob"])).toMatchObject({
      code: 3,
      stderr: 'roster add: INVALID_ARGUMENT: member: must be "user:<id>", "group:<group id>" or "service:<id>"\n',
    });
    const anonymous = await runRosterCommand(["list"], { ROSTER_ADDR: roster.address, ROSTER_PLAINTEXT: "true" }, dir);
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toMatch(/^roster list: UNAUTHENTICATED: .+ \(set ROSTER_TOKEN or --token\)\n$/);
  });

  it("refuse a bad command line with exit code 2, sending nothing", async () => {
    expect(await run(["import", "g"])).toMatchObject({
      code: 2,
      stderr: "roster import: missing <file>\nRun 'roster import --help' for usage.\n",
    });
    expect(await run(["list", "--frobnicate"])).toMatchObject({
      code: 2,
      stderr: "roster list: unknown flag --frobnicate\nRun 'roster list --help' for usage.\n",
    });
    expect(await run(["import", "g", "f.csv", "--dry-run"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--dry-run previews a sync: use it with --sync") as unknown,
    });
    expect(await run(["import", "g", "f.txt"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('cannot tell the format of "f.txt"') as unknown,
    });
    expect(await run(["frobnicate"])).toMatchObject({
      code: 2,
      stderr: "roster: unknown command \"frobnicate\"\nRun 'roster --help' for the commands.\n",
    });
  });

  it("have --help for every subcommand, naming each of its flags", async () => {
    const overview = await run(["--help"]);
    expect(overview.code).toBe(0);
    for (const command of commands) {
      expect(overview.stdout).toContain(`  ${command.name} `);
      const help = await run([command.name, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: roster ${command.name} `);
      for (const flag of [...Object.keys(command.flags), "addr", "token", "plaintext", "cacert", "timeout", "json"])
        expect(help.stdout).toContain(`--${flag}`);
    }
  });
});

describe("roster import", () => {
  it("imports 10,000 rows with bad rows mixed in: each bad row in the report, the rest stored, exit code 1", async () => {
    const groupId = await createGroup("students");
    const lines = ["member,role,tag"];
    const expectedReport: string[][] = [["line", "member", "role", "tag", "code", "message"]];
    const expectedMembers = new Set<string>(["user:alice ADMIN"]);
    let unchanged = 0;
    for (let i = 0; i < 10_000; i++) {
      const line = i + 2;
      const role = i % 100 === 0 ? "MANAGER" : "";
      const shown = role === "" ? "MEMBER" : role;
      switch (i % 1000) {
        case 11:
          lines.push(`user:s${i},OWNER,t${i}`);
          expectedReport.push([
            String(line),
            `user:s${i}`,
            "OWNER",
            `t${i}`,
            "INVALID_ARGUMENT",
            'role: must be MEMBER, MANAGER or ADMIN, got "OWNER"',
          ]);
          break;
        case 222:
          lines.push(`student-${i},,t${i}`);
          expectedReport.push([
            String(line),
            `student-${i}`,
            "MEMBER",
            `t${i}`,
            "INVALID_ARGUMENT",
            'member: must be "user:<id>", "group:<group id>" or "service:<id>"',
          ]);
          break;
        case 333:
          lines.push(`,MEMBER,t${i}`);
          expectedReport.push([String(line), "", "MEMBER", `t${i}`, "INVALID_ARGUMENT", "member: is required"]);
          break;
        case 444:
          lines.push(`user:s${i},MEMBER`);
          expectedReport.push([
            String(line),
            `user:s${i}`,
            "MEMBER",
            "",
            "INVALID_ARGUMENT",
            "expected 3 columns (member,role,tag), got 2",
          ]);
          break;
        case 555:
          lines.push(`group:gone-${i},,t${i}`);
          expectedReport.push([String(line), `group:gone-${i}`, "MEMBER", `t${i}`, "NOT_FOUND", `group "gone-${i}" not found`]);
          break;
        case 666:
          // The row before, again: it succeeds without changing anything.
          lines.push(`user:s${i - 1},,"t${i}, again"`);
          unchanged += 1;
          break;
        default:
          lines.push(`user:s${i},${role},t${i}`);
          expectedMembers.add(`user:s${i} ${shown}`);
      }
    }
    const file = await write("students.csv", lines);

    const result = await run(["import", "/students", file, "--role", "member"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `${file} → students (/students, id ${groupId}): 10,000 of 10,000 rows done\n` +
        `  ${n(9950)} ok (${n(9950 - unchanged)} changed, ${unchanged} already so), 50 failed: see students.report.csv\n`,
    );
    expect(result.stderr).toMatch(/^import: 10,000\/10,000 rows \(100%\), [\d,]+ rows\/s, in \d+s, 50 failed$/m);
    expect(await readReport(join(dir, "students.report.csv"))).toEqual(expectedReport);
    expect(await membersOf(groupId)).toEqual([...expectedMembers].sort());
    // 10,000 rows through one in-process command and the service sharing this thread: on a loaded 2-core machine that nears the default 30 s.
  }, 90_000);

  it("--sync makes the file the member list; --dry-run only says what would change; the last ADMIN stays", async () => {
    const groupId = await createGroup("synced");
    for (const member of ["user:keep1", "user:keep2", "user:keep3", "user:drop1", "user:drop2", "user:promote"]) {
      await roster.client.memberships.addMember({ groupId, member, role: Role.MEMBER }, { token });
    }
    const before = await membersOf(groupId);
    const file = await write("synced.csv", [
      "member,role",
      "user:keep1,",
      "user:keep2,",
      "user:keep3,member",
      "user:promote,MANAGER",
      "user:new1,",
      "user:new2,",
    ]);

    const dryRun = await run(["import", groupId, file, "--sync", "--dry-run", "-q"]);
    expect(dryRun).toMatchObject({ code: 0, stderr: "" });
    expect(dryRun.stdout).toContain(
      "  sync (dry run: nothing was changed): 2 added, 1 changed, 2 removed, 3 unchanged, 1 last admins kept\n",
    );
    expect(await membersOf(groupId)).toEqual(before);

    const synced = await run(["import", groupId, file, "--sync", "--json"]);
    expect(synced.code).toBe(0);
    expect(JSON.parse(synced.stdout)).toMatchObject({
      done: 6,
      failed: 0,
      ending: "complete",
      syncSummary: { groupId, added: 2, changed: 1, removed: 2, unchanged: 3, keptLastAdmins: 1 },
    });
    expect(await membersOf(groupId)).toEqual(
      [
        "user:alice ADMIN",
        "user:keep1 MEMBER",
        "user:keep2 MEMBER",
        "user:keep3 MEMBER",
        "user:new1 MEMBER",
        "user:new2 MEMBER",
        "user:promote MANAGER",
      ].sort(),
    );
  });

  it("refuses to start a sync whose file has a malformed row, since that member would be removed", async () => {
    const groupId = await createGroup("sync-refused");
    await roster.client.memberships.addMember({ groupId, member: "user:bob", role: Role.ADMIN }, { token });
    const before = await membersOf(groupId);
    const file = await write("refused.csv", ["member,role", "user:carol,", "user:bob,ADMNI"]);
    const result = await run(["import", groupId, file, "--sync"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `roster: 1 rows of ${file} are malformed (see refused.report.csv); a sync removes the members the file does not name, so nothing was sent. ` +
        "Fix the rows and run the sync again.\n",
    );
    expect(await readReport(join(dir, "refused.report.csv"))).toEqual([
      ["line", "member", "role", "tag", "code", "message"],
      ["3", "user:bob", "ADMNI", "", "INVALID_ARGUMENT", 'role: must be MEMBER, MANAGER or ADMIN, got "ADMNI"'],
    ]);
    expect(await membersOf(groupId)).toEqual(before);
  });
});

describe("roster export", () => {
  it("pages through the members; its CSV and JSONL both import back to the same members", async () => {
    const source = await createGroup("export-source");
    const rows = Array.from(
      { length: 2500 },
      (_, i) => `user:e${String(i).padStart(4, "0")},${["MEMBER", "MANAGER", "ADMIN"][i % 3] ?? ""}`,
    );
    expect((await run(["import", source, await write("source.csv", ["member,role", ...rows]), "-q"])).code).toBe(0);

    const csv = await run(["export", source]);
    expect(csv.code).toBe(0);
    const exported = csv.stdout.trimEnd().split("\n");
    expect(exported[0]).toBe("member,role");
    expect(exported.slice(1).sort()).toEqual(["user:alice,ADMIN", ...rows].sort());

    const jsonl = await run(["export", `/export-source`, "--format", "jsonl"]);
    expect(jsonl.code).toBe(0);
    expect(JSON.parse(jsonl.stdout.split("\n")[0] ?? "")).toMatchObject({ groupId: source, member: "user:alice", role: "ROLE_ADMIN" });

    for (const [name, text] of [
      ["copy.csv", csv.stdout],
      ["copy.jsonl", jsonl.stdout],
    ] as const) {
      const copy = await createGroup(`copy-${name.replace(".", "-")}`);
      await writeFile(join(dir, name), text);
      const imported = await run(["import", copy, name, "-q"]);
      expect(imported.code).toBe(0);
      expect((await run(["export", copy])).stdout).toBe(csv.stdout);
    }
    // Seven commands and 7,500 imported rows on this thread: on a loaded 2-core machine that nears the default 30 s.
  }, 90_000);

  it("--transitive includes the members of nested groups", async () => {
    const outer = await createGroup("outer");
    const inner = await createGroup("inner");
    await roster.client.memberships.addMember({ groupId: inner, member: "user:deep", role: Role.MEMBER }, { token });
    expect((await run(["add", outer, `group:${inner}`])).code).toBe(0);
    const direct = await run(["export", outer]);
    expect(direct.stdout).not.toContain("user:deep");
    const transitive = await run(["export", outer, "--transitive"]);
    expect(transitive.code).toBe(0);
    expect(transitive.stdout).toContain("\nuser:deep,MEMBER\n");
  });
});

describe("roster import, interrupted", () => {
  const rowCount = 6000;
  const slowDbMs = 40;

  /**
   * Starts an import while the database is slow (in this process, or as a
   * process with `asProcess`); resolves once `threshold` members are stored.
   */
  async function startSlowImport(
    groupId: string,
    file: string,
    threshold: number,
    extraArgs: readonly string[] = [],
    asProcess = false,
  ): Promise<RunningCommand> {
    proxy.setDelay(slowDbMs);
    const args = ["import", groupId, file, ...extraArgs];
    const running = asProcess ? startRosterCommand(args, commandEnv(), dir) : startRosterInProcess(args, commandEnv(), dir);
    await expect.poll(() => memberCountOf(groupId), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(threshold);
    return running;
  }

  it("Ctrl-C stops sending, waits for what was sent, says how to resume; --skip resumes exactly there (as a process: SIGINT)", async () => {
    const groupId = await createGroup("interrupted");
    const file = await write(
      "many.csv",
      Array.from({ length: rowCount }, (_, i) => `user:m${i}`),
    );
    const running = await startSlowImport(groupId, file, 500, ["--report", "many-report.csv"], true);
    // npm run delivers the terminal's Ctrl-C twice at once: still one Ctrl-C.
    running.interrupt();
    running.interrupt();
    const result = await running.done;

    expect(result.code).toBe(130);
    expect(result.stderr).toContain(
      "roster: interrupted: sending no more rows, waiting for the results of those sent (Ctrl-C again to abort)\n",
    );
    const resume = /^ {2}resume with: roster import (\S+) (\S+) --report many-report.csv --skip (\d+)$/m.exec(result.stdout);
    expect(resume?.slice(1, 3)).toEqual([groupId, file]);
    const skip = Number(resume?.[3]);
    expect(skip).toBeGreaterThanOrEqual(500);
    expect(skip).toBeLessThan(rowCount);
    expect(result.stdout).toContain(
      `: ${n(skip)} of ${n(rowCount)} rows done\n  ${n(skip)} ok (${n(skip)} changed, 0 already so), 0 failed`,
    );
    // Every row up to the resume point is stored, none after it.
    expect(await memberCountOf(groupId)).toBe(skip + 1);
    expect(await readReport(join(dir, "many-report.csv"))).toEqual([["line", "member", "role", "tag", "code", "message"]]);

    proxy.setDelay(0);
    const resumed = await run(["import", groupId, file, "--report", "many-report.csv", "--skip", String(skip), "-q"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(
      `: ${n(rowCount - skip)} of ${n(rowCount - skip)} rows done\n  ${n(rowCount - skip)} ok (${n(rowCount - skip)} changed, 0 already so)`,
    );
    expect(await memberCountOf(groupId)).toBe(rowCount + 1);
    // A process start, a slowed import and 5,000-odd rows on this thread: on a loaded 2-core machine that passed 30 s.
  }, 90_000);

  it("a second Ctrl-C aborts at once", async () => {
    const groupId = await createGroup("aborted");
    const file = await write(
      "aborted.csv",
      Array.from({ length: rowCount }, (_, i) => `user:a${i}`),
    );
    const running = await startSlowImport(groupId, file, 200);
    running.interrupt();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const aborted = performance.now();
    running.interrupt();
    const result = await running.done;
    expect(performance.now() - aborted).toBeLessThan(3000);
    expect(result.code).toBe(130);
    expect(result.stderr).toContain("roster: aborted\n");
    expect(result.stdout).toMatch(/^ {2}resume with: roster import \S+ \S+ --skip \d+$/m);
  });

  it("an interrupted --sync is cancelled before it removes anyone", async () => {
    const groupId = await createGroup("sync-interrupted");
    for (const member of ["user:old1", "user:old2"])
      await roster.client.memberships.addMember({ groupId, member, role: Role.MEMBER }, { token });
    const file = await write(
      "sync-many.csv",
      Array.from({ length: rowCount }, (_, i) => `user:n${i}`),
    );
    const running = await startSlowImport(groupId, file, 300, ["--sync"]);
    running.interrupt();
    const result = await running.done;
    expect(result.code).toBe(130);
    expect(result.stderr).toContain("roster: interrupted: cancelling the sync before it removes anyone\n");
    expect(result.stdout).toContain(
      "  the sync did not finish: no member was removed; rows answered before were applied. Run the whole sync again.\n",
    );
    proxy.setDelay(0);
    const members = await membersOf(groupId);
    expect(members).toContain("user:old1 MEMBER");
    expect(members).toContain("user:old2 MEMBER");
    expect(members.length).toBeLessThan(rowCount + 3);
  });
});
