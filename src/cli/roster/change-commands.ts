/**
 * `roster history` and `roster watch`: ListGroupHistory (every page, up to
 * --limit, newest first) and WatchChanges (changes as they commit, until
 * Ctrl-C). Text output is one line per change; --json prints the proto JSON
 * of each Change (history) or each WatchChangesResponse, checkpoints
 * included (watch), so a script can keep the last token and resume.
 */
import { ConnectError, Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ChangeKind, ChangeSchema, type Change } from "../../../gen/roster/v1/change_pb.ts";
import { WatchChangesResponseSchema } from "../../../gen/roster/v1/change_service_pb.ts";
import type { Command } from "./command.ts";
import { exitCodes, limitFlag, stringFlag, UsageError } from "./command-line.ts";
import { groupIdOf } from "./group-ref.ts";
import { handleInterrupts } from "./interruption.ts";
import { formatTable, formatTime, jsonLine } from "./output.ts";
import { roleName } from "./roles.ts";

/** What a change did, in a few words: "added user:bob as MEMBER", "updated display_name, labels". */
export function describeChange(change: Change): string {
  const role = (before: boolean): string => roleName(before ? change.roleBefore : change.roleAfter);
  switch (change.kind) {
    case ChangeKind.MEMBER_ADDED:
      return `added ${change.member} as ${role(false)}`;
    case ChangeKind.MEMBER_REMOVED:
      return `removed ${change.member} (was ${role(true)})`;
    case ChangeKind.MEMBER_ROLE_CHANGED:
      return `${change.member} ${role(true)} → ${role(false)}`;
    case ChangeKind.MEMBER_INVITED:
      return `invited ${change.member} as ${role(false)}`;
    case ChangeKind.JOIN_REQUESTED:
      return `${change.member} asked to join`;
    case ChangeKind.PENDING_MEMBERSHIP_REMOVED:
      return `removed ${change.member}'s invitation or join request`;
    case ChangeKind.MEMBER_EXPIRE_TIME_CHANGED:
      return `changed ${change.member}'s expire_time`;
    case ChangeKind.GROUP_CREATED:
      return `created ${change.namespace}/${change.after?.slug ?? ""}`;
    case ChangeKind.GROUP_UPDATED:
      return `updated ${change.changedFields.join(", ")}`;
    case ChangeKind.GROUP_DELETED:
      return "deleted";
    case ChangeKind.GROUP_UNDELETED:
      return "undeleted";
    case ChangeKind.GROUP_ACL_CHANGED:
      return `ACL replaced (${change.after?.acl.length ?? 0} entries)`;
    case ChangeKind.UNSPECIFIED:
      return "?";
  }
}

export const historyCommand: Command = {
  name: "history",
  summary: "Show a group's recorded changes, newest first (ListGroupHistory)",
  args: ["<group>"],
  flags: {
    member: { type: "string", value: "PRINCIPAL", description: "only the changes of this member's membership" },
    since: { type: "string", value: "TIME", description: "only changes at or after this ISO-8601 time" },
    limit: { type: "string", value: "N", description: "at most N changes (default 100; 0: all)" },
  },
  help: "Needs MANAGE on the group; anyone who can see it may ask for their own records (--member user:<you>). With --json, one Change per line as proto JSON.",
  examples: ["roster history acme/payroll", "roster history acme/payroll --member user:bob --json"],
  async run(ctx) {
    const limit = limitFlag(ctx.flags, 100);
    const sinceText = stringFlag(ctx.flags, "since");
    const since = sinceText === undefined ? undefined : new Date(sinceText);
    if (since !== undefined && Number.isNaN(since.getTime()))
      throw new UsageError(`--since must be an ISO-8601 time, got "${sinceText ?? ""}"`);
    const groupId = await groupIdOf(ctx.connection, ctx.args[0] ?? "");
    const changes: Change[] = [];
    let pageToken = "";
    do {
      const page = await ctx.connection.changes.listGroupHistory(
        {
          groupId,
          member: stringFlag(ctx.flags, "member") ?? "",
          pageSize: Math.min(1000, limit - changes.length),
          pageToken,
          ...(since === undefined ? {} : { since: timestampFromDate(since) }),
        },
        ctx.connection.callOptions(),
      );
      changes.push(...page.changes.slice(0, limit - changes.length));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && changes.length < limit);
    if (ctx.json) for (const change of changes) ctx.out.write(jsonLine(ChangeSchema, change));
    else
      ctx.out.write(
        formatTable(
          ["time", "actor", "change", "reason"],
          changes.map((c) => [formatTime(c.time), c.actor, describeChange(c), c.reason]),
        ),
      );
    return exitCodes.ok;
  },
};

export const watchCommand: Command = {
  name: "watch",
  summary: "Print changes as they commit, until Ctrl-C (WatchChanges)",
  args: [],
  flags: {
    group: { type: "string", value: "GROUPS", description: "only these groups (comma-separated ids or NAMESPACE/SLUG)" },
    namespace: { type: "string", value: "NS", description: 'only groups of this namespace ("" is the global one)' },
    from: { type: "string", value: "TOKEN", description: "resume after this token (from --json output, or printed at Ctrl-C)" },
  },
  help:
    "Prints each change you may receive as it commits: time, actor, group, what changed, reason. " +
    "On Ctrl-C it prints the token to resume from with --from, so nothing is missed or repeated. " +
    "With --json, each WatchChangesResponse (changes and checkpoints, each with its token) as proto JSON.",
  examples: ["roster watch --group acme/payroll", 'roster watch --json --from "$(cat last-token)"'],
  async run(ctx) {
    const refs = (stringFlag(ctx.flags, "group") ?? "").split(",").filter((ref) => ref !== "");
    const groupIds = await Promise.all(refs.map((ref) => groupIdOf(ctx.connection, ref)));
    const namespace = stringFlag(ctx.flags, "namespace");
    const abort = new AbortController();
    const stop = (): void => {
      abort.abort();
    };
    const removeHandler = handleInterrupts(ctx.onInterrupt, { stop, abort: stop });
    let token = stringFlag(ctx.flags, "from") ?? "";
    try {
      const messages = ctx.connection.changes.watchChanges(
        { startToken: token, groupIds, ...(namespace === undefined ? {} : { namespace }) },
        ctx.connection.callOptions(abort.signal),
      );
      for await (const message of messages) {
        token = message.token;
        if (ctx.json) ctx.out.write(jsonLine(WatchChangesResponseSchema, message));
        else if (message.event.case === "change") {
          const c = message.event.value;
          ctx.out.write(
            `${[formatTime(c.time), c.actor, c.groupId, describeChange(c), c.reason].filter((part) => part !== "").join("  ")}\n`,
          );
        }
      }
      return exitCodes.ok;
    } catch (error) {
      if (!abort.signal.aborted || !(error instanceof ConnectError) || error.code !== Code.Canceled) throw error;
      if (token !== "") ctx.err.write(`stopped; resume with: roster watch --from ${token}\n`);
      return exitCodes.interrupted;
    } finally {
      removeHandler();
    }
  },
};
