/**
 * `writeConcern` on a one-member replica set: `w: 1` and `"majority"` are
 * satisfied by the commit itself (acknowledged once journaled); `w` above 1
 * cannot be satisfied (UnsatisfiableWriteConcern) and a tag names no mode
 * (UnknownReplWriteConcern). As mongod, the write still applies and the
 * failure comes back as the reply's `writeConcernError`.
 */
import { Int32, type Document } from "bson";
import { toNumber } from "../bson-numbers.ts";
import { isPlainObject } from "../document-paths.ts";
import { describeValue } from "../describe-value.ts";
import { commandError, errorCodes } from "../errors.ts";

/** Validates `writeConcern` and returns the `writeConcernError` it earns, if any. */
export function writeConcernError(value: unknown): Document | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw commandError("TypeMismatch", "BSON field 'writeConcern' is the wrong type, expected type 'object'");
  const w: unknown = value["w"];
  if (w === undefined || w === "majority") return undefined;
  const errInfo = (): Document => {
    const echoed: Document = { w };
    const wtimeout = toNumber(value["wtimeout"]);
    echoed["wtimeout"] = new Int32(wtimeout ?? 0);
    echoed["provenance"] = "clientSupplied";
    return { writeConcern: echoed };
  };
  if (typeof w === "string") {
    return {
      code: errorCodes.UnknownReplWriteConcern,
      codeName: "UnknownReplWriteConcern",
      errmsg: `No write concern mode named '${w}' found in replica set configuration`,
      errInfo: errInfo(),
    };
  }
  const n = toNumber(w);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 50) {
    throw commandError(
      "FailedToParse",
      `w has to be a non-negative number and not greater than 50 or a string; found: ${describeValue(w)}`,
    );
  }
  if (n <= 1) return undefined;
  return {
    code: errorCodes.UnsatisfiableWriteConcern,
    codeName: "UnsatisfiableWriteConcern",
    errmsg: "Not enough data-bearing nodes",
    errInfo: errInfo(),
  };
}
