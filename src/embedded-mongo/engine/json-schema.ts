/**
 * MongoDB's `$jsonSchema` (JSON Schema draft 4 plus `bsonType`), on typed
 * documents, reporting failures the way MongoDB 7 puts them in a
 * DocumentValidationFailure's `errInfo.details.schemaRulesNotSatisfied`.
 * Keywords MongoDB does not support (`$ref`, `format`, `default`, …) and
 * the `integer` type are refused when the schema is compiled, as mongod does.
 */
import type { Document } from "bson";
import { bsonTypeName } from "./bson-type-name.ts";
import { bsonTag, compareValues, keyString, numericValue } from "./compare.ts";
import { EngineError } from "./types.ts";

/** One rule a value broke, in MongoDB's errInfo form. */
export type SchemaFailure = Document;

type Check = (value: unknown) => SchemaFailure[];

const supportedKeywords = new Set([
  "bsonType",
  "type",
  "required",
  "properties",
  "additionalProperties",
  "patternProperties",
  "enum",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minLength",
  "maxLength",
  "pattern",
  "items",
  "additionalItems",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "allOf",
  "anyOf",
  "oneOf",
  "not",
  "multipleOf",
  "dependencies",
  "title",
  "description",
  "encrypt",
  "encryptMetadata",
]);

const jsonTypes: Readonly<Record<string, readonly string[]>> = {
  object: ["object"],
  array: ["array"],
  number: ["int", "long", "double", "decimal"],
  boolean: ["bool"],
  string: ["string"],
  null: ["null"],
};

const bsonTypeAliases = new Set([
  "double",
  "string",
  "object",
  "array",
  "binData",
  "undefined",
  "objectId",
  "bool",
  "date",
  "null",
  "regex",
  "dbPointer",
  "javascript",
  "symbol",
  "javascriptWithScope",
  "int",
  "timestamp",
  "long",
  "decimal",
  "minKey",
  "maxKey",
  "number",
]);

function isDocument(value: unknown): value is Document {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    bsonTag(value) === undefined &&
    !(value instanceof Date) &&
    !(value instanceof RegExp)
  );
}

function invalid(message: string): never {
  throw new EngineError(9, "FailedToParse", message);
}

function numberOf(value: unknown, keyword: string): number {
  const n = numericValue(value);
  if (typeof n === "number" && !Number.isNaN(n)) return n;
  if (typeof n === "bigint") return Number(n);
  return invalid(`$jsonSchema keyword '${keyword}' must be a number`);
}

function typeNameOf(value: unknown): string {
  return value === undefined ? "missing" : bsonTypeName(value);
}

/** Length in code points, as JSON Schema counts it. */
function lengthOf(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0xdc00 || code > 0xdfff) n++;
  }
  return n;
}

function rule(operatorName: string, specifiedAs: unknown, extra: Document): SchemaFailure {
  return { operatorName, specifiedAs: { [operatorName]: specifiedAs }, ...extra };
}

function typeCheck(keyword: "bsonType" | "type", spec: unknown): Check {
  const names = Array.isArray(spec) ? (spec as unknown[]) : [spec];
  const allowed = new Set<string>();
  for (const name of names) {
    if (typeof name !== "string") invalid(`$jsonSchema keyword '${keyword}' must be a string or an array of strings`);
    if (keyword === "type") {
      if (name === "integer") invalid("$jsonSchema type 'integer' is not currently supported.");
      const mapped = jsonTypes[name];
      if (mapped === undefined) invalid(`Unknown type name alias: ${name}`);
      for (const m of mapped) allowed.add(m);
    } else {
      if (!bsonTypeAliases.has(name)) invalid(`Unknown type name alias: ${name}`);
      if (name === "number") for (const m of jsonTypes["number"] ?? []) allowed.add(m);
      else allowed.add(name);
    }
  }
  return (value) => {
    const type = typeNameOf(value);
    if (allowed.has(type)) return [];
    return [rule(keyword, spec, { reason: "type did not match", consideredValue: value, consideredType: type })];
  };
}

function regexOf(spec: unknown, keyword: string): RegExp {
  if (typeof spec !== "string") invalid(`$jsonSchema keyword '${keyword}' must be a string`);
  try {
    return new RegExp(spec, "u");
  } catch {
    return invalid(`$jsonSchema keyword '${keyword}' is not a valid regular expression: ${spec}`);
  }
}

/** Compiles one (sub)schema into a check of a value that is present. */
function compileSchema(schema: unknown): Check {
  if (!isDocument(schema)) invalid("$jsonSchema must be an object");
  const checks: Check[] = [];
  for (const keyword of Object.keys(schema)) {
    if (!supportedKeywords.has(keyword)) invalid(`$jsonSchema keyword '${keyword}' is not currently supported`);
  }
  if (schema["bsonType"] !== undefined && schema["type"] !== undefined)
    invalid("Cannot specify both $jsonSchema keywords 'type' and 'bsonType'");
  if (schema["bsonType"] !== undefined) checks.push(typeCheck("bsonType", schema["bsonType"]));
  if (schema["type"] !== undefined) checks.push(typeCheck("type", schema["type"]));
  objectChecks(schema, checks);
  scalarChecks(schema, checks);
  arrayChecks(schema, checks);
  combinatorChecks(schema, checks);
  return (value) => checks.flatMap((check) => check(value));
}

function objectChecks(schema: Document, checks: Check[]): void {
  const required: unknown = schema["required"];
  if (required !== undefined) {
    if (!Array.isArray(required) || required.length === 0 || !required.every((r) => typeof r === "string")) {
      invalid("$jsonSchema keyword 'required' must be a non-empty array of strings");
    }
    const names = required;
    checks.push((value) => {
      if (!isDocument(value)) return [];
      const missing = names.filter((name) => !Object.hasOwn(value, name)).sort();
      return missing.length === 0 ? [] : [rule("required", names, { missingProperties: missing })];
    });
  }
  const properties: unknown = schema["properties"];
  const propertyChecks = new Map<string, { check: Check; description: unknown }>();
  if (properties !== undefined) {
    if (!isDocument(properties)) invalid("$jsonSchema keyword 'properties' must be an object");
    for (const [name, sub] of Object.entries(properties))
      propertyChecks.set(name, { check: compileSchema(sub), description: isDocument(sub) ? sub["description"] : undefined });
    checks.push((value) => {
      if (!isDocument(value)) return [];
      const failed: Document[] = [];
      for (const [name, { check, description }] of propertyChecks) {
        if (!Object.hasOwn(value, name)) continue;
        const details = check(value[name]);
        if (details.length === 0) continue;
        failed.push({ propertyName: name, ...(typeof description === "string" ? { description } : {}), details });
      }
      return failed.length === 0 ? [] : [{ operatorName: "properties", propertiesNotSatisfied: failed }];
    });
  }
  const patterns: [RegExp, Check][] = [];
  const patternProperties: unknown = schema["patternProperties"];
  if (patternProperties !== undefined) {
    if (!isDocument(patternProperties)) invalid("$jsonSchema keyword 'patternProperties' must be an object");
    for (const [pattern, sub] of Object.entries(patternProperties))
      patterns.push([regexOf(pattern, "patternProperties"), compileSchema(sub)]);
    checks.push((value) => {
      if (!isDocument(value)) return [];
      const failed: Document[] = [];
      for (const [name, item] of Object.entries(value)) {
        for (const [re, check] of patterns) {
          if (!re.test(name)) continue;
          const details = check(item);
          if (details.length > 0) failed.push({ propertyName: name, regexMatched: re.source, details });
        }
      }
      return failed.length === 0 ? [] : [{ operatorName: "patternProperties", details: failed }];
    });
  }
  const additional: unknown = schema["additionalProperties"];
  if (additional !== undefined) {
    const extraCheck = typeof additional === "boolean" ? undefined : compileSchema(additional);
    if (typeof additional !== "boolean" && !isDocument(additional))
      invalid("$jsonSchema keyword 'additionalProperties' must be a boolean or an object");
    checks.push((value) => {
      if (!isDocument(value)) return [];
      const extras = Object.keys(value).filter((name) => !propertyChecks.has(name) && !patterns.some(([re]) => re.test(name)));
      if (additional === false) return extras.length === 0 ? [] : [rule("additionalProperties", false, { additionalProperties: extras })];
      if (extraCheck === undefined) return [];
      const failed = extras.flatMap((name) => {
        const details = extraCheck(value[name]);
        return details.length === 0 ? [] : [{ propertyName: name, details }];
      });
      return failed.length === 0
        ? []
        : [
            {
              operatorName: "additionalProperties",
              reason: "at least one additional property did not match the subschema",
              failingProperties: failed,
            },
          ];
    });
  }
  for (const keyword of ["minProperties", "maxProperties"] as const) {
    if (schema[keyword] === undefined) continue;
    const bound = numberOf(schema[keyword], keyword);
    checks.push((value) => {
      if (!isDocument(value)) return [];
      const n = Object.keys(value).length;
      const ok = keyword === "minProperties" ? n >= bound : n <= bound;
      return ok
        ? []
        : [rule(keyword, schema[keyword], { reason: "specified number of properties was not satisfied", numberOfProperties: n })];
    });
  }
  const dependencies: unknown = schema["dependencies"];
  if (dependencies !== undefined) {
    if (!isDocument(dependencies)) invalid("$jsonSchema keyword 'dependencies' must be an object");
    const entries = Object.entries(dependencies).map(([name, dep]): [string, string[] | Check] => [
      name,
      Array.isArray(dep) ? (dep as unknown[]).map(String) : compileSchema(dep),
    ]);
    checks.push((value) => {
      if (!isDocument(value)) return [];
      const failed: Document[] = [];
      for (const [name, dep] of entries) {
        if (!Object.hasOwn(value, name)) continue;
        if (Array.isArray(dep)) {
          const missing = dep.filter((d) => !Object.hasOwn(value, d));
          if (missing.length > 0) failed.push({ conditionalProperty: name, missingProperties: missing });
        } else {
          const details = dep(value);
          if (details.length > 0) failed.push({ conditionalProperty: name, details });
        }
      }
      return failed.length === 0 ? [] : [{ operatorName: "dependencies", failingDependencies: failed }];
    });
  }
}

function scalarChecks(schema: Document, checks: Check[]): void {
  const enumValues: unknown = schema["enum"];
  if (enumValues !== undefined) {
    if (!Array.isArray(enumValues) || enumValues.length === 0) invalid("$jsonSchema keyword 'enum' must be a non-empty array");
    const keys = new Set((enumValues as unknown[]).map(keyString));
    checks.push((value) =>
      keys.has(keyString(value)) ? [] : [rule("enum", enumValues, { reason: "value was not found in enum", consideredValue: value })],
    );
  }
  for (const keyword of ["minimum", "maximum"] as const) {
    if (schema[keyword] === undefined) continue;
    numberOf(schema[keyword], keyword);
    const exclusiveKeyword = keyword === "minimum" ? "exclusiveMinimum" : "exclusiveMaximum";
    const exclusive = schema[exclusiveKeyword] === true;
    checks.push((value) => {
      if (typeNameOf(value) === "missing" || !["int", "long", "double", "decimal"].includes(typeNameOf(value))) return [];
      const c = compareValues(value, schema[keyword]);
      const ok = keyword === "minimum" ? (exclusive ? c > 0 : c >= 0) : exclusive ? c < 0 : c <= 0;
      if (ok) return [];
      const specifiedAs: Document = { [keyword]: schema[keyword] as unknown };
      if (exclusive) specifiedAs[exclusiveKeyword] = true;
      return [{ operatorName: keyword, specifiedAs, reason: "comparison failed", consideredValue: value }];
    });
  }
  for (const keyword of ["minLength", "maxLength"] as const) {
    if (schema[keyword] === undefined) continue;
    const bound = numberOf(schema[keyword], keyword);
    checks.push((value) => {
      if (typeof value !== "string") return [];
      const n = lengthOf(value);
      const ok = keyword === "minLength" ? n >= bound : n <= bound;
      return ok ? [] : [rule(keyword, schema[keyword], { reason: "specified string length was not satisfied", consideredValue: value })];
    });
  }
  if (schema["pattern"] !== undefined) {
    const re = regexOf(schema["pattern"], "pattern");
    checks.push((value) =>
      typeof value !== "string" || re.test(value)
        ? []
        : [rule("pattern", schema["pattern"], { reason: "regular expression did not match", consideredValue: value })],
    );
  }
  if (schema["multipleOf"] !== undefined) {
    const divisor = numberOf(schema["multipleOf"], "multipleOf");
    if (divisor <= 0) invalid("$jsonSchema keyword 'multipleOf' must have a positive value");
    checks.push((value) => {
      const n = numericValue(value);
      if (typeof n !== "number" || Number.isNaN(n) || bsonTag(value) === "Timestamp") return [];
      return n % divisor === 0
        ? []
        : [
            rule("multipleOf", schema["multipleOf"], {
              reason: "considered value was not a multiple of specified value",
              consideredValue: value,
            }),
          ];
    });
  }
}

function arrayChecks(schema: Document, checks: Check[]): void {
  const items: unknown = schema["items"];
  if (items !== undefined) {
    if (Array.isArray(items)) {
      const positional = (items as unknown[]).map(compileSchema);
      const additional: unknown = schema["additionalItems"];
      const extraCheck = additional === undefined || typeof additional === "boolean" ? undefined : compileSchema(additional);
      checks.push((value) => {
        if (!Array.isArray(value)) return [];
        const failures: SchemaFailure[] = [];
        (value as unknown[]).forEach((item, index) => {
          const check = positional[index];
          const details = check === undefined ? (extraCheck?.(item) ?? []) : check(item);
          if (details.length > 0)
            failures.push({
              operatorName: check === undefined ? "additionalItems" : "items",
              reason: "At least one item did not match the sub-schema",
              itemIndex: index,
              details,
            });
        });
        if (additional === false && value.length > positional.length) {
          failures.push(rule("additionalItems", false, { reason: "array had too many items", consideredValue: value }));
        }
        return failures;
      });
    } else {
      const check = compileSchema(items);
      checks.push((value) => {
        if (!Array.isArray(value)) return [];
        for (let index = 0; index < value.length; index++) {
          const details = check((value as unknown[])[index]);
          if (details.length > 0)
            return [{ operatorName: "items", reason: "At least one item did not match the sub-schema", itemIndex: index, details }];
        }
        return [];
      });
    }
  }
  for (const keyword of ["minItems", "maxItems"] as const) {
    if (schema[keyword] === undefined) continue;
    const bound = numberOf(schema[keyword], keyword);
    checks.push((value) => {
      if (!Array.isArray(value)) return [];
      const ok = keyword === "minItems" ? value.length >= bound : value.length <= bound;
      return ok ? [] : [rule(keyword, schema[keyword], { reason: "array did not match specified length", consideredValue: value })];
    });
  }
  if (schema["uniqueItems"] === true) {
    checks.push((value) => {
      if (!Array.isArray(value)) return [];
      const seen = new Set<string>();
      for (const item of value as unknown[]) {
        const k = keyString(item);
        if (seen.has(k))
          return [rule("uniqueItems", true, { reason: "found a duplicate item", consideredValue: value, duplicatedValue: item })];
        seen.add(k);
      }
      return [];
    });
  }
}

function combinatorChecks(schema: Document, checks: Check[]): void {
  for (const keyword of ["allOf", "anyOf", "oneOf"] as const) {
    const list: unknown = schema[keyword];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) invalid(`$jsonSchema keyword '${keyword}' must be a non-empty array`);
    const subs = (list as unknown[]).map(compileSchema);
    checks.push((value) => {
      const results = subs.map((check) => check(value));
      const passed = results.filter((r) => r.length === 0).length;
      const ok = keyword === "allOf" ? passed === subs.length : keyword === "anyOf" ? passed > 0 : passed === 1;
      if (ok) return [];
      if (keyword === "oneOf" && passed > 1)
        return [
          {
            operatorName: keyword,
            reason: "more than one subschema matched",
            matchingSchemaIndexes: results.flatMap((r, i) => (r.length === 0 ? [i] : [])),
          },
        ];
      return [
        { operatorName: keyword, schemasNotSatisfied: results.flatMap((r, index) => (r.length === 0 ? [] : [{ index, details: r }])) },
      ];
    });
  }
  if (schema["not"] !== undefined) {
    const check = compileSchema(schema["not"]);
    checks.push((value) => (check(value).length === 0 ? [{ operatorName: "not", reason: "child expression matched" }] : []));
  }
}

/**
 * A compiled `$jsonSchema`: the rules a document breaks (empty when it is
 * valid). Throws 9 FailedToParse for a schema MongoDB would refuse.
 */
export function compileJsonSchema(schema: unknown): (doc: Document) => SchemaFailure[] {
  const check = compileSchema(schema);
  return (doc) => check(doc);
}
