/**
 * Suites that need a program from Debian's packages (`.ci/run` installs
 * them). Where the program is missing, a CI run (CI=true) gets one failing
 * test saying what to install, since CI must never pass by skipping; anywhere
 * else the suite is reported as skipped, with the reason in its name and on
 * stderr.
 */
import { spawnSync } from "node:child_process";
import { describe, it } from "vitest";

/** Why `command args…` cannot run here (it fails to start or exits non-zero), or undefined when it can. */
export function whyNotRunnable(command: string, args: readonly string[]): string | undefined {
  const probe = spawnSync(command, args, { encoding: "utf8" });
  if (probe.error !== undefined) return `${command}: ${probe.error.message}`;
  if (probe.status !== 0) return `${[command, ...args].join(" ")} failed: ${probe.stderr.trim().split("\n").at(-1) ?? ""}`;
  return undefined;
}

/** `describe(title, suite)` when `missing` is undefined; otherwise a CI failure or a reported skip (see the module comment). */
export function describeWithTool(title: string, missing: string | undefined, install: string, suite: () => void): void {
  if (missing === undefined) {
    describe(title, suite);
    return;
  }
  if (process.env["CI"] === "true") {
    describe(title, () => {
      it("can run (CI=true: .ci/run installs what it needs)", () => {
        throw new Error(`${missing}: .ci/run must install ${install}`);
      });
    });
    return;
  }
  // vitest's default reporter lists skipped files without test names: say why here too.
  console.warn(`${title} SKIPPED: ${missing} (apt-get install ${install}; .ci/run does)`);
  describe.skip(`${title} (skipped: ${missing})`, suite);
}
