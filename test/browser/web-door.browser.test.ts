/**
 * A real browser against a real Roster: Debian's Chromium, driven headless by
 * playwright-core, opens a page served from a different origin than the web
 * door. The page uses @connectrpc/connect-web with a bearer token to create a
 * group, read it back (cacheable GET) and list groups, and renders the list;
 * the test asserts on the rendered DOM and checks the server side through the
 * gRPC door. A page from an origin not in ROSTER_CORS_ORIGINS must fail to
 * call, and must not have created anything.
 *
 * Without /usr/bin/chromium (`.ci/run` installs it) the suite is reported as
 * skipped, with the reason in its name.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { createProtocolClient, type ProtocolClient } from "../fixtures/protocol-clients.ts";
import { startRosterStack, type RosterStack } from "../fixtures/roster-both-doors.ts";
import { startStaticServer, type StaticServer } from "../fixtures/browser-page-server.ts";

const chromiumPath = "/usr/bin/chromium";
const hasChromium = existsSync(chromiumPath);
const skipReason = hasChromium ? "" : ` (skipped: ${chromiumPath} not installed)`;
if (!hasChromium) {
  // vitest's default reporter lists skipped files without test names: say why here.
  console.warn(`browser test SKIPPED: ${chromiumPath} not installed (.ci/run installs Debian's chromium)`);
}

/** Flags known to work for Chromium as root on these machines (playwright adds headless and a fresh profile). */
const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe.skipIf(!hasChromium)(`browser: connect-web from another origin${skipReason}`, () => {
  let allowedSite: StaticServer;
  let foreignSite: StaticServer;
  let stack: RosterStack;
  let browser: Browser;
  let token: string;
  let grpc: ProtocolClient;

  beforeAll(async () => {
    allowedSite = await startStaticServer();
    foreignSite = await startStaticServer();
    stack = await startRosterStack({ corsOrigins: [allowedSite.origin] });
    token = await stack.token("alice");
    grpc = createProtocolClient("gRPC", stack);
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  });

  afterAll(async () => {
    await browser.close();
    grpc.close();
    await stack.stop();
    await allowedSite.close();
    await foreignSite.close();
  });

  /** Opens the demo in a fresh context and waits until it reports success or failure. */
  async function runDemo(site: StaticServer, slug: string, protocol: "connect" | "grpc-web"): Promise<{ page: Page; errors: string[] }> {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const fragment = new URLSearchParams({ server: stack.webUrl, token, slug, protocol }).toString();
    await page.goto(`${site.pageUrl}#${fragment}`);
    await page.waitForSelector("#status[data-state]", { timeout: 15_000 });
    return { page, errors };
  }

  async function serverHasGroup(slug: string): Promise<boolean> {
    const outcome = await grpc.call(GroupService, "ListGroups", { query: slug }, token);
    if (outcome.code !== "OK") throw new Error(`ListGroups failed: ${JSON.stringify(outcome)}`);
    const groups = (outcome.response as { groups?: { slug: string }[] }).groups ?? [];
    return groups.some((g) => g.slug === slug);
  }

  it.each(["connect", "grpc-web"] as const)("%s: creates a group, lists groups and renders them", async (protocol) => {
    const slug = `browser-${protocol}`;
    const { page, errors } = await runDemo(allowedSite, slug, protocol);
    try {
      expect(await page.getAttribute("#status", "data-state"), (await page.textContent("#status")) ?? "").toBe("ok");
      expect(await page.textContent("#status")).toMatch(
        new RegExp(`^created ${slug} \\(\\w+\\); read back ${slug} as group\\.read .*; \\d+ listed$`),
      );
      const item = page.locator(`#groups li[data-slug="${slug}"]`);
      expect(await item.textContent()).toBe(`Browser ${slug} (${slug})`);
      expect(await item.getAttribute("data-id")).toMatch(/^\w+$/);
      expect(errors).toEqual([]);
      expect(await serverHasGroup(slug)).toBe(true);
    } finally {
      await page.context().close();
    }
  });

  it("a page from an origin not in ROSTER_CORS_ORIGINS fails to call", async () => {
    const slug = "browser-foreign";
    const { page } = await runDemo(foreignSite, slug, "connect");
    try {
      expect(await page.getAttribute("#status", "data-state")).toBe("error");
      expect(await page.textContent("#status")).toMatch(/^\[\w+\] /);
      expect(await page.locator("#groups li").count()).toBe(0);
      expect(await serverHasGroup(slug)).toBe(false);
    } finally {
      await page.context().close();
    }
  });
});
