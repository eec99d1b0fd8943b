/**
 * The rules a strict descriptor pool (protobuf's C++ `DescriptorPool`, behind
 * Python grpcio clients and grpc_cli; protobuf-go's protodesc behind grpcurl)
 * applies when it builds files received through reflection, checked here in
 * TypeScript so the test runs everywhere. protobuf-es's `createFileRegistry`
 * is more lenient (it accepted descriptors with empty type names), so it is no
 * substitute.
 *
 * `poolProblems` returns one line per violation, naming the file and the
 * element; an empty list means every file would build.
 */
import { isFieldSet } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import {
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

type SymbolKind = "message" | "enum" | "other";

/** Problems that would make a strict pool refuse these files (which must include every import). */
export function poolProblems(files: readonly FileDescriptorProto[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, FileDescriptorProto>();
  for (const file of files) {
    if (byName.has(file.name)) problems.push(`${file.name}: sent twice`);
    byName.set(file.name, file);
  }

  // Every symbol, with the file declaring it; a symbol declared twice is an error.
  const symbols = new Map<string, { kind: SymbolKind; file: string }>();
  const declare = (file: FileDescriptorProto, name: string, kind: SymbolKind): void => {
    const existing = symbols.get(name);
    if (existing !== undefined) problems.push(`${file.name}: "${name}" is already defined in ${existing.file}`);
    else symbols.set(name, { kind, file: file.name });
  };
  for (const file of files) {
    const declareEnums = (enums: readonly EnumDescriptorProto[], scope: string): void => {
      for (const enumType of enums) {
        declare(file, qualify(scope, enumType.name), "enum");
        for (const value of enumType.value) declare(file, qualify(scope, value.name), "other");
      }
    };
    const declareMessages = (messages: readonly DescriptorProto[], scope: string): void => {
      for (const message of messages) {
        const name = qualify(scope, message.name);
        declare(file, name, "message");
        for (const field of [...message.field, ...message.extension]) declare(file, qualify(name, field.name), "other");
        for (const oneof of message.oneofDecl) declare(file, qualify(name, oneof.name), "other");
        declareEnums(message.enumType, name);
        declareMessages(message.nestedType, name);
      }
    };
    declareMessages(file.messageType, file.package);
    declareEnums(file.enumType, file.package);
    for (const extension of file.extension) declare(file, qualify(file.package, extension.name), "other");
    for (const service of file.service) {
      declare(file, qualify(file.package, service.name), "other");
      for (const method of service.method) declare(file, qualify(file.package, `${service.name}.${method.name}`), "other");
    }
  }

  for (const file of files) {
    const where = (element: string): string => `${file.name}: ${element}`;
    for (const dependency of file.dependency) {
      if (!byName.has(dependency)) problems.push(where(`imports "${dependency}", which was not sent`));
    }
    const expectedDirectory = file.package.replaceAll(".", "/");
    const directory = file.name.includes("/") ? file.name.slice(0, file.name.lastIndexOf("/")) : "";
    if (directory !== expectedDirectory) problems.push(where(`file name does not match its package ${file.package} (expected ${expectedDirectory}/…)`));
    if (!file.name.endsWith(".proto")) problems.push(where("file name does not end with .proto"));

    const visible = visibleFiles(file, byName);
    /** A reference must be fully qualified, defined, of the right kind, and declared in this file or one it imports. */
    const resolve = (element: string, typeName: string, kind: SymbolKind): void => {
      if (!typeName.startsWith(".")) {
        problems.push(where(`${element}: "${typeName}" is not a fully-qualified type name`));
        return;
      }
      const symbol = symbols.get(typeName.slice(1));
      if (symbol === undefined) problems.push(where(`${element}: "${typeName}" is not defined`));
      else if (symbol.kind !== kind) problems.push(where(`${element}: "${typeName}" is not ${kind === "enum" ? "an enum" : "a message"}`));
      else if (!visible.has(symbol.file)) problems.push(where(`${element}: "${typeName}" is defined in ${symbol.file}, which is not imported`));
    };
    const checkField = (field: FieldDescriptorProto, owner: string): void => {
      const element = `${owner}.${field.name}`;
      if (!/^[a-z][a-z0-9_]*$/.test(field.name)) problems.push(where(`${element}: field name is not snake_case`));
      if (field.jsonName !== "" && field.jsonName !== protoCamelCase(field.name)) {
        problems.push(where(`${element}: json_name "${field.jsonName}" is not the camelCase of the field name`));
      }
      if (!isFieldSet(field, FieldDescriptorProtoSchema.field.label)) problems.push(where(`${element}: no label`));
      const takesTypeName = field.type === FieldDescriptorProto_Type.MESSAGE || field.type === FieldDescriptorProto_Type.GROUP || field.type === FieldDescriptorProto_Type.ENUM;
      if (!isFieldSet(field, FieldDescriptorProtoSchema.field.type)) problems.push(where(`${element}: no type`));
      if (takesTypeName) resolve(element, field.typeName, field.type === FieldDescriptorProto_Type.ENUM ? "enum" : "message");
      // Present but empty counts: a strict pool tries to resolve "" and fails.
      else if (isFieldSet(field, FieldDescriptorProtoSchema.field.typeName)) problems.push(where(`${element}: a scalar field with type_name "${field.typeName}"`));
      if (field.extendee !== "") resolve(`${element} (extendee)`, field.extendee, "message");
    };
    const checkMessages = (messages: readonly DescriptorProto[], scope: string): void => {
      for (const message of messages) {
        const name = qualify(scope, message.name);
        for (const field of message.field) {
          checkField(field, name);
          if (field.extendee !== "") problems.push(where(`${name}.${field.name}: a field with an extendee`));
          const inOneof = isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex);
          if (inOneof && field.oneofIndex >= message.oneofDecl.length) problems.push(where(`${name}.${field.name}: oneof_index out of range`));
          if (field.proto3Optional && !inOneof) problems.push(where(`${name}.${field.name}: proto3 optional outside a synthetic oneof`));
          const entry = message.nestedType.find((nested) => nested.options?.mapEntry === true && `.${qualify(name, nested.name)}` === field.typeName);
          if (entry !== undefined && entry.name !== `${protoCamelCase(field.name).replace(/^./, (c) => c.toUpperCase())}Entry`) {
            problems.push(where(`${name}.${field.name}: map entry named ${entry.name}`));
          }
        }
        for (const extension of message.extension) checkField(extension, name);
        checkMessages(message.nestedType, name);
      }
    };
    checkMessages(file.messageType, file.package);
    for (const extension of file.extension) {
      checkField(extension, file.package);
      if (extension.extendee === "") problems.push(where(`${extension.name}: an extension without an extendee`));
    }
    for (const service of file.service) {
      for (const method of service.method) {
        const element = `${qualify(file.package, service.name)}.${method.name}`;
        resolve(`${element} (input)`, method.inputType, "message");
        resolve(`${element} (output)`, method.outputType, "message");
      }
    }
  }
  return problems;
}

/** The file itself, the files it imports, and the files those import publicly (transitively). */
function visibleFiles(file: FileDescriptorProto, byName: ReadonlyMap<string, FileDescriptorProto>): Set<string> {
  const visible = new Set([file.name]);
  const addPublic = (name: string): void => {
    if (visible.has(name)) return;
    visible.add(name);
    const imported = byName.get(name);
    for (const index of imported?.publicDependency ?? []) {
      const publicName = imported?.dependency[index];
      if (publicName !== undefined) addPublic(publicName);
    }
  };
  for (const dependency of file.dependency) addPublic(dependency);
  return visible;
}

function qualify(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}
