/**
 * gRPC metadata ↔ fetch `Headers`, the header type of connect's
 * HandlerContext. Binary (`-bin`) values travel base64-encoded in Headers, as
 * connect does for gRPC-web and Connect.
 */
import { Metadata } from "@grpc/grpc-js";

/** All request metadata as Headers (repeated keys joined as fetch does). */
export function metadataToHeaders(metadata: Metadata): Headers {
  const headers = new Headers();
  for (const key of Object.keys(metadata.getMap())) {
    for (const value of metadata.get(key)) {
      headers.append(key, typeof value === "string" ? value : value.toString("base64"));
    }
  }
  return headers;
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
