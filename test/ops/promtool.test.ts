/**
 * The web door's `GET /metrics`, checked by Prometheus' own linter
 * (`promtool check metrics`, Debian's `prometheus` package, which `.ci/run`
 * installs) after calls on both doors have filled the counters and histograms:
 * it parses, and its only remarks are about three of prom-client's standard
 * gauge names.
 * Without promtool the test fails under CI=true and is otherwise reported as
 * skipped, with the reason (required-tool.ts).
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { describeWithTool, whyNotRunnable } from "../fixtures/required-tool.ts";
import { createProtocolClient } from "../fixtures/protocol-clients.ts";
import { startRosterStack, type RosterStack } from "../fixtures/roster-both-doors.ts";

const promtool = "promtool";

/**
 * Gauges of prom-client's default Node.js metrics whose names end in `_total`,
 * which promtool's naming lint flags. They are the names Node.js dashboards
 * query, so Roster keeps them as prom-client writes them.
 */
const promClientGauges = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/** `promtool check metrics < text`: its exit code and what it printed. */
function checkMetrics(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ code, output });
    });
    child.stdin.end(text);
  });
}

describeWithTool("promtool check metrics", whyNotRunnable(promtool, ["--version"]), "prometheus", () => {
  let stack: RosterStack;
  let exposition: string;

  beforeAll(async () => {
    stack = await startRosterStack();
    const token = await stack.token("alice");
    for (const protocol of ["gRPC", "Connect JSON"] as const) {
      const client = createProtocolClient(protocol, stack);
      try {
        expect(await client.call(GroupService, "ListGroups", {}, token)).toMatchObject({ code: "OK" });
        expect(await client.call(GroupService, "GetGroup", { id: "missing" }, token)).toMatchObject({ code: 5 });
      } finally {
        client.close();
      }
    }
    const res = await fetch(`${stack.webUrl}/metrics`);
    expect(res.status).toBe(200);
    exposition = await res.text();
  });

  afterAll(async () => {
    await stack.stop();
  });

  it("parses the exposition, with RPC counters and histograms of both doors in it, and finds only prom-client's naming lint", async () => {
    expect(exposition).toMatch(/^roster_rpc_handled_total\{door="grpc",method="roster\.v1\.GroupService\/GetGroup",code="NOT_FOUND"\} 1$/m);
    expect(exposition).toMatch(
      /^roster_rpc_duration_seconds_bucket\{le="\+Inf",door="web",method="roster\.v1\.GroupService\/ListGroups"\} 1$/m,
    );
    const result = await checkMetrics(exposition);
    expect(result.output.split("\n").filter((line) => line !== "")).toEqual(
      promClientGauges.map((name) => `${name} non-counter metrics should not have "_total" suffix`),
    );
  });

  it("finds no problem at all in the rest of it", async () => {
    const rest = exposition
      .split("\n")
      .filter(
        (line) =>
          !promClientGauges.some((name) => line.startsWith(`${name} `) || line.startsWith(`${name}{`) || line.includes(` ${name} `)),
      )
      .join("\n");
    expect(rest).toContain("roster_rpc_handled_total");
    expect(await checkMetrics(rest)).toEqual({ code: 0, output: "" });
  });

  it("is a checker that finds problems (a counter without _total, a sample of no declared type)", async () => {
    const broken = "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\nnot a sample\n";
    const result = await checkMetrics(broken);
    expect(result.code).not.toBe(0);
    expect(result.output).not.toBe("");
  });
});
