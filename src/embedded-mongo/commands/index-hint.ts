/**
 * `hint` is validated, not followed: the store's planner chooses its own plan,
 * which never changes an answer, but a hint naming no index is the client
 * error MongoDB reports (2 BadValue), never ignored.
 */
import type { Engine } from "../engine/types.ts";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";

export function validateHint(engine: Engine, ns: string, hint: unknown): void {
  if (hint === undefined || hint === null) return;
  if (isPlainObject(hint)) {
    const entries = Object.entries(hint) as [string, unknown][];
    if (entries.length === 0) return;
    if (entries.length === 1 && entries[0]?.[0] === "$natural") return;
  } else if (typeof hint !== "string") {
    throw commandError("FailedToParse", `hint must be a string or an object, not ${describeValue(hint)}`);
  }
  const indexes = engine.listIndexes(ns);
  // On a missing collection there is nothing to scan; mongod does not complain either.
  if (indexes === null) return;
  const found =
    typeof hint === "string"
      ? indexes.some((index) => index.name === hint)
      : indexes.some((index) => {
          const pattern = Object.entries(hint);
          return (
            pattern.length === index.key.length &&
            pattern.every(([field, direction], i) => index.key[i]?.[0] === field && index.key[i][1] === toNumber(direction))
          );
        });
  if (!found) throw commandError("BadValue", "hint provided does not correspond to an existing index");
}
