/**
 * `roster export <group>`: every membership of a group, page by page
 * through ListMemberships, on stdout as it comes (a page at a time, waiting
 * for stdout to drain, so a slow pipe slows the export rather than filling
 * memory). The output reads back with `roster import`: CSV with a
 * `member,role` header, or JSONL with one Membership (proto JSON) per line.
 */
import { once } from "node:events";
import { stringify } from "csv-stringify/sync";
import { Role } from "../../../gen/roster/v1/access_pb.ts";
import { MembershipSchema } from "../../../gen/roster/v1/membership_pb.ts";
import type { Command } from "./command.ts";
import { exitCodes, stringFlag, UsageError } from "./command-line.ts";
import { groupIdOf } from "./group-ref.ts";
import { jsonLine } from "./output.ts";
import { parseRoleName, roleName, roleProblem } from "./roles.ts";

/** The largest page ListMemberships serves. */
const pageSize = 1000;

export const exportCommand: Command = {
  name: "export",
  summary: "Print a group's members as CSV or JSONL (ListMemberships), ready for roster import",
  args: ["<group>"],
  flags: {
    transitive: { type: "boolean", description: "also the members of nested groups, each with its effective role" },
    format: { type: "string", value: "csv|jsonl", description: "csv (default): member,role; jsonl: one Membership per line (proto JSON)" },
    role: { type: "string", value: "ROLE", description: "only members with this role" },
  },
  help: "Writes to stdout; redirect it to a file to keep it. Both formats read back with roster import.",
  examples: ["roster export acme/platform > platform.csv", "roster export acme/platform --transitive --format jsonl | jq .member"],
  async run(ctx) {
    const format = stringFlag(ctx.flags, "format") ?? "csv";
    if (format !== "csv" && format !== "jsonl") throw new UsageError(`--format must be csv or jsonl, got "${format}"`);
    const roleText = stringFlag(ctx.flags, "role");
    const role = roleText === undefined ? Role.UNSPECIFIED : parseRoleName(roleText);
    if (role === undefined) throw new UsageError(roleProblem("--role", roleText ?? ""));
    const groupId = await groupIdOf(ctx.connection, ctx.args[0] ?? "");
    if (format === "csv") await write(ctx.out, stringify([["member", "role"]]));
    let pageToken = "";
    do {
      const page = await ctx.connection.memberships.listMemberships(
        { groupId, role, transitive: ctx.flags["transitive"] === true, pageSize, pageToken },
        ctx.connection.callOptions(),
      );
      const text =
        format === "csv"
          ? stringify(page.memberships.map((m) => [m.member, roleName(m.role)]))
          : page.memberships.map((m) => jsonLine(MembershipSchema, m)).join("");
      await write(ctx.out, text);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return exitCodes.ok;
  },
};

/** Writes `text`, resolving once the stream can take more. */
async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text !== "" && !stream.write(text)) await once(stream, "drain");
}
