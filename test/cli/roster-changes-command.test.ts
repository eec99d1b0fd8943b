/**
 * `roster history` and `roster watch` against a real server, run in the
 * test's process (roster-command.test.ts proves the process around them):
 * the history table and its JSON; a watch that prints changes as they
 * commit, stops on Ctrl-C with the token to resume from, and resumed from
 * it prints exactly the changes made meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { runRosterInProcess, startRosterInProcess } from "../fixtures/roster-command-in-process.ts";
import type { RunningCommand } from "../fixtures/roster-command-process.ts";
import { startTestRoster, type TestRoster } from "../fixtures/roster-in-process.ts";

let mongo: TestMongo;
let roster: TestRoster;
let token: string;
let groupId: string;

beforeAll(async () => {
  mongo = await startTestMongo();
  roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName("roster_cli_changes") });
  token = await roster.token("alice");
  const created = await roster.client.groups.createGroup(
    { group: { namespace: "acme", slug: "payroll", displayName: "Payroll" }, reason: "new team" },
    { token },
  );
  groupId = created.group?.id ?? "";
});

afterAll(async () => {
  await roster.stop();
  await mongo.stop();
});

const env = (): Record<string, string> => ({ ROSTER_ADDR: roster.address, ROSTER_TOKEN: token, ROSTER_PLAINTEXT: "true" });

const cwd = process.cwd();

/** Waits until the command's stdout has `lines` lines. */
async function linesOf(running: RunningCommand, lines: number): Promise<string[]> {
  const until = Date.now() + 20_000;
  while (
    running
      .stdout()
      .split("\n")
      .filter((l) => l !== "").length < lines
  ) {
    if (Date.now() > until) throw new Error(`no ${lines} lines within 20 s: ${running.stdout()} ${running.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return running
    .stdout()
    .split("\n")
    .filter((l) => l !== "");
}

describe("roster history and roster watch", () => {
  it("history prints the group's changes newest first, as a table or JSON", async () => {
    await roster.client.memberships.addMember({ groupId, member: "user:bob", reason: "joins" }, { token });
    const table = await runRosterInProcess(["history", "acme/payroll"], env(), cwd);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TIME +ACTOR +CHANGE +REASON$/);
    expect(lines.slice(1).map((l) => l.replace(/^\S+ +/, ""))).toEqual([
      "user:alice   added user:bob as MEMBER    joins",
      "user:alice   added user:alice as ADMIN   new team",
      "user:alice   created acme/payroll        new team",
    ]);
    const json = await runRosterInProcess(["history", groupId, "--member", "user:bob", "--json"], env(), cwd);
    expect(
      json.stdout
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as { kind: string; member: string }).kind),
    ).toEqual(["CHANGE_KIND_MEMBER_ADDED"]);
  });

  it("watch prints changes as they commit; Ctrl-C prints the token to resume from; resuming misses and repeats nothing", async () => {
    const running = startRosterInProcess(["watch", "--group", "acme/payroll", "--json"], env(), cwd);
    await linesOf(running, 1); // the start checkpoint
    await roster.client.memberships.addMember({ groupId, member: "user:carol", reason: "hired" }, { token });
    const lines = await linesOf(running, 2);
    const change = JSON.parse(lines[1] ?? "{}") as { change?: { member: string; reason: string }; token: string };
    expect(change.change).toMatchObject({ member: "user:carol", reason: "hired" });
    running.interrupt();
    const stopped = await running.done;
    expect(stopped.code).toBe(130);
    const resume = /resume with: roster watch --from (\S+)/.exec(stopped.stderr)?.[1] ?? "";
    expect(resume).not.toBe("");

    await roster.client.memberships.removeMember({ groupId, member: "user:carol" }, { token });
    const resumed = startRosterInProcess(["watch", "--group", groupId, "--from", resume], env(), cwd);
    const printed = await linesOf(resumed, 1);
    expect(printed[0]).toMatch(new RegExp(`^\\S+  user:alice  ${groupId}  removed user:carol \\(was MEMBER\\)$`));
    resumed.interrupt();
    expect((await resumed.done).code).toBe(130);
  });
});
