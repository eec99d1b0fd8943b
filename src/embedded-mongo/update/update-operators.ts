/**
 * The update operators, applied to one slot at a time with MongoDB's type
 * rules. Each operator gets the slots its path resolves to and the argument
 * given for that path.
 */
import type { Document, Timestamp } from "bson";
import { compareValues, matches } from "../bson-values.ts";
import { addNumbers, ArithmeticError, isNumeric, multiplyNumbers, toNumber, zeroLike } from "../bson-numbers.ts";
import { isPlainObject, cloneValue } from "../document-paths.ts";
import { bsonTypeName, describeValue } from "../describe-value.ts";
import { commandError } from "../errors.ts";
import { readSlot, removeSlot, writeSlot, type Slot } from "./update-paths.ts";
import { pushSortComparator } from "./sort-values.ts";

export interface OperatorContext {
  /** `_id` of the document, for error messages. */
  readonly id: unknown;
  readonly now: Date;
  readonly nextTimestamp: () => Timestamp;
}

/** How an operator addresses its paths: `create` makes intermediates, `read` does not. */
export interface OperatorSpec {
  readonly create: boolean;
  apply(slot: Slot, arg: unknown, ctx: OperatorContext): void;
}

function idText(ctx: OperatorContext): string {
  return `{_id: ${describeValue(ctx.id)}}`;
}

function arithmetic(name: "$inc" | "$mul"): OperatorSpec {
  const verb = name === "$inc" ? "increment" : "multiply";
  return {
    create: true,
    apply(slot, arg, ctx) {
      if (!isNumeric(arg)) {
        throw commandError("TypeMismatch", `Cannot ${verb} with non-numeric argument: {${slot.path}: ${describeValue(arg)}}`);
      }
      const current = readSlot(slot);
      try {
        if (current === undefined) {
          writeSlot(slot, name === "$inc" ? arg : zeroLike(arg));
          return;
        }
        if (!isNumeric(current)) {
          throw commandError(
            "TypeMismatch",
            `Cannot apply ${name} to a value of non-numeric type. ${idText(ctx)} has the field '${slot.key}' of non-numeric type ${bsonTypeName(current)}`,
          );
        }
        writeSlot(slot, name === "$inc" ? addNumbers(current, arg) : multiplyNumbers(current, arg));
      } catch (err) {
        if (err instanceof ArithmeticError) {
          throw commandError(
            "BadValue",
            `Failed to apply ${name} operations to current value (${describeValue(current)}) for document ${idText(ctx)}: ${err.message}`,
          );
        }
        throw err;
      }
    },
  };
}

function extremum(name: "$min" | "$max"): OperatorSpec {
  return {
    create: true,
    apply(slot, arg) {
      const current = readSlot(slot);
      if (current === undefined) {
        writeSlot(slot, cloneValue(arg));
        return;
      }
      const c = compareValues(arg, current);
      if ((name === "$min" && c < 0) || (name === "$max" && c > 0)) writeSlot(slot, cloneValue(arg));
    },
  };
}

function requireArray(slot: Slot, op: string, ctx: OperatorContext): unknown[] | undefined {
  const current = readSlot(slot);
  if (current === undefined) return undefined;
  if (!Array.isArray(current)) {
    throw commandError(
      "BadValue",
      `The field '${slot.path}' must be an array but is of type ${bsonTypeName(current)} in document ${idText(ctx)} (${op})`,
    );
  }
  return current as unknown[];
}

function intArg(value: unknown, what: string): number {
  const n = toNumber(value);
  if (n === undefined || !Number.isInteger(n))
    throw commandError("BadValue", `The value for ${what} must be an integer value but was given type: ${bsonTypeName(value)}`);
  return n;
}

const pushModifiers = new Set(["$each", "$slice", "$sort", "$position"]);

const push: OperatorSpec = {
  create: true,
  apply(slot, arg, ctx) {
    let values: unknown[] = [arg];
    let position: number | undefined;
    let slice: number | undefined;
    let sort: ((a: unknown, b: unknown) => number) | undefined;
    if (isPlainObject(arg) && Object.hasOwn(arg, "$each")) {
      for (const key of Object.keys(arg)) {
        if (!pushModifiers.has(key)) throw commandError("BadValue", `Unrecognized clause in $push: ${key}`);
      }
      const each: unknown = arg["$each"];
      if (!Array.isArray(each))
        throw commandError("BadValue", `The argument to $each in $push must be an array but it was of type: ${bsonTypeName(each)}`);
      values = each;
      if (arg["$position"] !== undefined) position = intArg(arg["$position"], "$position");
      if (arg["$slice"] !== undefined) slice = intArg(arg["$slice"], "$slice");
      if (arg["$sort"] !== undefined) sort = pushSortComparator(arg["$sort"]);
    }
    const current = requireArray(slot, "$push", ctx);
    const array = current ?? [];
    const copies = values.map((v) => cloneValue(v));
    if (position === undefined) {
      array.push(...copies);
    } else {
      const at = position < 0 ? Math.max(0, array.length + position) : Math.min(position, array.length);
      array.splice(at, 0, ...copies);
    }
    if (sort !== undefined) array.sort(sort);
    if (slice !== undefined) {
      const kept = slice >= 0 ? array.slice(0, slice) : array.slice(Math.max(0, array.length + slice));
      array.splice(0, array.length, ...kept);
    }
    if (current === undefined) writeSlot(slot, array);
  },
};

const addToSet: OperatorSpec = {
  create: true,
  apply(slot, arg, ctx) {
    let values: unknown[] = [arg];
    if (isPlainObject(arg) && Object.hasOwn(arg, "$each")) {
      const each: unknown = arg["$each"];
      if (!Array.isArray(each))
        throw commandError("TypeMismatch", `The argument to $each in $addToSet must be an array but it was of type ${bsonTypeName(each)}`);
      values = each;
    }
    const current = requireArray(slot, "$addToSet", ctx);
    const array = current ?? [];
    for (const value of values) {
      if (!array.some((existing) => compareValues(existing, value) === 0)) array.push(cloneValue(value));
    }
    if (current === undefined) writeSlot(slot, array);
  },
};

function isOperatorObject(value: unknown): value is Document {
  return isPlainObject(value) && Object.keys(value).length > 0 && Object.keys(value).every((k) => k.startsWith("$"));
}

/** Whether `element` is removed by `$pull: {path: condition}`. */
function pullMatches(element: unknown, condition: unknown): boolean {
  if (isOperatorObject(condition)) return matches({ v: element }, { v: condition });
  if (isPlainObject(condition)) return isPlainObject(element) && matches(element, condition);
  if (condition instanceof RegExp) return matches({ v: element }, { v: condition });
  return compareValues(element, condition) === 0;
}

const pull: OperatorSpec = {
  create: false,
  apply(slot, arg) {
    const current = readSlot(slot);
    if (current === undefined) return;
    if (!Array.isArray(current)) throw commandError("BadValue", "Cannot apply $pull to a non-array value");
    const kept = (current as unknown[]).filter((element) => !pullMatches(element, arg));
    if (kept.length !== current.length) (current as unknown[]).splice(0, current.length, ...kept);
  },
};

const pullAll: OperatorSpec = {
  create: false,
  apply(slot, arg) {
    if (!Array.isArray(arg)) throw commandError("BadValue", `$pullAll requires an array argument but was given a ${bsonTypeName(arg)}`);
    const current = readSlot(slot);
    if (current === undefined) return;
    if (!Array.isArray(current)) throw commandError("BadValue", "Cannot apply $pullAll to a non-array value");
    const kept = (current as unknown[]).filter((element) => !arg.some((value) => compareValues(element, value) === 0));
    if (kept.length !== current.length) (current as unknown[]).splice(0, current.length, ...kept);
  },
};

const pop: OperatorSpec = {
  create: false,
  apply(slot, arg) {
    const direction = toNumber(arg);
    if (direction !== 1 && direction !== -1) throw commandError("FailedToParse", `$pop expects 1 or -1, found: ${describeValue(arg)}`);
    const current = readSlot(slot);
    if (current === undefined) return;
    if (!Array.isArray(current))
      throw commandError("TypeMismatch", `Path '${slot.path}' contains an element of non-array type '${bsonTypeName(current)}'`);
    if (direction === 1) current.pop();
    else current.shift();
  },
};

const currentDate: OperatorSpec = {
  create: true,
  apply(slot, arg, ctx) {
    if (arg === true) {
      writeSlot(slot, new Date(ctx.now.getTime()));
      return;
    }
    if (isPlainObject(arg) && Object.keys(arg).length === 1 && (arg["$type"] === "date" || arg["$type"] === "timestamp")) {
      writeSlot(slot, arg["$type"] === "date" ? new Date(ctx.now.getTime()) : ctx.nextTimestamp());
      return;
    }
    throw commandError(
      "BadValue",
      `${describeValue(arg)} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`,
    );
  },
};

/** Operators keyed by name; `$rename` and `$setOnInsert` are handled by the caller. */
export const updateOperators: Readonly<Record<string, OperatorSpec>> = {
  $set: {
    create: true,
    apply: (slot, arg) => {
      writeSlot(slot, cloneValue(arg));
    },
  },
  $setOnInsert: {
    create: true,
    apply: (slot, arg) => {
      writeSlot(slot, cloneValue(arg));
    },
  },
  $unset: {
    create: false,
    apply: (slot) => {
      removeSlot(slot);
    },
  },
  $inc: arithmetic("$inc"),
  $mul: arithmetic("$mul"),
  $min: extremum("$min"),
  $max: extremum("$max"),
  $push: push,
  $addToSet: addToSet,
  $pull: pull,
  $pullAll: pullAll,
  $pop: pop,
  $currentDate: currentDate,
};
