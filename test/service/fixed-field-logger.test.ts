/**
 * The request log writes its line through the root logger's fixed-field
 * sibling (src/rpc/logger.ts), which skips pino's redaction pass: the same
 * JSON as the root logger writes for such a line, to the same destination in
 * order, while everything else logged keeps being redacted.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createRootLogger, fixedFieldLogger } from "../../src/rpc/logger.ts";

function capture(): { lines: Record<string, unknown>[]; destination: { write(line: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

const rpcLine = {
  requestId: "r-1",
  method: "roster.v1.GroupService/GetGroup",
  door: "grpc",
  protocol: "grpc",
  code: "OK",
  ms: 0.25,
  caller: "user:alice",
  peer: "ipv4:127.0.0.1:5000",
};

describe("fixedFieldLogger", () => {
  it("writes a fixed-field line exactly as the root logger does, to the same destination, in order", () => {
    const { lines, destination } = capture();
    const root = createRootLogger({ level: "info", destination });
    root.info(rpcLine, "rpc");
    fixedFieldLogger(root).info(rpcLine, "rpc");
    root.warn({ n: 3 }, "after");
    expect(lines).toHaveLength(3);
    const [viaRoot, viaSibling] = lines.map(({ time: _time, ...rest }) => rest);
    expect(viaSibling).toEqual(viaRoot);
    expect(viaSibling).toEqual({ level: 30, service: "roster", ...rpcLine, msg: "rpc" });
    expect(lines[2]).toMatchObject({ level: 40, n: 3, msg: "after" });
  });

  it("follows the root's level", () => {
    const { lines, destination } = capture();
    const root = createRootLogger({ level: "warn", destination });
    fixedFieldLogger(root).info(rpcLine, "rpc");
    fixedFieldLogger(root).warn(rpcLine, "rpc");
    expect(lines.map((l) => l["level"])).toEqual([40]);
  });

  it("leaves the root and its children redacting authorization and tokens", () => {
    const { lines, destination } = capture();
    const root = createRootLogger({ level: "info", destination });
    root.child({ requestId: "r-2" }).info({ headers: { authorization: "Bearer secret" }, token: "secret" }, "handler");
    expect(JSON.stringify(lines)).not.toContain("secret");
    expect(lines[0]).toMatchObject({ headers: { authorization: "[redacted]" }, token: "[redacted]" });
  });

  it("is the logger itself for a logger createRootLogger did not make", () => {
    const other = pino({ level: "silent" });
    expect(fixedFieldLogger(other)).toBe(other);
  });
});
