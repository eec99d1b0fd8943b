/** Ordering used by `$push` with `$sort` (whole elements or fields of sub-documents). */
import { compareValues } from "../bson-values.ts";
import { getPath, isPlainObject } from "../document-paths.ts";
import { toNumber } from "../bson-numbers.ts";
import { commandError } from "../errors.ts";

export function pushSortComparator(spec: unknown): (a: unknown, b: unknown) => number {
  const direction = toNumber(spec);
  if (direction === 1 || direction === -1) {
    return (a, b) => direction * compareValues(a, b);
  }
  if (isPlainObject(spec) && Object.keys(spec).length > 0) {
    const fields: [string, number][] = Object.entries(spec).map(([field, dir]) => {
      const d = toNumber(dir);
      if (d !== 1 && d !== -1) throw commandError("BadValue", "The $sort element value must be either 1 or -1");
      return [field, d];
    });
    return (a, b) => {
      for (const [field, d] of fields) {
        const av = isPlainObject(a) ? (getPath(a, field) ?? null) : null;
        const bv = isPlainObject(b) ? (getPath(b, field) ?? null) : null;
        const c = compareValues(av, bv);
        if (c !== 0) return d * c;
      }
      return 0;
    };
  }
  throw commandError("BadValue", "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields");
}
