/**
 * Fault injection for tests, as mongod's fail points (enabled there by
 * `--setParameter enableTestCommands=1`, here by the store's
 * `enableTestCommands` option). `failCommand` makes chosen commands fail with
 * an error code and labels, answer with a write concern error, block for a
 * while, or close the connection without answering, optionally only for
 * clients with a given appName; `failGetMoreAfterCursorCheckout` fails
 * getMore; `onPrimaryTransactionalWrite` closes the connection after a
 * retryable write commits, or fails it before. Each fires `times` times, after
 * `skip` matches, with a probability, or until switched off.
 */
import type { Document } from "bson";
import { toNumber } from "./bson-numbers.ts";
import { isPlainObject } from "./document-paths.ts";
import { describeValue } from "./describe-value.ts";
import { commandError } from "./errors.ts";

/** What the failCommand fail point does to one command. */
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

/** What onPrimaryTransactionalWrite does to a retryable write. */
export interface RetryableWriteAction {
  /** Close the connection instead of answering (after committing, unless the write fails). */
  readonly closeConnection: boolean;
  /** Fail the write with this code before it commits. */
  readonly failBeforeCommitExceptionCode: number | undefined;
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
  /** failCommand: the action for `command` from a client named `appName`, consuming one activation. */
  failCommand(command: string, appName: string | undefined): FailCommandAction | undefined;
  /** failGetMoreAfterCursorCheckout: the error code a getMore fails with (its cursor is then gone). */
  failGetMore(): number | undefined;
  /** onPrimaryTransactionalWrite: what happens to a retryable write being executed. */
  onRetryableWrite(): RetryableWriteAction | undefined;
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
      if (key === "times" && Number.isInteger(value) && value >= 0)
        return value === 0 ? { kind: "off" } : { kind: "times", remaining: value };
      if (key === "skip" && Number.isInteger(value) && value >= 0) return { kind: "skip", remaining: value };
      if (key === "activationProbability" && value >= 0 && value <= 1) return { kind: "probability", p: value };
    }
  }
  throw commandError(
    "BadValue",
    `'mode' must be 'off', 'alwaysOn', {times: <n>}, {skip: <n>} or {activationProbability: <p>}; got ${describeValue(mode)}`,
  );
}

function dataOf(data: unknown, name: string): Document {
  if (data === undefined) return {};
  if (!isPlainObject(data)) throw commandError("BadValue", `the ${name} fail point's 'data' must be a document`);
  return data;
}

function optionalCode(data: Document, field: string): number | undefined {
  if (data[field] === undefined) return undefined;
  const code = toNumber(data[field]);
  if (code === undefined || !Number.isInteger(code)) throw commandError("BadValue", `'${field}' must be an integer`);
  return code;
}

function parseFailCommand(raw: unknown): FailCommandSettings {
  const data = dataOf(raw, "failCommand");
  const commands: unknown = data["failCommands"];
  if (!Array.isArray(commands) || commands.length === 0 || !commands.every((c) => typeof c === "string")) {
    throw commandError("BadValue", "'failCommands' must be a non-empty array of command names");
  }
  const labels: unknown = data["errorLabels"];
  if (labels !== undefined && (!Array.isArray(labels) || !labels.every((l) => typeof l === "string"))) {
    throw commandError("BadValue", "'errorLabels' must be an array of strings");
  }
  const blockConnection = data["blockConnection"] === true;
  const blockTimeMS = toNumber(data["blockTimeMS"]) ?? 0;
  if (blockConnection && (!Number.isFinite(blockTimeMS) || blockTimeMS < 0))
    throw commandError("BadValue", "'blockTimeMS' must be a non-negative number");
  const writeConcernError: unknown = data["writeConcernError"];
  if (writeConcernError !== undefined && !isPlainObject(writeConcernError))
    throw commandError("BadValue", "'writeConcernError' must be a document");
  const appName: unknown = data["appName"];
  if (appName !== undefined && typeof appName !== "string") throw commandError("BadValue", "'appName' must be a string");
  return {
    commands: new Set(commands),
    closeConnection: data["closeConnection"] === true,
    blockTimeMS: blockConnection ? blockTimeMS : 0,
    errorCode: optionalCode(data, "errorCode"),
    errorLabels: labels,
    writeConcernError,
    appName,
  };
}

function parseFailGetMore(raw: unknown): number {
  const code = optionalCode(dataOf(raw, "failGetMoreAfterCursorCheckout"), "errorCode");
  if (code === undefined) throw commandError("BadValue", "the failGetMoreAfterCursorCheckout fail point needs data.errorCode");
  return code;
}

function parseRetryableWrite(raw: unknown): RetryableWriteAction {
  const data = dataOf(raw, "onPrimaryTransactionalWrite");
  return {
    // mongod closes the connection unless told otherwise.
    closeConnection: data["closeConnection"] !== false,
    failBeforeCommitExceptionCode: optionalCode(data, "failBeforeCommitExceptionCode"),
  };
}

/** One fail point: its mode and settings, and how often it fired since configured. */
interface FailPoint<T> {
  mode: Mode;
  settings: T | undefined;
  fired: number;
  readonly parse: (data: unknown) => T;
}

function failPoint<T>(parse: (data: unknown) => T): FailPoint<T> {
  return { mode: { kind: "off" }, settings: undefined, fired: 0, parse };
}

/** Whether the fail point fires for a matching operation (consuming `times`/`skip`); its settings if so. */
function activate<T>(point: FailPoint<T>, random: () => number): T | undefined {
  const settings = point.settings;
  if (settings === undefined) return undefined;
  const mode = point.mode;
  let fires: boolean;
  switch (mode.kind) {
    case "off":
      fires = false;
      break;
    case "alwaysOn":
      fires = true;
      break;
    case "times":
      mode.remaining--;
      if (mode.remaining <= 0) {
        point.mode = { kind: "off" };
        point.settings = undefined;
      }
      fires = true;
      break;
    case "skip":
      fires = mode.remaining <= 0;
      if (!fires) mode.remaining--;
      break;
    case "probability":
      fires = random() < mode.p;
      break;
  }
  if (!fires) return undefined;
  point.fired++;
  return settings;
}

export function createFailPoints(random: () => number = Math.random): FailPoints {
  const points = {
    failCommand: failPoint(parseFailCommand),
    failGetMoreAfterCursorCheckout: failPoint(parseFailGetMore),
    onPrimaryTransactionalWrite: failPoint(parseRetryableWrite),
  };

  function configure<T>(point: FailPoint<T>, mode: unknown, data: unknown): number {
    const next = parseMode(mode);
    const settings = next.kind === "off" ? undefined : point.parse(data);
    const before = point.fired;
    point.mode = next;
    point.settings = settings;
    point.fired = 0;
    return before;
  }

  return {
    configure(name, mode, data) {
      switch (name) {
        case "failCommand":
          return configure(points.failCommand, mode, data);
        case "failGetMoreAfterCursorCheckout":
          return configure(points.failGetMoreAfterCursorCheckout, mode, data);
        case "onPrimaryTransactionalWrite":
          return configure(points.onPrimaryTransactionalWrite, mode, data);
        default:
          throw commandError(
            "BadValue",
            `unknown fail point: ${describeValue(name)} (supported: failCommand, failGetMoreAfterCursorCheckout, onPrimaryTransactionalWrite)`,
          );
      }
    },
    failCommand(command, appName) {
      const settings = points.failCommand.settings;
      if (settings === undefined || exempt.has(command) || !settings.commands.has(command)) return undefined;
      if (settings.appName !== undefined && settings.appName !== appName) return undefined;
      return activate(points.failCommand, random);
    },
    failGetMore: () => activate(points.failGetMoreAfterCursorCheckout, random),
    onRetryableWrite: () => activate(points.onPrimaryTransactionalWrite, random),
    reset() {
      for (const point of Object.values(points)) {
        point.mode = { kind: "off" };
        point.settings = undefined;
      }
    },
  };
}
