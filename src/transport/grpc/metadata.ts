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
 * A Headers whose entries are kept elsewhere until a use needs them: a
 * subclass answers the uses it can from its own store, and every other use
 * first copies the entries in (`fill`, once); from then on it is a plain
 * Headers.
 */
abstract class DeferredHeaders extends Headers {
  /** Copies the entries in now, if not done yet (the iterators below: the compiler's DOM lib declares no Headers iteration). */
  abstract fill(): void;

  override set(name: string, value: string): void {
    this.fill();
    super.set(name, value);
  }

  override append(name: string, value: string): void {
    this.fill();
    super.append(name, value);
  }

  override delete(name: string): void {
    this.fill();
    super.delete(name);
  }

  override getSetCookie(): string[] {
    this.fill();
    return super.getSetCookie();
  }

  override forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    this.fill();
    super.forEach(callback, thisArg);
  }
}

// Iteration (entries, keys, values, for…of) fills first, then is Headers' own.
for (const name of ["entries", "keys", "values", Symbol.iterator] as const) {
  const iterate = (Headers.prototype as unknown as Record<typeof name, (this: Headers) => unknown>)[name];
  Object.defineProperty(DeferredHeaders.prototype, name, {
    configurable: true,
    writable: true,
    value(this: DeferredHeaders): unknown {
      this.fill();
      return iterate.call(this);
    },
  });
}

/**
 * A call's request metadata as its HandlerContext's request Headers. The
 * pipeline only reads a few of them per call (authorization, x-request-id,
 * traceparent), so `get` and `has` answer from the metadata; any other use
 * (iteration, a change) first copies every entry in, once, and from then on
 * it is a plain Headers. Copying on every call (undici validates each name
 * and value) cost more than the rest of building the call's context.
 */
export class MetadataHeaders extends DeferredHeaders {
  /** The metadata, until it has been copied in. */
  #metadata: Metadata | undefined;

  constructor(metadata: Metadata) {
    super();
    this.#metadata = metadata;
  }

  fill(): void {
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
}

/**
 * A call's response headers or trailers (its HandlerContext's
 * `responseHeader` and `responseTrailer`). A call usually gets one header,
 * `x-request-id`, and no trailer: so a `set` of a plain lower-case name to
 * a plain value (one Headers would store unchanged and never reject) goes
 * to a small map, and the door turns the map into metadata directly, where
 * undici's Headers would validate the entry on the way in and sort and copy
 * its list to iterate it on the way out. Any other use (another write, a
 * name that is not plain, iteration) first copies the map in, once, and from
 * then on it is a plain Headers, as MetadataHeaders does for requests.
 */
export class ResponseHeaders extends DeferredHeaders {
  /** Names and values set plainly, alternating (a call has one or two), until they are copied in; undefined until the first such set. */
  #plain: string[] | undefined = undefined;
  #copied = false;

  fill(): void {
    if (this.#copied) return;
    this.#copied = true;
    const plain = this.#plain;
    this.#plain = undefined;
    if (plain !== undefined) for (let i = 0; i < plain.length; i += 2) super.set(plain[i] as string, plain[i + 1] as string);
  }

  /**
   * The names and values set so far, alternating, when all were plain and
   * none was copied in (empty: nothing was written); undefined otherwise.
   */
  plainEntries(): readonly string[] | undefined {
    return this.#copied ? undefined : (this.#plain ?? noEntries);
  }

  override set(name: string, value: string): void {
    if (this.#copied || !plainName.test(name) || !plainValue.test(value)) {
      super.set(name, value);
      return;
    }
    const plain = this.#plain;
    if (plain === undefined) {
      this.#plain = [name, value];
      return;
    }
    for (let i = 0; i < plain.length; i += 2) {
      if (plain[i] === name) {
        plain[i + 1] = value;
        return;
      }
    }
    plain.push(name, value);
  }

  override get(name: string): string | null {
    if (this.#copied || !plainName.test(name)) {
      this.fill();
      return super.get(name);
    }
    return this.#plainValue(name);
  }

  override has(name: string): boolean {
    if (this.#copied || !plainName.test(name)) {
      this.fill();
      return super.has(name);
    }
    return this.#plainValue(name) !== null;
  }

  #plainValue(name: string): string | null {
    const plain = this.#plain;
    if (plain !== undefined) for (let i = 0; i < plain.length; i += 2) if (plain[i] === name) return plain[i + 1] as string;
    return null;
  }
}

const noEntries: readonly string[] = [];
/** A header name Headers keeps as it is: lower-case token characters only. */
const plainName = /^[a-z0-9-]+$/;
/** A header value Headers keeps as it is and accepts: visible ASCII, nothing to trim. */
const plainValue = /^[!-~]+$/;

/** Headers as gRPC metadata; reserved transport headers are left to grpc-js. */
export function headersToMetadata(...sources: readonly Headers[]): Metadata {
  const metadata = new Metadata();
  for (const headers of sources) addHeaders(metadata, headers, plainEntriesOf(headers));
  return metadata;
}

/**
 * Response headers or trailers as the metadata to send, or undefined when
 * there is none (grpc-js sends the same for an absent trailer as for an
 * empty one, without copying an empty Metadata first).
 */
export function responseMetadata(headers: Headers): Metadata | undefined {
  const plain = plainEntriesOf(headers);
  if (plain?.length === 0) return undefined;
  const metadata = new Metadata();
  addHeaders(metadata, headers, plain);
  return metadata;
}

/** The plain entries of a ResponseHeaders that has only those (see ResponseHeaders.plainEntries); undefined for any other Headers. */
function plainEntriesOf(headers: Headers): readonly string[] | undefined {
  return headers instanceof ResponseHeaders ? headers.plainEntries() : undefined;
}

/** Adds `headers` to `metadata`, from `plain` (its plainEntriesOf) when it has it. */
function addHeaders(metadata: Metadata, headers: Headers, plain: readonly string[] | undefined): void {
  if (plain === undefined) {
    headers.forEach((value, key) => {
      addHeader(metadata, key, value);
    });
    return;
  }
  if (plain.length === 2) {
    addHeader(metadata, plain[0] as string, plain[1] as string);
    return;
  }
  // In the order Headers iterates them.
  const names: string[] = [];
  for (let i = 0; i < plain.length; i += 2) names.push(plain[i] as string);
  for (const name of names.sort()) addHeader(metadata, name, headers.get(name) as string);
}

function addHeader(metadata: Metadata, key: string, value: string): void {
  if (key.startsWith("grpc-") || key === "content-type" || key === "te") return;
  if (key.endsWith("-bin")) metadata.add(key, Buffer.from(value, "base64"));
  else metadata.add(key, value);
}
