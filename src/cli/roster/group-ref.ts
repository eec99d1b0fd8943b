/**
 * A `<group>` argument: a group id, or NAMESPACE/SLUG (`/SLUG` in the global
 * namespace). Ids and slugs never contain a slash, so the two cannot be
 * confused.
 */
import type { Group } from "../../../gen/roster/v1/group_pb.ts";
import type { GetGroupResponse } from "../../../gen/roster/v1/group_service_pb.ts";
import type { Connection } from "./connection.ts";

/** The GetGroup request for `ref`. */
export function getGroupRequestOf(ref: string): { id: string } | { namespace: string; slug: string } {
  const slash = ref.indexOf("/");
  return slash < 0 ? { id: ref } : { namespace: ref.slice(0, slash), slug: ref.slice(slash + 1) };
}

/** GetGroup for `ref` (one call). */
export function fetchGroup(connection: Connection, ref: string): Promise<GetGroupResponse> {
  return connection.groups.getGroup(getGroupRequestOf(ref), connection.callOptions());
}

/** The id `ref` names: itself, or looked up by namespace and slug. */
export async function groupIdOf(connection: Connection, ref: string): Promise<string> {
  const request = getGroupRequestOf(ref);
  if ("id" in request) return request.id;
  return (await fetchGroup(connection, ref)).group?.id ?? "";
}

/** "platform (ns/platform, id 3kq…)" for messages. */
export function describeGroup(group: Group | undefined): string {
  if (group === undefined) return "the group";
  return `${group.displayName === "" ? group.slug : group.displayName} (${group.namespace}/${group.slug}, id ${group.id})`;
}
