import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { headersToMetadata, metadataToHeaderEntries } from "../../src/transport/grpc/metadata.ts";

describe("gRPC metadata and Headers", () => {
  it("gives every request metadata value as a header entry, binary values in base64, repeated keys joined by Headers", () => {
    const metadata = new Metadata();
    metadata.set("authorization", "Bearer t");
    metadata.add("x-tag", "a");
    metadata.add("x-tag", "b");
    metadata.set("x-trace-bin", Buffer.from([0, 1, 254, 255]));
    const entries = metadataToHeaderEntries(metadata);
    expect(entries).toEqual([
      ["authorization", "Bearer t"],
      ["x-tag", "a"],
      ["x-tag", "b"],
      ["x-trace-bin", "AAH+/w=="],
    ]);
    expect(new Headers(entries).get("x-tag")).toBe("a, b");
  });

  it("turns response headers back into metadata, decoding binary values and leaving transport headers to grpc-js", () => {
    const metadata = headersToMetadata(
      new Headers([
        ["x-request-id", "r1"],
        ["x-trace-bin", "AAH+/w=="],
        ["grpc-status", "0"],
        ["content-type", "x"],
      ]),
    );
    expect(metadata.toJSON()).toEqual({ "x-request-id": ["r1"], "x-trace-bin": [Buffer.from([0, 1, 254, 255])] });
  });
});
