/**
 * Test commands (mongod's `enableTestCommands`): `configureFailPoint` for the
 * `failCommand` fail point. Only registered servers started with test
 * commands have fail points; the dispatcher answers CommandNotFound otherwise.
 */
import { Int32 } from "bson";
import { commandError } from "../errors.ts";
import type { CommandHandler } from "./command-context.ts";

export const configureFailPoint: CommandHandler = (ctx) => {
  const failPoints = ctx.server.failPoints;
  if (failPoints === undefined) throw commandError("CommandNotFound", "no such command: 'configureFailPoint'");
  if (ctx.db !== "admin") throw commandError("Unauthorized", "configureFailPoint may only be run against the admin database.");
  const count = failPoints.configure(ctx.body["configureFailPoint"], ctx.body["mode"], ctx.body["data"]);
  return { count: new Int32(count), ok: 1 };
};
