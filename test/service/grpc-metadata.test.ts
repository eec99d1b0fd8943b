import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { headersToMetadata, metadataToHeaderEntries, MetadataHeaders } from "../../src/transport/grpc/metadata.ts";

/** `headers` iterated with for…of, or through `entries()`/`keys()` (the compiler's DOM lib declares neither). */
function listed(headers: Headers, how: "for-of" | "entries" | "keys"): unknown[] {
  const iterable =
    how === "for-of" ? (headers as unknown as Iterable<unknown>) : (headers as unknown as Record<string, () => Iterable<unknown>>)[how]?.();
  return [...(iterable ?? [])];
}

/** Request metadata with a text value, a repeated key and a binary value. */
function sampleMetadata(): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", "Bearer t");
  metadata.add("x-tag", "a");
  metadata.add("x-tag", "b");
  metadata.set("x-trace-bin", Buffer.from([0, 1, 254, 255]));
  return metadata;
}

describe("gRPC metadata and Headers", () => {
  it("gives every request metadata value as a header entry, binary values in base64, repeated keys joined by Headers", () => {
    const metadata = sampleMetadata();
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

  it("reads request metadata as Headers: the same answers as Headers built from its entries, before and after any change", () => {
    const metadata = sampleMetadata();
    const plain = new Headers(metadataToHeaderEntries(metadata));
    const read = new MetadataHeaders(metadata);
    for (const name of ["authorization", "Authorization", "x-tag", "x-trace-bin", "x-request-id"]) {
      expect(read.get(name)).toBe(plain.get(name));
      expect(read.has(name)).toBe(plain.has(name));
    }
    expect(read).toBeInstanceOf(Headers);
    expect(listed(read, "for-of")).toEqual(listed(plain, "for-of"));
    expect(listed(new MetadataHeaders(metadata), "entries")).toEqual(listed(plain, "entries"));
    expect(listed(new MetadataHeaders(metadata), "keys")).toEqual(["authorization", "x-tag", "x-trace-bin"]);
    const seen: [string, string][] = [];
    new MetadataHeaders(metadata).forEach((value, key) => seen.push([key, value]));
    expect(seen).toEqual(listed(plain, "for-of"));

    const changed = new MetadataHeaders(metadata);
    changed.set("x-tag", "c");
    changed.delete("authorization");
    expect(changed.get("x-tag")).toBe("c");
    expect(changed.get("authorization")).toBe(null);
    expect(changed.get("x-trace-bin")).toBe("AAH+/w==");
    expect(new Headers(changed).get("x-tag")).toBe("c");
  });
});
