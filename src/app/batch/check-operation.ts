/**
 * Validates one batch operation with the unary RPCs' rules and field names
 * ("group_id", "member", "role"), so a batch item fails with exactly the
 * message AddMember, RemoveMember or UpdateMemberRole would give.
 */
import { invalidArgument, isRosterError } from "../../domain/errors.ts";
import { validateGroupId } from "../../domain/group-validation.ts";
import type { Role } from "../../domain/model.ts";
import { parsePrincipal, type ParsedPrincipal } from "../../domain/principal.ts";
import { codePointLength } from "../../domain/text-length.ts";
import type { BatchItem, BatchOperation } from "./types.ts";

/** Longest client tag, in characters (proto comment on MembershipOperation.tag). */
export const MAX_TAG_LENGTH = 256;

/** A well-formed operation. */
export interface CheckedOperation {
  readonly kind: BatchOperation["kind"];
  readonly groupId: string;
  readonly member: ParsedPrincipal;
  /** add: the role granted (MEMBER when unspecified); change_role: the new role; remove: undefined. */
  readonly role: Role | undefined;
}

/** The group a sync stream is confined to. */
export interface SyncScope {
  readonly groupId: string;
}

/** Checks `item`; throws invalid_argument naming the field. */
export function checkOperation(item: BatchItem, sync: SyncScope | undefined): CheckedOperation {
  if (codePointLength(item.tag) > MAX_TAG_LENGTH) throw invalidArgument("tag", `must be at most ${MAX_TAG_LENGTH} characters`);
  const operation = item.operation;
  if (isRosterError(operation)) throw operation;
  if (sync !== undefined && (operation.kind !== "add" || operation.groupId !== sync.groupId)) {
    throw invalidArgument("operation", `a sync stream of group "${sync.groupId}" accepts only add operations to that group`);
  }
  const groupId = validateGroupId(operation.groupId, "group_id");
  const member = parsePrincipal(operation.member, "member");
  switch (operation.kind) {
    case "add":
      // ROLE_UNSPECIFIED on AddMember means MEMBER (proto comment).
      return { kind: "add", groupId, member, role: operation.role ?? "MEMBER" };
    case "remove":
      return { kind: "remove", groupId, member, role: undefined };
    case "change_role":
      if (operation.role === undefined) throw invalidArgument("role", "is required (MEMBER, MANAGER or ADMIN)");
      return { kind: "change_role", groupId, member, role: operation.role };
  }
}
