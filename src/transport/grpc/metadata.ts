/**
 * gRPC metadata ↔ fetch `Headers`, the header type of connect's
 * HandlerContext. Binary (`-bin`) values travel base64-encoded in Headers, as
 * connect does for gRPC-web and Connect.
 */
import { Metadata } from "@grpc/grpc-js";

/**
 * All request metadata as header entries (repeated keys become repeated
 * entries, which Headers joins as fetch does). Entries rather than Headers:
 * connect's HandlerContext copies whatever it is given into a Headers of its
 * own, and building a Headers twice per call showed in the door's profile.
 */
export function metadataToHeaderEntries(metadata: Metadata): [string, string][] {
  const entries: [string, string][] = [];
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values) entries.push([key, typeof value === "string" ? value : value.toString("base64")]);
  }
  return entries;
}

/** Headers as gRPC metadata; reserved transport headers are left to grpc-js. */
export function headersToMetadata(...sources: readonly Headers[]): Metadata {
  const metadata = new Metadata();
  for (const headers of sources) {
    headers.forEach((value, key) => {
      if (key.startsWith("grpc-") || key === "content-type" || key === "te") return;
      if (key.endsWith("-bin")) metadata.add(key, Buffer.from(value, "base64"));
      else metadata.add(key, value);
    });
  }
  return metadata;
}
