/**
 * What `roster` prints on stdout: aligned tables with upper-case headers (as
 * kubectl prints them), key-value blocks, or with --json the proto JSON of
 * the answer. Diagnostics and progress go to stderr, never here.
 */
import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** Rows under a header, columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header.map((h) => h.toUpperCase())), ...rows.map(line)].join("\n") + "\n";
}

/** "Key:  value" lines, keys aligned; empty values are left out. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const shown = fields.filter(([, value]) => value !== "");
  const width = Math.max(...shown.map(([key]) => key.length + 1));
  return shown.map(([key, value]) => `${`${key}:`.padEnd(width)}  ${value}`).join("\n") + "\n";
}

/** A message as one line of proto JSON (field names in lowerCamelCase, enums by name). */
export function jsonLine<D extends DescMessage>(schema: D, message: MessageShape<D>): string {
  return `${JSON.stringify(toJson(schema, message))}\n`;
}

/** A timestamp as ISO-8601 UTC, "" when unset. */
export function formatTime(timestamp: Timestamp | undefined): string {
  return timestamp === undefined ? "" : timestampDate(timestamp).toISOString();
}
