/** mingo's exceptions turned into MongoDB errors. */
import { MingoError } from "mingo/util";
import { CommandError, commandError } from "../errors.ts";

/**
 * A CommandError for a mingo exception, in mongod's words where it has them
 * (unknown operators and stages); other errors are returned unchanged.
 */
export function mingoErrorToCommandError(err: unknown): unknown {
  if (err instanceof CommandError || !(err instanceof Error)) return err;
  if (!(err instanceof MingoError)) return err;
  const message = err.message;
  let match = /unknown (?:query|top level) operator:? (\$\w+)/.exec(message);
  if (match)
    return commandError(
      "BadValue",
      message.includes("top level") ? `unknown top level operator: ${match[1]}` : `unknown operator: ${match[1]}`,
    );
  match = /accumulator '(\$\w+)' is not registered/.exec(message);
  if (match) return commandError("InvalidPipelineOperator", `Unrecognized expression '${match[1]}'`);
  match = /unregistered pipeline operator (\$\w+)/.exec(message);
  if (match) return commandError("Location40324", `Unrecognized pipeline stage name: '${match[1]}'`);
  return commandError("BadValue", message);
}
