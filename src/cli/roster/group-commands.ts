/**
 * `roster get`, `roster list` and `roster create`: GetGroup, ListGroups
 * (every page, up to --limit) and CreateGroup.
 */
import { create } from "@bufbuild/protobuf";
import { Permission } from "../../../gen/roster/v1/access_pb.ts";
import { GroupSchema, GroupState, MemberVisibility, Visibility, type Group } from "../../../gen/roster/v1/group_pb.ts";
import { CreateGroupResponseSchema, GetGroupResponseSchema } from "../../../gen/roster/v1/group_service_pb.ts";
import type { Command } from "./command.ts";
import { exitCodes, limitFlag, stringFlag } from "./command-line.ts";
import { fetchGroup } from "./group-ref.ts";
import { formatFields, formatTable, formatTime, jsonLine } from "./output.ts";
import { roleName } from "./roles.ts";

export const getCommand: Command = {
  name: "get",
  summary: "Show a group (GetGroup) and what you may do on it",
  args: ["<group>"],
  flags: {},
  help: "Prints the group's fields and your role and permission on it; with --json, the GetGroupResponse as proto JSON.",
  examples: ["roster get 3kqz7w2m5x9c4tbn", "roster get acme/platform --json"],
  async run(ctx) {
    const response = await fetchGroup(ctx.connection, ctx.args[0] ?? "");
    if (ctx.json) {
      ctx.out.write(jsonLine(GetGroupResponseSchema, response));
      return exitCodes.ok;
    }
    const access = response.callerAccess;
    ctx.out.write(
      formatFields([
        ...groupFields(response.group ?? create(GroupSchema)),
        ["Your role", access === undefined ? "" : roleName(access.role) || "(not a member)"],
        ["Your permission", access === undefined ? "" : permissionName(access.effectivePermission)],
      ]),
    );
    return exitCodes.ok;
  },
};

export const listCommand: Command = {
  name: "list",
  summary: "List the groups you can see (ListGroups)",
  args: [],
  flags: {
    namespace: { type: "string", value: "NS", description: 'only this namespace ("" is the global one)' },
    parent: { type: "string", value: "ID", description: "only the children of this group" },
    query: { type: "string", value: "TEXT", description: "search slugs and display names" },
    deleted: { type: "boolean", description: "include deleted groups" },
    limit: { type: "string", value: "N", description: "at most N groups (default 100; 0: all)" },
  },
  help: "Pages through ListGroups. With --json, one Group per line as proto JSON.",
  examples: ["roster list --namespace acme", "roster list --query plat --limit 0 --json"],
  async run(ctx) {
    const limit = limitFlag(ctx.flags, 100);
    const namespace = stringFlag(ctx.flags, "namespace");
    const parent = stringFlag(ctx.flags, "parent");
    const groups: Group[] = [];
    let pageToken = "";
    do {
      const page = await ctx.connection.groups.listGroups(
        {
          ...(namespace === undefined ? {} : { namespace }),
          ...(parent === undefined ? {} : { parentId: parent }),
          query: stringFlag(ctx.flags, "query") ?? "",
          showDeleted: ctx.flags["deleted"] === true,
          pageSize: Math.min(1000, limit - groups.length),
          pageToken,
        },
        ctx.connection.callOptions(),
      );
      groups.push(...page.groups.slice(0, limit - groups.length));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && groups.length < limit);
    if (ctx.json) {
      for (const group of groups) ctx.out.write(jsonLine(GroupSchema, group));
    } else {
      const rows = groups.map((g) => [g.id, g.namespace, g.slug, g.displayName, String(g.memberCount), GroupState[g.state]]);
      ctx.out.write(formatTable(["id", "namespace", "slug", "name", "members", "state"], rows));
    }
    if (pageToken !== "") ctx.err.write(`roster: showing the first ${groups.length} groups; there are more (--limit 0 shows all)\n`);
    return exitCodes.ok;
  },
};

export const createCommand: Command = {
  name: "create",
  summary: "Create a group (CreateGroup)",
  args: ["<slug>"],
  flags: {
    name: { type: "string", value: "TEXT", description: "display name (default: the slug)" },
    namespace: { type: "string", value: "NS", description: "namespace (default: the global one)" },
    parent: { type: "string", value: "ID", description: "parent group id" },
    description: { type: "string", value: "TEXT", description: "description" },
  },
  help: "Creates the group and prints its id (with --json, the CreateGroupResponse). You become its ADMIN.",
  examples: ["roster create platform --name 'Platform team' --namespace acme"],
  async run(ctx) {
    const slug = ctx.args[0] ?? "";
    const response = await ctx.connection.groups.createGroup(
      {
        group: {
          slug,
          displayName: stringFlag(ctx.flags, "name") ?? slug,
          namespace: stringFlag(ctx.flags, "namespace") ?? "",
          parentId: stringFlag(ctx.flags, "parent") ?? "",
          description: stringFlag(ctx.flags, "description") ?? "",
        },
      },
      ctx.connection.callOptions(),
    );
    if (ctx.json) ctx.out.write(jsonLine(CreateGroupResponseSchema, response));
    else ctx.out.write(`${response.group?.id ?? ""}\n`);
    return exitCodes.ok;
  },
};

function groupFields(group: Group): [string, string][] {
  return [
    ["ID", group.id],
    ["Namespace", group.namespace === "" ? "(global)" : group.namespace],
    ["Slug", group.slug],
    ["Name", group.displayName],
    ["Description", group.description],
    ["Parent", group.parentId],
    ["State", GroupState[group.state]],
    ["Members", String(group.memberCount)],
    ["Visibility", Visibility[group.policies?.visibility ?? Visibility.UNSPECIFIED]],
    ["Member visibility", MemberVisibility[group.policies?.memberVisibility ?? MemberVisibility.UNSPECIFIED]],
    [
      "Labels",
      Object.entries(group.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(", "),
    ],
    ["Created", `${formatTime(group.createTime)} by ${group.createdBy}`],
    ["Updated", `${formatTime(group.updateTime)} by ${group.updatedBy}`],
    ["Deleted", formatTime(group.deleteTime)],
    ["Etag", group.etag],
  ];
}

function permissionName(permission: Permission): string {
  return permission === Permission.UNSPECIFIED ? "NONE" : Permission[permission];
}
