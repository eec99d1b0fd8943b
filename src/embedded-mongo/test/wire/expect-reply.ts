import type { Document } from "bson";
import { expect } from "vitest";

/** The BSON type of a value, by its tag (the driver may use its own copy of the bson classes). */
function bsonType(value: unknown): unknown {
  return typeof value === "object" && value !== null ? (value as { _bsontype?: unknown })._bsontype : typeof value;
}

/** A successful reply carrying nothing but `ok` and the cluster time every reply of a replica-set member carries. */
export function expectPlainOk(reply: Document): void {
  expect(Object.keys(reply).sort()).toEqual(["$clusterTime", "ok", "operationTime"]);
  expect(reply["ok"]).toBe(1);
  expect(bsonType(reply["operationTime"])).toBe("Timestamp");
  const clusterTime = reply["$clusterTime"] as Document;
  expect(bsonType(clusterTime["clusterTime"])).toBe("Timestamp");
  expect(Object.keys(clusterTime["signature"] as Document).sort()).toEqual(["hash", "keyId"]);
}
