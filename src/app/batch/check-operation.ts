/**
 * Parses one membership operation as a client sent it, with the unary RPCs'
 * rules and field names ("group_id", "member", "role"): a batch item fails
 * with exactly the message AddMember, RemoveMember or UpdateMemberRole
 * would give, because those RPCs are parsed here too (as a chunk of one).
 */
import { validateReason } from "../../domain/change-record.ts";
import { invalidArgument, isRosterError, type RosterError } from "../../domain/errors.ts";
import { validateGroupId } from "../../domain/group-validation.ts";
import type { MembershipOperation } from "../../domain/membership-operation.ts";
import type { Role } from "../../domain/model.ts";
import { parsePrincipal } from "../../domain/principal.ts";
import { codePointLength } from "../../domain/text-length.ts";

/**
 * One operation as the client sent it (strings unchecked). `role` undefined
 * is ROLE_UNSPECIFIED: MEMBER for an add, invalid for a role change.
 */
export type BatchOperation =
  | { readonly kind: "add"; readonly groupId: string; readonly member: string; readonly role: Role | undefined }
  | { readonly kind: "remove"; readonly groupId: string; readonly member: string }
  | { readonly kind: "change_role"; readonly groupId: string; readonly member: string; readonly role: Role | undefined };

/**
 * One item of a batch: its client tag and its operation, or the error the
 * edge already found while converting it (no operation set, an unknown role
 * number). Such an item fails alone, like any other invalid operation.
 */
export interface BatchItem {
  readonly tag: string;
  readonly operation: BatchOperation | RosterError;
  /** The operation's own reason (absent or "": the stream's applies). */
  readonly reason?: string;
}

/** Longest client tag, in characters (proto comment on MembershipOperation.tag). */
export const MAX_TAG_LENGTH = 256;

/** The group a sync stream is confined to. */
export interface SyncScope {
  readonly groupId: string;
}

/** Checks `item` (also its reason); throws invalid_argument naming the field. */
export function checkOperation(item: BatchItem, sync: SyncScope | undefined): MembershipOperation {
  if (codePointLength(item.tag) > MAX_TAG_LENGTH) throw invalidArgument("tag", `must be at most ${MAX_TAG_LENGTH} characters`);
  validateReason(item.reason ?? "");
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
      return { kind: "remove", groupId, member };
    case "change_role":
      if (operation.role === undefined) throw invalidArgument("role", "is required (MEMBER, MANAGER or ADMIN)");
      return { kind: "change_role", groupId, member, role: operation.role };
  }
}
