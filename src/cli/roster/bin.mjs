#!/usr/bin/env node
// The `roster` command (package.json "bin"): Roster's TypeScript run through
// tsx's loader, registered in this process (no child process, so Ctrl-C
// reaches the command directly), wherever the command is run from.
//
// The packages the command uses are plain JavaScript: imported before the
// loader is registered they load without its hooks, which halves start-up.
await Promise.all([
  import("@bufbuild/protobuf"),
  import("@connectrpc/connect"),
  import("@connectrpc/connect-node"),
  import("csv-parse"),
  import("csv-stringify"),
]);
const { register } = await import("tsx/esm/api");
register();
await import("./main.ts");
