/**
 * The request log writes its line itself (src/rpc/request-log-line.ts): the
 * bytes must be the ones pino writes for the same fields through the same
 * root logger, every string field escaped as JSON, at the same levels, with
 * the same level filtering, into the same destination in order.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createRootLogger } from "../../src/rpc/logger.ts";
import { createRequestLineWriter, formatRequestLine, jsonString, type RequestLogLine } from "../../src/rpc/request-log-line.ts";

function capture(): { text: string[]; destination: { write(line: string): void } } {
  const text: string[] = [];
  return { text, destination: { write: (line: string) => text.push(line) } };
}

const plain: RequestLogLine = {
  requestId: "3f1c2a9e-5b7d-4c1e-9a2f-0e6d8b4c7a1f",
  traceId: undefined,
  method: "roster.v1.GroupService/GetGroup",
  door: "grpc",
  protocol: "grpc",
  code: "OK",
  ms: 0.125,
  caller: "user:alice",
  peer: "ipv4:127.0.0.1:53122",
};

/** Strings a client controls (request id header, token subject) or a door reports, at their nastiest. */
const awkward = [
  'say "hi"',
  "back\\slash\\",
  "ctl\u0000\u0001\u0008\t\n\f\r\u001b\u001f end",
  "del\u007f",
  "é日本語 ünïcödé 🙂",
  "line\u2028para\u2029",
  `"${"q\\".repeat(60)}"`,
  "x".repeat(101),
  `${"y".repeat(120)}\n`,
  "",
];

/** The fields of `line` as pino's `info(obj, msg)` takes them: undefined traceId left out of the literal. */
function asPinoObject(line: RequestLogLine): Record<string, unknown> {
  const { requestId, traceId, ...rest } = line;
  return traceId === undefined ? { requestId, ...rest } : { requestId, traceId, ...rest };
}

describe("request log line", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const cases: { name: string; line: RequestLogLine }[] = [
    { name: "a plain line", line: plain },
    { name: "a traced line", line: { ...plain, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" } },
    {
      name: "a line before authentication, without door facts",
      line: { ...plain, caller: undefined, door: undefined, protocol: undefined, peer: undefined },
    },
    { name: "whole milliseconds and zero", line: { ...plain, ms: 12 } },
    { name: "a duration that is not finite (null, as pino writes it)", line: { ...plain, ms: Number.NaN } },
    ...awkward.map((value, i) => ({
      name: `awkward string #${i}`,
      line: { ...plain, requestId: value, caller: `user:${value}`, peer: value, traceId: i % 2 === 0 ? value : undefined },
    })),
  ];

  it.each(cases)("writes $name byte for byte as pino does, at every level", ({ line }) => {
    vi.spyOn(Date, "now").mockReturnValue(1765000000123);
    const viaPino = capture();
    const viaWriter = capture();
    const pinoRoot = createRootLogger({ level: "info", destination: viaPino.destination });
    const write = createRequestLineWriter(createRootLogger({ level: "info", destination: viaWriter.destination }));
    for (const level of ["info", "warn", "error"] as const) {
      pinoRoot[level](asPinoObject(line), "rpc");
      write(level, line);
    }
    expect(viaWriter.text).toEqual(viaPino.text);
    expect(viaWriter.text).toHaveLength(3);
    const parsed = JSON.parse(viaWriter.text[0] as string) as Record<string, unknown>;
    expect(parsed).toEqual({
      level: 30,
      time: 1765000000123,
      service: "roster",
      ...JSON.parse(JSON.stringify(asPinoObject(line))),
      msg: "rpc",
    });
    expect(viaWriter.text.map((l) => (JSON.parse(l) as { level: number }).level)).toEqual([30, 40, 50]);
  });

  it("escapes every string as JSON.stringify does, also lone surrogates (which pino on node 20 writes raw)", () => {
    for (const value of [...awkward, "\ud800", "a\udc00b", "🙂\ud83d", "plain ascii", "ümlaut"]) {
      expect(jsonString(value)).toBe(JSON.stringify(value));
      expect(JSON.parse(jsonString(value))).toBe(value);
    }
    const line = formatRequestLine(30, 1, "", { ...plain, caller: "user:\ud800" });
    expect((JSON.parse(line) as { caller: string }).caller).toBe("user:\ud800");
    expect(line).toContain('"caller":"user:\\ud800"');
  });

  it("follows the root's level: above info no info line, silent no line at all", () => {
    for (const [level, written] of [
      ["info", [30, 40, 50]],
      ["warn", [40, 50]],
      ["error", [50]],
      ["silent", []],
    ] as const) {
      const { text, destination } = capture();
      const write = createRequestLineWriter(createRootLogger({ level, destination }));
      write("info", plain);
      write("warn", plain);
      write("error", plain);
      expect(text.map((l) => (JSON.parse(l) as { level: number }).level)).toEqual(written);
    }
  });

  it("writes into the root's destination in order with the root's other lines", () => {
    const { text, destination } = capture();
    const root = createRootLogger({ level: "info", destination });
    const write = createRequestLineWriter(root);
    root.info("before");
    write("info", plain);
    root.child({ requestId: "r" }).warn("after");
    expect(text.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(["before", "rpc", "after"]);
  });

  it("writes through pino for a logger createRootLogger did not make", () => {
    const { text, destination } = capture();
    const other = pino({ level: "info", base: { app: "other" }, messageKey: "message" }, destination);
    createRequestLineWriter(other)("warn", { ...plain, traceId: "t" });
    expect(JSON.parse(text[0] as string)).toMatchObject({
      level: 40,
      app: "other",
      requestId: plain.requestId,
      traceId: "t",
      caller: "user:alice",
      message: "rpc",
    });
  });
});
