/** The name of an aggregation stage, validating the one-field shape mongod requires. */
import { isPlainObject } from "../document-paths.ts";
import { commandError } from "../errors.ts";

export function stageName(stage: unknown, index: number): string {
  if (!isPlainObject(stage) || Object.keys(stage).length !== 1) {
    throw commandError("Location40323", `A pipeline stage specification object must contain exactly one field (stage ${index}).`);
  }
  return Object.keys(stage)[0] ?? "";
}
