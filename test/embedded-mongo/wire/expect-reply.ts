import { Timestamp, type Document } from "bson";
import { expect } from "vitest";

/** A successful reply carrying nothing but `ok` and the cluster time every reply of a replica-set member carries. */
export function expectPlainOk(reply: Document): void {
  expect(Object.keys(reply).sort()).toEqual(["$clusterTime", "ok", "operationTime"]);
  expect(reply["ok"]).toBe(1);
  expect(reply["operationTime"]).toBeInstanceOf(Timestamp);
  const clusterTime = reply["$clusterTime"] as Document;
  expect(clusterTime["clusterTime"]).toBeInstanceOf(Timestamp);
  expect(Object.keys(clusterTime["signature"] as Document).sort()).toEqual(["hash", "keyId"]);
}
