/**
 * `roster history` and `roster watch` as a process against a real server:
 * the history table and its JSON; a watch that prints changes as they
 * commit, stops on Ctrl-C with the token to resume from, and resumed from
 * it prints exactly the changes made meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMongo, uniqueDbName, type TestMongo } from "../fixtures/test-mongo.ts";
import { runRosterCommand, startRosterCommand, type RunningCommand } from "../fixtures/roster-command-process.ts";
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

/** Waits until the command's stdout has `lines` lines. */
async function linesOf(running: RunningCommand, stdout: () => string, lines: number): Promise<string[]> {
  const until = Date.now() + 20_000;
  while (
    stdout()
      .split("\n")
      .filter((l) => l !== "").length < lines
  ) {
    if (Date.now() > until) throw new Error(`no ${lines} lines within 20 s: ${stdout()} ${running.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return stdout()
    .split("\n")
    .filter((l) => l !== "");
}

describe("roster history and roster watch", () => {
  it("history prints the group's changes newest first, as a table or JSON", async () => {
    await roster.client.memberships.addMember({ groupId, member: "user:bob", reason: "joins" }, { token });
    const table = await runRosterCommand(["history", "acme/payroll"], env());
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TIME +ACTOR +CHANGE +REASON$/);
    expect(lines.slice(1).map((l) => l.replace(/^\S+ +/, ""))).toEqual([
      "user:alice   added user:bob as MEMBER    joins",
      "user:alice   added user:alice as ADMIN   new team",
      "user:alice   created acme/payroll        new team",
    ]);
    const json = await runRosterCommand(["history", groupId, "--member", "user:bob", "--json"], env());
    expect(
      json.stdout
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as { kind: string; member: string }).kind),
    ).toEqual(["CHANGE_KIND_MEMBER_ADDED"]);
  });

  it("watch prints changes as they commit; Ctrl-C prints the token to resume from; resuming misses and repeats nothing", async () => {
    const running = startRosterCommand(["watch", "--group", "acme/payroll", "--json"], env());
    let stdout = "";
    running.child.stdout.on("data", (chunk: string) => (stdout += chunk));
    await linesOf(running, () => stdout, 1); // the start checkpoint
    await roster.client.memberships.addMember({ groupId, member: "user:carol", reason: "hired" }, { token });
    const lines = await linesOf(running, () => stdout, 2);
    const change = JSON.parse(lines[1] ?? "{}") as { change?: { member: string; reason: string }; token: string };
    expect(change.change).toMatchObject({ member: "user:carol", reason: "hired" });
    running.child.kill("SIGINT");
    const stopped = await running.done;
    expect(stopped.code).toBe(130);
    const resume = /resume with: roster watch --from (\S+)/.exec(stopped.stderr)?.[1] ?? "";
    expect(resume).not.toBe("");

    await roster.client.memberships.removeMember({ groupId, member: "user:carol" }, { token });
    const resumed = startRosterCommand(["watch", "--group", groupId, "--from", resume], env());
    let text = "";
    resumed.child.stdout.on("data", (chunk: string) => (text += chunk));
    const printed = await linesOf(resumed, () => text, 1);
    expect(printed[0]).toMatch(new RegExp(`^\\S+  user:alice  ${groupId}  removed user:carol \\(was MEMBER\\)$`));
    resumed.child.kill("SIGINT");
    expect((await resumed.done).code).toBe(130);
  });
});
