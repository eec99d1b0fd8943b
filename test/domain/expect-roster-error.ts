import { expect } from "vitest";
import { RosterError, type ErrorKind } from "../../src/domain/errors.ts";

/** Runs `fn` and returns "<kind>: <message>" of the RosterError it throws (fails otherwise). */
export function thrownBy(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RosterError);
    const e = error as RosterError;
    return `${e.kind}: ${e.message}`;
  }
  throw new Error("expected a RosterError, nothing was thrown");
}

/** "<kind>: <message>", for expectations. */
export function errorText(kind: ErrorKind, message: string): string {
  return `${kind}: ${message}`;
}
