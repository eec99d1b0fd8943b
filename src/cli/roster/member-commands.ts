/**
 * `roster add`, `roster remove` and `roster check`: AddMember, RemoveMember
 * and CheckMembership. `check` answers like `kubectl auth can-i`: "yes" and
 * exit 0, or "no" and exit 1, so scripts can `if roster check …; then`.
 */
import { Role } from "../../../gen/roster/v1/access_pb.ts";
import {
  AddMemberResponseSchema,
  CheckMembershipResponseSchema,
  RemoveMemberResponseSchema,
} from "../../../gen/roster/v1/membership_service_pb.ts";
import type { Command } from "./command.ts";
import { exitCodes, stringFlag, UsageError } from "./command-line.ts";
import { groupIdOf } from "./group-ref.ts";
import { jsonLine } from "./output.ts";
import { parseRoleName, roleName, roleProblem } from "./roles.ts";

export const addCommand: Command = {
  name: "add",
  summary: "Add a member to a group (AddMember)",
  args: ["<group>", "<member>"],
  flags: { role: { type: "string", value: "ROLE", description: "MEMBER (default), MANAGER or ADMIN" } },
  help: "<member> is a principal: user:<id>, service:<id> or group:<group id>. Adding an existing member leaves its role as it is.",
  examples: ["roster add acme/platform user:alice", "roster add 3kqz7w2m5x9c4tbn group:7hx2c9 --role MANAGER"],
  async run(ctx) {
    const role = roleFlag(stringFlag(ctx.flags, "role"));
    const [ref = "", member = ""] = ctx.args;
    const response = await ctx.connection.memberships.addMember(
      { groupId: await groupIdOf(ctx.connection, ref), member, role },
      ctx.connection.callOptions(),
    );
    if (ctx.json) ctx.out.write(jsonLine(AddMemberResponseSchema, response));
    else {
      const current = roleName(response.membership?.role ?? Role.UNSPECIFIED);
      ctx.out.write(
        response.created ? `added ${member} as ${current}\n` : `${member} was already a member (${current}); nothing changed\n`,
      );
    }
    return exitCodes.ok;
  },
};

export const removeCommand: Command = {
  name: "remove",
  summary: "Remove a member from a group (RemoveMember)",
  args: ["<group>", "<member>"],
  flags: {},
  help: "Removes the direct membership of <member>. A group's last direct ADMIN cannot be removed (FAILED_PRECONDITION).",
  examples: ["roster remove acme/platform user:alice"],
  async run(ctx) {
    const [ref = "", member = ""] = ctx.args;
    const response = await ctx.connection.memberships.removeMember(
      { groupId: await groupIdOf(ctx.connection, ref), member },
      ctx.connection.callOptions(),
    );
    ctx.out.write(ctx.json ? jsonLine(RemoveMemberResponseSchema, response) : `removed ${member}\n`);
    return exitCodes.ok;
  },
};

export const checkCommand: Command = {
  name: "check",
  summary: "Is a principal a member, directly or through nested groups? (CheckMembership)",
  args: ["<group>", "<principal>"],
  flags: { direct: { type: "boolean", description: "direct memberships only" } },
  help: 'Prints "yes" with the role and how (direct, or the path of groups), exit 0; or "no", exit 1.',
  examples: ["roster check acme/platform user:alice", "if roster check acme/oncall user:bob >/dev/null; then …; fi"],
  async run(ctx) {
    const [ref = "", principal = ""] = ctx.args;
    const response = await ctx.connection.memberships.checkMembership(
      { groupId: await groupIdOf(ctx.connection, ref), principal, directOnly: ctx.flags["direct"] === true },
      ctx.connection.callOptions(),
    );
    if (ctx.json) ctx.out.write(jsonLine(CheckMembershipResponseSchema, response));
    else if (!response.isMember) ctx.out.write("no\n");
    else ctx.out.write(`yes (${roleName(response.role)}, ${response.path.length > 1 ? `via ${response.path.join(" → ")}` : "direct"})\n`);
    return response.isMember ? exitCodes.ok : exitCodes.negative;
  },
};

/** --role, MEMBER when absent. */
export function roleFlag(text: string | undefined): Role {
  if (text === undefined) return Role.MEMBER;
  const role = parseRoleName(text);
  if (role === undefined) throw new UsageError(roleProblem("--role", text));
  return role;
}
