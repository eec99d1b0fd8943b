/**
 * Fault injection for tests, as mongod's `failCommand` fail point (enabled
 * there by `--setParameter enableTestCommands=1`, here by the store's
 * `enableTestCommands` option): makes chosen commands fail with an error code
 * and labels, answer with a write concern error, block for a while, or close
 * the connection without answering, `times` times, after `skip` matches, or
 * until switched off, optionally only for clients with a given appName.
 */
import type { Document } from "bson";
import { toNumber } from "./bson-numbers.ts";
import { isPlainObject } from "./document-paths.ts";
import { describeValue } from "./describe-value.ts";
import { commandError } from "./errors.ts";

/** What the fail point does to one command. */
export interface FailCommandAction {
  /** Close the connection without a reply. */
  readonly closeConnection: boolean;
  /** Wait this long before doing anything else. */
  readonly blockTimeMS: number;
  /** Fail with this code (after blocking). */
  readonly errorCode: number | undefined;
  /** Labels of that error (mongod's own labelling rules apply when absent). */
  readonly errorLabels: readonly string[] | undefined;
  /** Run the command, then answer with this `writeConcernError`. */
  readonly writeConcernError: Document | undefined;
}

interface FailCommandSettings extends FailCommandAction {
  readonly commands: ReadonlySet<string>;
  readonly appName: string | undefined;
}

type Mode =
  | { readonly kind: "off" }
  | { readonly kind: "alwaysOn" }
  | { kind: "times"; remaining: number }
  | { kind: "skip"; remaining: number }
  | { readonly kind: "probability"; readonly p: number };

export interface FailPoints {
  /** configureFailPoint: returns how often the fail point had fired before. */
  configure(name: unknown, mode: unknown, data: unknown): number;
  /** The action for `command` from a client named `appName`, consuming one activation. */
  failCommand(command: string, appName: string | undefined): FailCommandAction | undefined;
  /** Switches every fail point off (server stop). */
  reset(): void;
}

/** Commands the fail point never affects (it could not be switched off again otherwise). */
const exempt = new Set(["configureFailPoint"]);

function parseMode(mode: unknown): Mode {
  if (mode === "off") return { kind: "off" };
  if (mode === "alwaysOn") return { kind: "alwaysOn" };
  if (isPlainObject(mode)) {
    const [key, ...rest] = Object.keys(mode);
    const value = toNumber(mode[key ?? ""]);
    if (rest.length === 0 && value !== undefined) {
      if (key === "times" && Number.isInteger(value) && value >= 0) return value === 0 ? { kind: "off" } : { kind: "times", remaining: value };
      if (key === "skip" && Number.isInteger(value) && value >= 0) return { kind: "skip", remaining: value };
      if (key === "activationProbability" && value >= 0 && value <= 1) return { kind: "probability", p: value };
    }
  }
  throw commandError("BadValue", `'mode' must be 'off', 'alwaysOn', {times: <n>}, {skip: <n>} or {activationProbability: <p>}; got ${describeValue(mode)}`);
}

function parseData(data: unknown): FailCommandSettings {
  if (!isPlainObject(data)) throw commandError("BadValue", "failCommand fail point requires a 'data' document");
  const commands: unknown = data["failCommands"];
  if (!Array.isArray(commands) || commands.length === 0 || !commands.every((c) => typeof c === "string")) {
    throw commandError("BadValue", "'failCommands' must be a non-empty array of command names");
  }
  const errorCode = data["errorCode"] === undefined ? undefined : toNumber(data["errorCode"]);
  if (errorCode !== undefined && !Number.isInteger(errorCode)) throw commandError("BadValue", "'errorCode' must be an integer");
  const labels: unknown = data["errorLabels"];
  if (labels !== undefined && (!Array.isArray(labels) || !labels.every((l) => typeof l === "string"))) {
    throw commandError("BadValue", "'errorLabels' must be an array of strings");
  }
  const blockConnection = data["blockConnection"] === true;
  const blockTimeMS = toNumber(data["blockTimeMS"]) ?? 0;
  if (blockConnection && (!Number.isFinite(blockTimeMS) || blockTimeMS < 0)) throw commandError("BadValue", "'blockTimeMS' must be a non-negative number");
  const writeConcernError: unknown = data["writeConcernError"];
  if (writeConcernError !== undefined && !isPlainObject(writeConcernError)) throw commandError("BadValue", "'writeConcernError' must be a document");
  const appName: unknown = data["appName"];
  if (appName !== undefined && typeof appName !== "string") throw commandError("BadValue", "'appName' must be a string");
  return {
    commands: new Set(commands),
    closeConnection: data["closeConnection"] === true,
    blockTimeMS: blockConnection ? blockTimeMS : 0,
    errorCode,
    errorLabels: labels,
    writeConcernError,
    appName,
  };
}

export function createFailPoints(random: () => number = Math.random): FailPoints {
  let mode: Mode = { kind: "off" };
  let settings: FailCommandSettings | undefined;
  let fired = 0;

  /** Whether the fail point fires for a matching command (consuming `times`/`skip`). */
  function fires(): boolean {
    switch (mode.kind) {
      case "off":
        return false;
      case "alwaysOn":
        return true;
      case "times":
        mode.remaining--;
        if (mode.remaining <= 0) mode = { kind: "off" };
        return true;
      case "skip":
        if (mode.remaining > 0) {
          mode.remaining--;
          return false;
        }
        return true;
      case "probability":
        return random() < mode.p;
    }
  }

  return {
    configure(name, requestedMode, data) {
      if (name !== "failCommand") throw commandError("BadValue", `unknown fail point: ${describeValue(name)} (only failCommand is supported)`);
      const next = parseMode(requestedMode);
      const nextSettings = next.kind === "off" ? undefined : parseData(data);
      const before = fired;
      mode = next;
      settings = nextSettings;
      fired = 0;
      return before;
    },
    failCommand(command, appName) {
      if (settings === undefined || exempt.has(command) || !settings.commands.has(command)) return undefined;
      if (settings.appName !== undefined && settings.appName !== appName) return undefined;
      const current = settings;
      if (!fires()) return undefined;
      fired++;
      if (mode.kind === "off") settings = undefined;
      return current;
    },
    reset() {
      mode = { kind: "off" };
      settings = undefined;
    },
  };
}
