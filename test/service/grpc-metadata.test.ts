import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  headersToMetadata,
  metadataToHeaderEntries,
  MetadataHeaders,
  ResponseHeaders,
  responseMetadata,
} from "../../src/transport/grpc/metadata.ts";

/** `headers` iterated with for…of, or through `entries()`/`keys()` (the compiler's DOM lib declares neither). */
function listed(headers: Headers, how: "for-of" | "entries" | "keys"): unknown[] {
  const iterable =
    how === "for-of" ? (headers as unknown as Iterable<unknown>) : (headers as unknown as Record<string, () => Iterable<unknown>>)[how]?.();
  return [...(iterable ?? [])];
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
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

  /** Writes a Headers can take, each applied to a ResponseHeaders and a plain Headers alike. */
  const writes: Record<string, (headers: Headers) => void> = {
    "one plain set": (h) => {
      h.set("x-request-id", "r-1");
    },
    "two plain sets, out of order, one overwritten": (h) => {
      h.set("x-z", "1");
      h.set("x-a", "2");
      h.set("x-z", "3");
    },
    "a value that is also a name": (h) => {
      h.set("x-a", "x-b");
      h.set("x-b", "1");
      h.set("x-b", "2");
    },
    "a name in upper case": (h) => {
      h.set("x-request-id", "r-1");
      h.set("X-Upper", "u");
    },
    "a value to trim and one with a space": (h) => {
      h.set("x-request-id", "r-1");
      h.set("x-trim", "  t  ");
      h.set("x-space", "a b");
    },
    "an append after a plain set": (h) => {
      h.set("x-tag", "a");
      h.append("x-tag", "b");
    },
    "a delete after a plain set": (h) => {
      h.set("x-request-id", "r-1");
      h.set("x-gone", "g");
      h.delete("x-gone");
    },
    "set-cookie twice": (h) => {
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
    },
    "a binary value and reserved names": (h) => {
      h.set("x-trace-bin", "AAH+/w==");
      h.set("grpc-status", "0");
      h.set("content-type", "x");
    },
  };

  it.each(Object.keys(writes))("keeps response headers exactly as Headers does, and sends the same metadata: %s", (name) => {
    const write = writes[name] as (headers: Headers) => void;
    const plain = new Headers();
    write(plain);
    for (const read of ["get", "has", "metadata", "forEach", "for-of", "entries", "getSetCookie"] as const) {
      const response = new ResponseHeaders();
      write(response);
      for (const header of [
        "x-request-id",
        "X-Request-Id",
        "x-z",
        "x-a",
        "x-upper",
        "x-trim",
        "x-space",
        "x-tag",
        "x-gone",
        "set-cookie",
        "x-trace-bin",
      ]) {
        if (read === "get") expect(response.get(header)).toBe(plain.get(header));
        if (read === "has") expect(response.has(header)).toBe(plain.has(header));
      }
      if (read === "metadata") {
        // Entries: the order of the headers on the wire too.
        expect(Object.entries(responseMetadata(response)?.toHttp2Headers() ?? {})).toEqual(
          Object.entries(headersToMetadata(plain).toHttp2Headers()),
        );
      }
      if (read === "forEach") {
        const seen: [string, string][] = [];
        response.forEach((value, key) => seen.push([key, value]));
        expect(seen).toEqual(listed(plain, "for-of"));
      }
      if (read === "for-of" || read === "entries") expect(listed(response, read)).toEqual(listed(plain, read));
      if (read === "getSetCookie") expect(response.getSetCookie()).toEqual(plain.getSetCookie());
      // After any read, it goes on as Headers does.
      response.set("x-after", "v");
      plain.set("x-after", "v");
      expect(listed(response, "for-of")).toEqual(listed(plain, "for-of"));
      plain.delete("x-after");
    }
  });

  it("rejects what Headers rejects, and sends no metadata for response headers nobody wrote", () => {
    const cases: ((headers: Headers) => unknown)[] = [
      (h) => {
        h.set("bad name", "v");
      },
      (h) => {
        h.set("x-ok", "line\nbreak");
      },
      (h) => h.get("bad name"),
      (h) => h.has("bad name"),
    ];
    for (const use of cases) {
      const error = thrownBy(() => use(new Headers()));
      expect(error).toBeInstanceOf(TypeError);
      expect(thrownBy(() => use(new ResponseHeaders()))).toEqual(error);
    }
    expect(responseMetadata(new ResponseHeaders())).toBeUndefined();
    const emptied = new ResponseHeaders();
    emptied.set("x-gone", "g");
    emptied.delete("x-gone");
    expect(responseMetadata(emptied)?.toJSON()).toEqual({});
    expect(responseMetadata(new Headers())?.toJSON()).toEqual({});
  });
});
