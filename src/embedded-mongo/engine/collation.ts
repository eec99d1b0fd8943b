/**
 * Collation: a locale and a strength (1 base letters, 2 also accents, 3 also
 * case), for unique indexes, matching and sorting. Equality goes through a
 * folded form of each string (strength 1: accents and case removed, 2: case
 * removed, 3: canonical decomposition only), so a unique index with
 * `{locale: 'en', strength: 2}` holds 'A@x' and 'a@x' under one key; order
 * uses `Intl.Collator` for the locale. Every other collation option is
 * accepted only at its default value and otherwise refused by name, never
 * ignored.
 */
import type { Document } from "bson";
import { bsonTag, compareValues } from "./compare.ts";
import { EngineError, type Collation } from "./types.ts";

export type { Collation } from "./types.ts";

/** The options MongoDB knows, with the value at which the embedded store accepts them. */
const defaults: Readonly<Record<string, unknown>> = {
  caseLevel: false,
  caseFirst: "off",
  numericOrdering: false,
  alternate: "non-ignorable",
  maxVariable: "punct",
  normalization: false,
  backwards: false,
};

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

function numberOf(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  const tag = bsonTag(value);
  if (tag === "Int32" || tag === "Double") return (value as { value: number }).value;
  if (tag === "Long") return (value as { toNumber(): number }).toNumber();
  return undefined;
}

/**
 * The collation a command or index spec asks for; undefined for none or the
 * binary `{locale: 'simple'}`. Throws 2 BadValue for an invalid collation or
 * one the store does not implement.
 */
export function parseCollation(value: unknown): Collation | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isDocument(value)) throw new EngineError(14, "TypeMismatch", "collation must be an object");
  const locale: unknown = value["locale"];
  if (typeof locale !== "string")
    throw new EngineError(40414, "Location40414", "BSON field 'collation.locale' is missing but a required field");
  let strength: 1 | 2 | 3 = 3;
  for (const [key, option] of Object.entries(value) as [string, unknown][]) {
    if (key === "locale" || key === "version") continue;
    if (key === "strength") {
      const n = numberOf(option);
      if (n === 1 || n === 2 || n === 3) strength = n;
      else if (n === 4 || n === 5)
        throw new EngineError(2, "BadValue", `collation option 'strength: ${n}' is not supported by the embedded server (only 1, 2 and 3)`);
      else throw new EngineError(2, "BadValue", "Field 'strength' must be an integer 1 through 5");
      continue;
    }
    if (!Object.hasOwn(defaults, key)) throw new EngineError(40415, "Location40415", `BSON field 'collation.${key}' is an unknown field.`);
    if (option !== defaults[key]) {
      throw new EngineError(
        2,
        "BadValue",
        `collation option '${key}: ${JSON.stringify(option)}' is not supported by the embedded server (only locale and strength)`,
      );
    }
  }
  if (locale === "simple") {
    if (Object.keys(value).some((k) => k !== "locale"))
      throw new EngineError(2, "BadValue", "If 'locale' is set to 'simple', no other collation options may be specified");
    return undefined;
  }
  const tag = locale.replace(/_/g, "-");
  let supported: string[];
  try {
    supported = Intl.Collator.supportedLocalesOf([tag]);
  } catch {
    supported = [];
  }
  if (supported.length === 0) throw new EngineError(2, "BadValue", `Field 'locale' is invalid in: { locale: ${JSON.stringify(locale)} }`);
  return { locale: tag, strength };
}

/** The collation as listIndexes shows it (MongoDB's normalised form). */
export function collationDocument(collation: Collation): Document {
  return { locale: collation.locale.replace(/-/g, "_"), ...defaults, strength: collation.strength, version: "57.1" };
}

/** A string whose equality is equality under the collation. */
export function foldString(collation: Collation, text: string): string {
  const decomposed = text.normalize("NFD");
  if (collation.strength === 3) return decomposed;
  const lower = decomposed.toLocaleLowerCase(collation.locale);
  return collation.strength === 2 ? lower : lower.replace(/\p{M}/gu, "");
}

/** `value` with every string (nested ones too) folded; `$`-prefixed strings (field paths) are kept. */
export function foldValue(collation: Collation, value: unknown): unknown {
  if (typeof value === "string") return value.startsWith("$") ? value : foldString(collation, value);
  if (Array.isArray(value)) return value.map((item) => foldValue(collation, item));
  if (!isDocument(value)) return value;
  const out: Document = {};
  for (const [key, item] of Object.entries(value)) out[key] = foldValue(collation, item);
  return out;
}

const collators = new Map<string, Intl.Collator>();

/** MongoDB's order with strings compared under the collation. */
export function collatedComparator(collation: Collation): (a: unknown, b: unknown) => number {
  const key = `${collation.locale}/${collation.strength}`;
  let collator = collators.get(key);
  if (collator === undefined) {
    const sensitivity = collation.strength === 1 ? "base" : collation.strength === 2 ? "accent" : "variant";
    collator = new Intl.Collator(collation.locale, { sensitivity, usage: "sort" });
    collators.set(key, collator);
  }
  const compare = collator.compare;
  return (a, b) => (typeof a === "string" && typeof b === "string" ? Math.sign(compare(a, b)) : compareValues(a, b));
}
