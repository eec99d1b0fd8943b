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
    for (const value of values) entries.push([key, headerValueOf(value)]);
  }
  return entries;
}

/** One metadata value as a header value (binary in base64). */
function headerValueOf(value: string | Buffer): string {
  return typeof value === "string" ? value : value.toString("base64");
}

/**
 * A call's request metadata as its HandlerContext's request Headers. The
 * pipeline only reads a few of them per call (authorization, x-request-id,
 * traceparent), so `get` and `has` answer from the metadata; any other use
 * (iteration, a change) first copies every entry in, once, and from then on
 * it is a plain Headers. Copying on every call (undici validates each name
 * and value) cost more than the rest of building the call's context.
 */
export class MetadataHeaders extends Headers {
  /** The metadata, until it has been copied in. */
  #metadata: Metadata | undefined;

  constructor(metadata: Metadata) {
    super();
    this.#metadata = metadata;
  }

  #fill(): void {
    const metadata = this.#metadata;
    if (metadata === undefined) return;
    this.#metadata = undefined;
    for (const [key, value] of metadataToHeaderEntries(metadata)) super.append(key, value);
  }

  override get(name: string): string | null {
    const metadata = this.#metadata;
    if (metadata === undefined) return super.get(name);
    const values = metadata.get(name.toLowerCase());
    if (values.length === 0) return null;
    // Repeated keys joined as Headers joins them.
    return values.length === 1 ? headerValueOf(values[0] as string | Buffer) : values.map(headerValueOf).join(", ");
  }

  override has(name: string): boolean {
    const metadata = this.#metadata;
    return metadata === undefined ? super.has(name) : metadata.get(name.toLowerCase()).length > 0;
  }

  override set(name: string, value: string): void {
    this.#fill();
    super.set(name, value);
  }

  override append(name: string, value: string): void {
    this.#fill();
    super.append(name, value);
  }

  override delete(name: string): void {
    this.#fill();
    super.delete(name);
  }

  override getSetCookie(): string[] {
    this.#fill();
    return super.getSetCookie();
  }

  override forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.#fill();
    super.forEach(callback, thisArg);
  }

  /** Copies the metadata in now (the iterators below: the compiler's DOM lib declares no Headers iteration). */
  fill(): void {
    this.#fill();
  }
}

// Iteration (entries, keys, values, for…of) fills first, then is Headers' own.
for (const name of ["entries", "keys", "values", Symbol.iterator] as const) {
  const iterate = (Headers.prototype as unknown as Record<typeof name, (this: Headers) => unknown>)[name];
  Object.defineProperty(MetadataHeaders.prototype, name, {
    configurable: true,
    writable: true,
    value(this: MetadataHeaders): unknown {
      this.fill();
      return iterate.call(this);
    },
  });
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
