/**
 * Collection validators, as MongoDB 7 has them: a query filter (with
 * `$jsonSchema` and `$expr`) given to `create` or `collMod` as `validator`,
 * checked on every insert and on every update that changes a document;
 * `validationLevel` `strict` (default), `moderate` (updates of documents that
 * already fail are not checked) or `off`; `validationAction` `error`
 * (default: 121 DocumentValidationFailure with MongoDB's errInfo) or `warn`
 * (logged, written anyway); `bypassDocumentValidation` skips the check.
 */
import type { Document } from "bson";
import type { Engine } from "../engine/types.ts";
import { compileFilter, compileJsonSchema } from "../bson-values.ts";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";
import { genericCommandFields } from "./command-args.ts";
import type { CommandContext } from "./command-context.ts";

interface CollectionValidator {
  readonly matches: (doc: Document) => boolean;
  readonly validator: Document;
  readonly level: "strict" | "moderate" | "off";
  readonly action: "error" | "warn";
}

/** Checks a write of `after` (replacing `before`, null for an insert); throws 121 or logs. */
export type DocumentCheck = (before: Document | null, after: Document) => void;

const levels = new Set(["strict", "moderate", "off"]);
const actions = new Set(["error", "warn"]);
/** Query operators mongod does not allow in validators. */
const forbidden = new Set(["$where", "$text", "$near", "$nearSphere", "$geoNear"]);

function assertAllowed(filter: unknown): void {
  if (Array.isArray(filter)) {
    for (const item of filter) assertAllowed(item);
    return;
  }
  if (!isPlainObject(filter)) return;
  for (const [key, value] of Object.entries(filter) as [string, unknown][]) {
    if (forbidden.has(key)) throw commandError("BadValue", `${key} is not allowed in collection validators`);
    if (key !== "$jsonSchema" && key !== "$expr") assertAllowed(value);
  }
}

/**
 * Checks the validation options of `create` or `collMod` (compiling the
 * validator, so a bad one fails the command rather than every later write)
 * and returns them with MongoDB's defaults filled in: a collection with a
 * validator lists `validationLevel: 'strict'` and `validationAction: 'error'`.
 */
export function validationOptions(options: Document): Document {
  const validator: unknown = options["validator"];
  if (validator !== undefined) {
    if (!isPlainObject(validator)) throw commandError("TypeMismatch", `'validator' must be an object, not ${describeValue(validator)}`);
    assertAllowed(validator);
    compileFilter(validator);
  }
  const level: unknown = options["validationLevel"];
  if (level !== undefined && (typeof level !== "string" || !levels.has(level))) {
    throw commandError("BadValue", `Enumeration value '${describeValue(level)}' for field 'validationLevel' is not a valid value.`);
  }
  const action: unknown = options["validationAction"];
  if (action !== undefined && (typeof action !== "string" || !actions.has(action))) {
    throw commandError("BadValue", `Enumeration value '${describeValue(action)}' for field 'validationAction' is not a valid value.`);
  }
  if (validator === undefined) return options;
  return { ...options, validationLevel: level ?? "strict", validationAction: action ?? "error" };
}

const compiled = new WeakMap<Document, CollectionValidator | null>();

function validatorOf(engine: Engine, ns: string): CollectionValidator | null {
  const options = engine.collectionOptions(ns);
  if (options === null) return null;
  let entry = compiled.get(options);
  if (entry === undefined) {
    const validator: unknown = options["validator"];
    entry =
      isPlainObject(validator) && Object.keys(validator).length > 0
        ? {
            matches: compileFilter(validator),
            validator,
            level: (options["validationLevel"] as CollectionValidator["level"] | undefined) ?? "strict",
            action: (options["validationAction"] as CollectionValidator["action"] | undefined) ?? "error",
          }
        : null;
    compiled.set(options, entry);
  }
  return entry;
}

function fieldDetails(field: string, condition: unknown, doc: Document): Document {
  const present = Object.hasOwn(doc, field);
  const considered: Document = present ? { consideredValue: doc[field] as unknown } : {};
  const reason = present ? "comparison failed" : "field was missing";
  if (isPlainObject(condition) && Object.keys(condition).length > 0 && Object.keys(condition).every((k) => k.startsWith("$"))) {
    for (const [op, operand] of Object.entries(condition) as [string, unknown][]) {
      const part = { [field]: { [op]: operand } };
      if (!compileFilter(part)(doc)) return { operatorName: op, specifiedAs: part, reason, ...considered };
    }
  }
  return { operatorName: "$eq", specifiedAs: { [field]: condition }, reason, ...considered };
}

/** Why `doc` fails one top-level clause of a validator, in MongoDB's errInfo form. */
function clauseDetails(key: string, value: unknown, doc: Document): Document {
  if (key === "$jsonSchema") return { operatorName: "$jsonSchema", schemaRulesNotSatisfied: compileJsonSchema(value)(doc) };
  if (key === "$expr")
    return { operatorName: "$expr", specifiedAs: { $expr: value }, reason: "expression did not match", expressionResult: false };
  if (key.startsWith("$")) return { operatorName: key, specifiedAs: { [key]: value }, reason: "expression did not match" };
  return fieldDetails(key, value, doc);
}

function failureDetails(validator: Document, doc: Document): Document {
  const clauses = Object.entries(validator) as [string, unknown][];
  const failing = clauses.flatMap(([key, value], index) => (compileFilter({ [key]: value })(doc) ? [] : [{ index, key, value }]));
  const [only] = failing;
  if (clauses.length === 1 && only !== undefined) return clauseDetails(only.key, only.value, doc);
  return {
    operatorName: "$and",
    clausesNotSatisfied: failing.map(({ index, key, value }) => ({ index, details: clauseDetails(key, value, doc) })),
  };
}

/** The check every write of this command to `ns` must pass. */
export function documentCheck(ctx: CommandContext, ns: string): DocumentCheck {
  const bypass = ctx.body["bypassDocumentValidation"] === true;
  return (before, after) => {
    if (bypass) return;
    const validator = validatorOf(ctx.server.engine, ns);
    if (validator === null || validator.level === "off") return;
    if (validator.matches(after)) return;
    if (before !== null && validator.level === "moderate" && !validator.matches(before)) return;
    const errInfo = { failingDocumentId: after["_id"] as unknown, details: failureDetails(validator.validator, after) };
    if (validator.action === "warn") {
      ctx.server.log.warn({ ns, errInfo: describeValue(errInfo) }, "Document would fail validation");
      return;
    }
    throw commandError("DocumentValidationFailure", "Document failed validation", { errInfo });
  };
}

/** The collMod options the store implements; others are refused by name. */
const collModFields = new Set(["validator", "validationLevel", "validationAction", "changeStreamPreAndPostImages"]);
/** The collection options after a collMod of `body`. */
export function collModOptions(current: Document, body: Document): Document {
  const changes: Document = {};
  for (const [key, value] of Object.entries(body) as [string, unknown][]) {
    if (key === "collMod" || genericCommandFields.has(key)) continue;
    if (!collModFields.has(key)) throw commandError("InvalidOptions", `collMod option '${key}' is not supported by the embedded server`);
    changes[key] = value;
  }
  return validationOptions({ ...current, ...changes });
}
