/**
 * `npm run bench:changes`: the change feed during a 100,000-operation
 * BatchMemberships stream (adds to one group), with one WatchChanges
 * watcher, every party in its own process:
 *
 *   this process ──gRPC──▶ `node src/main.ts` ──wire──▶ `node src/embedded-mongo/cli.ts`
 *   (writer + watcher)       (a store and a service for each run)
 *
 * Two runs, each on a fresh store and service warmed up with 5,000
 * unmeasured adds: the stream alone (the batch's own rate), then the
 * stream with a watcher that opened before it and reads until it received
 * every change. The watcher is the group's creator (an ordinary caller,
 * not an administrator), so every batch of changes the feed reads is
 * decided on its access facts, as for a real consumer.
 *
 * Latency per operation, two ways: "result → event" is when the watcher
 * received the change minus when the writer received the operation's
 * result (which the service sends only after the operation's chunk
 * committed; negative when the event won the race); "record time → event"
 * is when the watcher received it minus the record's `time` (the service's
 * clock when the chunk's transaction began, so it includes the whole
 * chunk's transaction: an upper bound of commit → event). The same
 * machine's clock on both sides.
 *
 * BENCH_CHANGES_OPERATIONS overrides the 100,000 (e.g. for a quick try).
 */
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Metadata, type ClientReadableStream } from "@grpc/grpc-js";
import {
  ChangeService,
  WatchChangesRequestSchema,
  type WatchChangesRequest,
  type WatchChangesResponse,
} from "../gen/roster/v1/change_service_pb.ts";
import { signHs256Token } from "../src/auth/token-signer.ts";
import { decodeResponse, encodeMessage } from "../src/transport/grpc/message-codec.ts";
import { grpcPath } from "../src/transport/grpc/service-definition.ts";
import { addOp, openBatchStream } from "../test/fixtures/batch-stream-client.ts";
import { createRosterClient, type RosterClient } from "../test/fixtures/roster-grpc-client.ts";
import { printTable, runBench, type BenchRun } from "./support/bench-run.ts";
import { percentile } from "./support/measure.ts";

const operations = Number(process.env["BENCH_CHANGES_OPERATIONS"] ?? "100000");
const warmUpOperations = 5_000;
const memberPrefix = "user:bench-";

function member(i: number): string {
  return `${memberPrefix}${String(i).padStart(7, "0")}`;
}

interface StreamRun {
  readonly elapsedMs: number;
  /** performance.timeOrigin-relative receipt time of each operation's result, by operation index. */
  readonly resultAt: Float64Array;
}

/** Streams `operations` adds to `groupId` honouring backpressure, noting when each result arrives. */
async function streamAdds(client: RosterClient, token: string, groupId: string): Promise<StreamRun> {
  const resultAt = new Float64Array(operations);
  const started = performance.now();
  const stream = openBatchStream(client.raw, token);
  const reading = (async () => {
    let received = 0;
    for (let response = await stream.next(); response !== undefined; response = await stream.next()) {
      if (response.message.case !== "result") continue;
      const result = response.message.value;
      if (result.status?.code !== 0) throw new Error(`operation ${result.index} failed: ${result.status?.message ?? "?"}`);
      resultAt[result.index] = performance.now();
      received += 1;
    }
    if (received !== operations) throw new Error(`expected ${operations} results, got ${received}`);
  })();
  for (let i = 0; i < operations; i++) {
    if (!stream.send(addOp(groupId, member(i)))) await new Promise((resolve) => stream.call.once("drain", resolve));
  }
  stream.end();
  await reading;
  return { elapsedMs: performance.now() - started, resultAt };
}

interface Watcher {
  /** Resolves once the first message (the start checkpoint) came: the watch is in place. */
  readonly ready: Promise<void>;
  /** Resolves once `operations` changes of the bench's members came. */
  readonly done: Promise<void>;
  /** Receipt time of each operation's change, by operation index. */
  readonly eventAt: Float64Array;
  /** Receipt minus record time, per change, in ms. */
  readonly sinceRecordMs: number[];
  firstEventAt: number;
  lastEventAt: number;
  close(): void;
}

/** One WatchChanges call over the gRPC door (grpc-js), timing every change it receives. */
function watch(client: RosterClient, token: string): Watcher {
  const method = ChangeService.method.watchChanges;
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  const call: ClientReadableStream<WatchChangesResponse> = client.raw.makeServerStreamRequest(
    grpcPath(method),
    (message: WatchChangesRequest) => encodeMessage(method.input, message),
    (bytes: Buffer) => decodeResponse(method.output, bytes) as WatchChangesResponse,
    create(WatchChangesRequestSchema, {}),
    metadata,
  );
  const eventAt = new Float64Array(operations);
  let received = 0;
  let onReady: () => void = () => undefined;
  let onDone: () => void = () => undefined;
  let onError: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<void>((resolve, reject) => {
    onDone = resolve;
    onError = reject;
  });
  const watcher: Watcher = {
    ready,
    done,
    eventAt,
    sinceRecordMs: [],
    firstEventAt: 0,
    lastEventAt: 0,
    close: () => {
      call.cancel();
    },
  };
  call.on("data", (message: WatchChangesResponse) => {
    const at = performance.now();
    onReady();
    if (message.event.case !== "change") return;
    const change = message.event.value;
    if (!change.member.startsWith(memberPrefix) || change.groupId === "") return;
    const index = Number(change.member.slice(memberPrefix.length));
    if (eventAt[index] !== 0) {
      onError(new Error(`the change of ${change.member} came twice`));
      return;
    }
    eventAt[index] = at;
    if (change.time !== undefined) watcher.sinceRecordMs.push(performance.timeOrigin + at - timestampMs(change.time));
    if (received === 0) watcher.firstEventAt = at;
    watcher.lastEventAt = at;
    received += 1;
    if (received === operations) onDone();
  });
  call.on("error", (error: Error) => {
    if (received < operations) onError(error);
  });
  return watcher;
}

async function main({ secret, startService, startStore, defer }: BenchRun): Promise<void> {
  const token = await signHs256Token({ subject: "bench", ttlSeconds: 3600 }, secret);
  const runs: { readonly watched: boolean; readonly stream: StreamRun; readonly watcher: Watcher | undefined }[] = [];
  for (const watched of [false, true]) {
    const runStore = await startStore();
    const { grpcPort } = await startService({ mongodbUri: runStore.uri.replace(/\/?(\?.*)?$/, "/roster$1") });
    const client = createRosterClient(`127.0.0.1:${grpcPort}`);
    defer(() => {
      client.close();
    });
    const newGroup = async (slug: string): Promise<string> =>
      (await client.as(token).groups.createGroup({ group: { slug, displayName: "Changes bench" } })).group?.id ?? "";
    const warmUpGroup = await newGroup("warm-up");
    const warmUp = openBatchStream(client.raw, token);
    const warmed = warmUp.finish();
    for (let i = 0; i < warmUpOperations; i++) warmUp.send(addOp(warmUpGroup, `user:warm-${i}`));
    warmUp.end();
    if ((await warmed).code !== "OK") throw new Error("the warm-up stream failed");

    const groupId = await newGroup("bench-changes");
    let watcher: Watcher | undefined;
    if (watched) {
      watcher = watch(client, token);
      defer(() => watcher?.close());
      await watcher.ready;
    }
    process.stdout.write(
      `streaming ${operations} adds to one group through BatchMemberships${watched ? ", one WatchChanges watcher" : ""}...\n`,
    );
    const stream = await streamAdds(client, token, groupId);
    if (watcher !== undefined) {
      await watcher.done;
      watcher.close();
    }
    runs.push({ watched, stream, watcher });
  }

  const alone = runs.find((run) => !run.watched);
  const watched = runs.find((run) => run.watched);
  const watcher = watched?.watcher;
  if (alone === undefined || watched === undefined || watcher === undefined) throw new Error("a run is missing");
  const rate = (count: number, ms: number): string => Math.round((count * 1000) / ms).toString();
  const afterResult: number[] = [];
  for (let i = 0; i < operations; i++) afterResult.push((watcher.eventAt[i] ?? 0) - (watched.stream.resultAt[i] ?? 0));
  afterResult.sort((a, b) => a - b);
  const sinceRecord = [...watcher.sinceRecordMs].sort((a, b) => a - b);
  const ms = (value: number): string => value.toFixed(1);
  printTable([
    ["", "operations", "time (s)", "ops/s", "vs stream alone"],
    [
      "BatchMemberships stream alone (adds, one group)",
      String(operations),
      (alone.stream.elapsedMs / 1000).toFixed(1),
      rate(operations, alone.stream.elapsedMs),
      "1.00×",
    ],
    [
      "BatchMemberships stream, one watcher",
      String(operations),
      (watched.stream.elapsedMs / 1000).toFixed(1),
      rate(operations, watched.stream.elapsedMs),
      `${(alone.stream.elapsedMs / watched.stream.elapsedMs).toFixed(2)}×`,
    ],
    [
      "WatchChanges: changes received (first to last)",
      String(operations),
      ((watcher.lastEventAt - watcher.firstEventAt) / 1000).toFixed(1),
      rate(operations, watcher.lastEventAt - watcher.firstEventAt),
      "",
    ],
  ]);
  printTable([
    ["delivery latency (ms)", "p50", "p99", "max"],
    [
      "result → event (writer got the result, watcher got the change)",
      ms(percentile(afterResult, 50)),
      ms(percentile(afterResult, 99)),
      ms(afterResult.at(-1) ?? Number.NaN),
    ],
    [
      "record time → event (upper bound: includes the chunk's transaction)",
      ms(percentile(sinceRecord, 50)),
      ms(percentile(sinceRecord, 99)),
      ms(sinceRecord.at(-1) ?? Number.NaN),
    ],
  ]);
  process.stdout.write(
    `\nEvery one of the ${operations} changes received exactly once by the watcher (the group's creator, not an administrator). ` +
      `Writer, watcher (this process), service and embedded store in separate processes; a store and a service per run (node ${process.version}); ` +
      `chunks of ${process.env["ROSTER_BATCH_CHUNK_SIZE"] ?? "500"} operations, one transaction and one history insertMany each.\n`,
  );
}

runBench("bench:changes", "roster-bench-changes-", main);
