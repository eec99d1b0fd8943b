#!/usr/bin/env node
// The `roster` command (package.json "bin"): Roster's TypeScript run through
// tsx's loader, registered in this process (no child process, so Ctrl-C
// reaches the command directly), wherever the command is run from.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/roster/main.ts");
