/**
 * Dotted request-field paths ("group.parent_id") as declared in AccessRule
 * options, resolved against the method's request descriptor once at start-up.
 * A path that names no field is a contract bug and stops the server instead
 * of silently authorizing against an empty value.
 */
import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";

/** Reads one declared field from a request; undefined when an enclosing message is unset. */
export type FieldReader = (message: Message) => unknown;

/**
 * Compiles `path` (proto field names separated by dots) for `schema`.
 * Every segment but the last must be a singular message field.
 *
 * @throws Error naming the path and the message when a segment does not exist.
 */
export function compileFieldPath(schema: DescMessage, path: string): { readonly field: DescField; readonly read: FieldReader } {
  const segments = path.split(".");
  const localNames: string[] = [];
  let current: DescMessage | undefined = schema;
  let field: DescField | undefined;
  for (const [i, segment] of segments.entries()) {
    if (current === undefined) {
      throw new Error(`field path "${path}" of ${schema.typeName}: "${segments[i - 1] ?? ""}" is not a message field`);
    }
    const owner: DescMessage = current;
    field = owner.fields.find((f) => f.name === segment);
    if (field === undefined) {
      throw new Error(`field path "${path}" of ${schema.typeName}: ${owner.typeName} has no field "${segment}"`);
    }
    localNames.push(field.localName);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  if (field === undefined) throw new Error(`field path of ${schema.typeName} is empty`);
  const read: FieldReader = (message) => {
    let value: unknown = message;
    for (const name of localNames) {
      if (value === undefined || value === null) return undefined;
      value = (value as Record<string, unknown>)[name];
    }
    return value;
  };
  return { field, read };
}
