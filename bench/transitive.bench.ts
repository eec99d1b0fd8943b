/**
 * `npm run bench:transitive`: what one page of a transitive member listing
 * costs, against a group TOP that nests a group BIG of 100,000 members, with
 * everything in its own process:
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *
 * Next to each figure, the same-run baseline is BIG's direct (non-transitive)
 * listing: a keyset page over an index, whose cost does not depend on the
 * page's position.
 *
 * 1. One page (500 members): page 1 and page 200 (the last full one), the
 *    median of BENCH_REPS calls each, and their ratio.
 * 2. Paging through the whole listing: milliseconds per page, for at most
 *    BENCH_PASS_SECONDS (pages done are reported when the budget ends first).
 * 3. An unrelated GetGroup's latency, alone and while BENCH_LISTERS callers
 *    page through the transitive listing back to back.
 *
 * Page 200 is asked for with the page token page 199 would return (a keyset
 * token: the last member of page 199 and the request's fingerprint, built
 * with src/domain/page-token.ts), so that it does not need 199 calls first.
 * BIG's members are inserted with the raw driver (the batch RPC has its own
 * bench) and its member_count set to match.
 *
 * The service runs with its read model (ROSTER_READ_MODEL=true, the default).
 *
 * Knobs: BENCH_TRANSITIVE_MEMBERS (100000), BENCH_REPS (10),
 * BENCH_PASS_SECONDS (60), BENCH_LISTERS (8), BENCH_SECONDS (5, per latency row).
 */
import { MongoClient } from "mongodb";
import { Role } from "../gen/roster/v1/access_pb.ts";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { encodePageToken, requestFingerprint } from "../src/domain/page-token.ts";
import { collectionNames, membershipToDoc, type GroupDoc } from "../src/storage/documents.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { withDatabase } from "../test/fixtures/roster-in-process.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { median } from "./support/measure.ts";

const members = Number(process.env["BENCH_TRANSITIVE_MEMBERS"] ?? "100000");
const reps = Number(process.env["BENCH_REPS"] ?? "10");
const passSeconds = Number(process.env["BENCH_PASS_SECONDS"] ?? "60");
const listers = Number(process.env["BENCH_LISTERS"] ?? "8");
const latencySeconds = Number(process.env["BENCH_SECONDS"] ?? "5");
const pageSize = 500;
const insertBatch = 1_000;
const database = "roster_bench_transitive";
const caller = "user:bench";

function member(i: number): string {
  return `user:bench-${String(i).padStart(7, "0")}`;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Inserts BIG's members with the raw driver and sets its member_count to match. */
async function seed(uri: string, groupId: string, defer: BenchRun["defer"]): Promise<void> {
  const client = new MongoClient(withDatabase(uri, database));
  defer(() => client.close());
  await client.connect();
  const db = client.db(database);
  const now = new Date();
  for (let start = 0; start < members; start += insertBatch) {
    const docs = [];
    for (let i = start; i < Math.min(members, start + insertBatch); i++) {
      docs.push(membershipToDoc({ groupId, member: member(i), role: "MEMBER", createTime: now, updateTime: now, createdBy: caller }));
    }
    await db.collection(collectionNames.memberships).insertMany(docs, { ordered: false });
  }
  await db.collection<GroupDoc>(collectionNames.groups).updateOne({ _id: groupId }, { $inc: { memberCount: members } });
}

interface Listing {
  readonly label: string;
  readonly groupId: string;
  readonly transitive: boolean;
}

/** The token page `page` (1-based) would be asked for with: after the last member of the page before it. */
function tokenOfPage(listing: Listing, page: number, order: readonly string[]): string {
  if (page === 1) return "";
  const last = order[(page - 1) * pageSize - 1];
  if (last === undefined) throw new Error(`the listing has no page ${page}`);
  return encodePageToken(last, requestFingerprint({ caller, groupId: listing.groupId, role: undefined, transitive: listing.transitive }));
}

async function timePage(bench: RosterClient, listing: Listing, pageToken: string, expectFirst: string): Promise<number> {
  const started = performance.now();
  const res = await bench.memberships.listMemberships({ groupId: listing.groupId, transitive: listing.transitive, pageSize, pageToken });
  const elapsed = performance.now() - started;
  if (res.memberships[0]?.member !== expectFirst || res.memberships.length !== pageSize) {
    throw new Error(
      `${listing.label}: unexpected page starting at ${res.memberships[0]?.member ?? "nothing"} (${res.memberships.length} members)`,
    );
  }
  return elapsed;
}

/** Pages through `listing` from the start for at most the budget; returns pages done and ms per page. */
async function pageThrough(
  bench: RosterClient,
  listing: Listing,
  budgetMs: number,
  stop?: () => boolean,
): Promise<{ pages: number; complete: boolean; msPerPage: number }> {
  const started = performance.now();
  let pages = 0;
  let pageToken = "";
  for (;;) {
    const res = await bench.memberships.listMemberships({ groupId: listing.groupId, transitive: listing.transitive, pageSize, pageToken });
    pages += 1;
    pageToken = res.nextPageToken;
    if (pageToken === "") return { pages, complete: true, msPerPage: (performance.now() - started) / pages };
    if (performance.now() - started > budgetMs || stop?.() === true)
      return { pages, complete: false, msPerPage: (performance.now() - started) / pages };
  }
}

/** Sequential GetGroup calls for the configured seconds; their latencies. */
async function getGroupLatencies(bench: RosterClient, groupId: string): Promise<number[]> {
  const latencies: number[] = [];
  const stopAt = performance.now() + latencySeconds * 1000;
  while (performance.now() < stopAt) {
    const started = performance.now();
    await bench.groups.getGroup({ id: groupId });
    latencies.push(performance.now() - started);
  }
  return latencies;
}

async function main({ store, secret, startService, defer }: BenchRun): Promise<void> {
  // The read model on (as by default): the nesting below TOP comes from memory, the member pages from the database.
  const { grpcPort } = await startService({ mongodbUri: withDatabase(store.uri, database), env: { ROSTER_READ_MODEL: "true" } });
  const token = await signHs256Token({ subject: "bench", ttlSeconds: 7200 }, secret);
  const client = createRosterClient(`127.0.0.1:${grpcPort}`);
  defer(() => {
    client.close();
  });
  const bench = client.as(token);
  const created = async (slug: string): Promise<string> =>
    (await bench.groups.createGroup({ group: { slug, displayName: slug } })).group?.id ?? "";
  const top = await created("bench-top");
  const big = await created("bench-big");
  const unrelated = await created("bench-unrelated");
  await bench.memberships.addMember({ groupId: top, member: `group:${big}`, role: Role.MEMBER });
  process.stdout.write(`inserting ${members} members into BIG...\n`);
  await seed(store.uri, big, defer);

  // Both listings: user:bench (ADMIN of both), then BIG's members in order.
  const order = [caller, ...Array.from({ length: members }, (_, i) => member(i))];
  const lastPage = Math.floor(order.length / pageSize);
  const direct: Listing = { label: `BIG, direct (baseline)`, groupId: big, transitive: false };
  const transitive: Listing = { label: `TOP, transitive (nests BIG)`, groupId: top, transitive: true };

  process.stdout.write(`timing page 1 and page ${lastPage} of ${pageSize}, ${reps} times each...\n`);
  const pageRows: string[][] = [];
  for (const listing of [direct, transitive]) {
    const first: number[] = [];
    const last: number[] = [];
    const lastToken = tokenOfPage(listing, lastPage, order);
    const lastFirst = order[(lastPage - 1) * pageSize] ?? "";
    await timePage(bench, listing, "", caller); // warm-up
    for (let i = 0; i < reps; i++) {
      first.push(await timePage(bench, listing, "", caller));
      last.push(await timePage(bench, listing, lastToken, lastFirst));
    }
    pageRows.push([listing.label, median(first).toFixed(1), median(last).toFixed(1), `${(median(last) / median(first)).toFixed(2)}×`]);
  }

  process.stdout.write(`paging through each listing (at most ${passSeconds} s each)...\n`);
  const passRows: string[][] = [];
  for (const listing of [direct, transitive]) {
    const pass = await pageThrough(bench, listing, passSeconds * 1000);
    passRows.push([listing.label, `${pass.pages}${pass.complete ? "" : ` of ${lastPage + 1} (budget)`}`, pass.msPerPage.toFixed(1)]);
  }

  process.stdout.write(`GetGroup latency alone, then with ${listers} transitive listers (${latencySeconds} s each)...\n`);
  const alone = await getGroupLatencies(bench, unrelated);
  let stopping = false;
  const running = Array.from({ length: listers }, async () => {
    while (!stopping) await pageThrough(bench, transitive, Number.POSITIVE_INFINITY, () => stopping);
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const loaded = await getGroupLatencies(bench, unrelated);
  stopping = true;
  await Promise.all(running);

  printTable([["one page of 500 members", "page 1 ms (median)", `page ${lastPage} ms (median)`, `page ${lastPage} / page 1`], ...pageRows]);
  printTable([["paging through everything", "pages", "ms per page"], ...passRows]);
  printTable([
    ["GetGroup of an unrelated group", "calls", "p50 ms", "p99 ms", "p50 vs alone"],
    ["alone", String(alone.length), percentile(alone, 50).toFixed(2), percentile(alone, 99).toFixed(2), "1.00×"],
    [
      `with ${listers} transitive listers paging TOP`,
      String(loaded.length),
      percentile(loaded, 50).toFixed(2),
      percentile(loaded, 99).toFixed(2),
      `${(percentile(loaded, 50) / percentile(alone, 50)).toFixed(2)}×`,
    ],
  ]);
  process.stdout.write(
    `\n${members} members in BIG, pages of ${pageSize}, ${reps} repetitions per page; client, service and embedded store ` +
      `each in their own process (node ${process.version}).\n`,
  );
}

runBench("bench:transitive", "roster-bench-transitive-", main);
