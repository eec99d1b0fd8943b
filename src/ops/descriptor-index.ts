/**
 * The proto files a server describes, indexed the way server reflection asks
 * for them: by file name, by fully-qualified symbol, by extension (extendee
 * and field number). The files are the descriptors protobuf-es embeds in
 * `gen/` (and in `@bufbuild/protobuf/wkt` for the well-known types), with
 * every file they import; each is serialized once, keeping what the compiler
 * wrote — custom options such as `(roster.v1.access)` included, since
 * protobuf-es keeps unknown fields — rather than rebuilt by another protobuf
 * runtime.
 */
import { toBinary, type DescFile } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
} from "@bufbuild/protobuf/wkt";

export interface DescriptorIndex {
  /** Every indexed file, imports before the files importing them. */
  readonly files: readonly DescFile[];
  fileByName(name: string): DescFile | undefined;
  /**
   * The file declaring a fully-qualified symbol: a service, method, message,
   * field, oneof, enum, enum value or extension (`roster.v1.GroupService`,
   * `roster.v1.GroupService.GetGroup`, `roster.v1.Group.slug`).
   */
  fileContainingSymbol(symbol: string): DescFile | undefined;
  /** The file declaring extension `number` of message `extendee` (no leading dot). */
  fileContainingExtension(extendee: string, number: number): DescFile | undefined;
  /** The extension numbers of a message, ascending; undefined for an unknown message. */
  extensionNumbersOf(message: string): readonly number[] | undefined;
  /** The file's serialized FileDescriptorProto. */
  serialized(file: DescFile): Uint8Array;
}

/** Indexes `files` and, transitively, every file they import. */
export function createDescriptorIndex(roots: readonly DescFile[]): DescriptorIndex {
  const files = withDependencies(roots);
  const byName = new Map(files.map((file) => [file.proto.name, file]));
  const bySymbol = new Map<string, DescFile>();
  const messages = new Set<string>();
  const extensions = new Map<string, Map<number, DescFile>>();
  const bytes = new Map<DescFile, Uint8Array>();

  for (const file of files) {
    const declare = (symbol: string): void => {
      if (!bySymbol.has(symbol)) bySymbol.set(symbol, file);
    };
    const declareExtensions = (fields: readonly FieldDescriptorProto[], scope: string): void => {
      for (const field of fields) {
        declare(qualify(scope, field.name));
        const extendee = field.extendee.replace(/^\./, "");
        const numbers = extensions.get(extendee) ?? new Map<number, DescFile>();
        numbers.set(field.number, file);
        extensions.set(extendee, numbers);
      }
    };
    const declareEnums = (enums: readonly EnumDescriptorProto[], scope: string): void => {
      for (const enumType of enums) {
        declare(qualify(scope, enumType.name));
        // Enum values are scoped like their enum's siblings (C++ scoping rules).
        for (const value of enumType.value) declare(qualify(scope, value.name));
      }
    };
    const declareMessages = (types: readonly DescriptorProto[], scope: string): void => {
      for (const message of types) {
        const name = qualify(scope, message.name);
        declare(name);
        messages.add(name);
        for (const field of message.field) declare(qualify(name, field.name));
        for (const oneof of message.oneofDecl) declare(qualify(name, oneof.name));
        declareExtensions(message.extension, name);
        declareEnums(message.enumType, name);
        declareMessages(message.nestedType, name);
      }
    };
    const { proto } = file;
    declareMessages(proto.messageType, proto.package);
    declareEnums(proto.enumType, proto.package);
    declareExtensions(proto.extension, proto.package);
    for (const service of proto.service) {
      const name = qualify(proto.package, service.name);
      declare(name);
      for (const method of service.method) declare(qualify(name, method.name));
    }
  }

  return {
    files,
    fileByName: (name) => byName.get(name),
    fileContainingSymbol: (symbol) => bySymbol.get(symbol),
    fileContainingExtension: (extendee, number) => extensions.get(extendee)?.get(number),
    extensionNumbersOf: (message) =>
      messages.has(message) ? [...(extensions.get(message)?.keys() ?? [])].sort((a, b) => a - b) : undefined,
    serialized: (file) => {
      let serialized = bytes.get(file);
      if (serialized === undefined) {
        serialized = toBinary(FileDescriptorProtoSchema, file.proto);
        bytes.set(file, serialized);
      }
      return serialized;
    },
  };
}

/** The files and, transitively, every file they import, imports first. */
function withDependencies(roots: readonly DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const file of roots) visit(file);
  return ordered;
}

function qualify(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}
