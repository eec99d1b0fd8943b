/**
 * Parses one membership operation as a client sent it, with the unary RPCs'
 * rules and field names ("group_id", "member", "role"): a batch item fails
 * with exactly the message AddMember, RemoveMember or UpdateMemberRole
 * would give, because those RPCs are parsed here too (as a chunk of one).
 */
import { validateReason } from "../../domain/change-record.ts";
import { invalidArgument, isRosterError, type RosterError } from "../../domain/errors.ts";
import { validateGroupId } from "../../domain/group-validation.ts";
import { validateMessage } from "../../domain/membership-lifecycle.ts";
import type { MembershipOperation } from "../../domain/membership-operation.ts";
import type { Role } from "../../domain/model.ts";
import { parsePrincipal } from "../../domain/principal.ts";
import { codePointLength } from "../../domain/text-length.ts";

/**
 * One operation as the client sent it (strings unchecked). `role` undefined
 * is ROLE_UNSPECIFIED: MEMBER for an add, an invitation or an approval,
 * invalid for a role change. `member` "" on a response is the caller.
 */
export type BatchOperation =
  | {
      readonly kind: "add";
      readonly groupId: string;
      readonly member: string;
      readonly role: Role | undefined;
      readonly expireTime?: Date | undefined;
    }
  | { readonly kind: "remove"; readonly groupId: string; readonly member: string }
  | { readonly kind: "change_role"; readonly groupId: string; readonly member: string; readonly role: Role | undefined }
  | {
      readonly kind: "update";
      readonly groupId: string;
      readonly member: string;
      readonly role: Role | undefined;
      readonly expireTime: Date | undefined;
      /** The update_mask paths. */
      readonly mask: readonly string[];
    }
  | {
      readonly kind: "invite";
      readonly groupId: string;
      readonly member: string;
      readonly role: Role | undefined;
      readonly message: string;
      readonly expireTime: Date | undefined;
    }
  | { readonly kind: "respond"; readonly groupId: string; readonly member: string; readonly accept: boolean }
  | { readonly kind: "request"; readonly groupId: string; readonly message: string; readonly fields: Readonly<Record<string, string>> }
  | {
      readonly kind: "decide";
      readonly groupId: string;
      readonly member: string;
      readonly approve: boolean;
      readonly role: Role | undefined;
    }
  | { readonly kind: "expire"; readonly groupId: string; readonly member: string };

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

/** The update_mask paths of UpdateMembership. */
const updatePaths = ["role", "expire_time"] as const;

/** Checks `item` (sent by `callerPrincipal`; also its reason); throws invalid_argument naming the field. */
export function checkOperation(item: BatchItem, sync: SyncScope | undefined, callerPrincipal: string): MembershipOperation {
  if (codePointLength(item.tag) > MAX_TAG_LENGTH) throw invalidArgument("tag", `must be at most ${MAX_TAG_LENGTH} characters`);
  validateReason(item.reason ?? "");
  const operation = item.operation;
  if (isRosterError(operation)) throw operation;
  if (sync !== undefined && (operation.kind !== "add" || operation.groupId !== sync.groupId)) {
    throw invalidArgument("operation", `a sync stream of group "${sync.groupId}" accepts only add operations to that group`);
  }
  const groupId = validateGroupId(operation.groupId, "group_id");
  if (operation.kind === "request") {
    // RequestToJoin: the caller asks for itself.
    const member = parsePrincipal(callerPrincipal, "member");
    return { kind: "request", groupId, member, message: validateMessage(operation.message, "message"), fields: operation.fields };
  }
  const member = parsePrincipal(operation.kind === "respond" && operation.member === "" ? callerPrincipal : operation.member, "member");
  switch (operation.kind) {
    case "add":
      // ROLE_UNSPECIFIED on AddMember means MEMBER (proto comment).
      return { kind: "add", groupId, member, role: operation.role ?? "MEMBER", expireTime: operation.expireTime };
    case "remove":
      return { kind: "remove", groupId, member };
    case "change_role":
      if (operation.role === undefined) throw invalidArgument("role", "is required (MEMBER, MANAGER or ADMIN)");
      return { kind: "change_role", groupId, member, role: operation.role };
    case "update": {
      if (operation.mask.length === 0) throw invalidArgument("update_mask", `is required (${updatePaths.join(", ")})`);
      const unknown = operation.mask.find((path) => !updatePaths.some((known) => known === path));
      if (unknown !== undefined)
        throw invalidArgument("update_mask", `unknown field ${JSON.stringify(unknown)} (allowed: ${updatePaths.join(", ")})`);
      const setsRole = operation.mask.includes("role");
      if (setsRole && operation.role === undefined)
        throw invalidArgument("role", "is required (MEMBER, MANAGER or ADMIN) when update_mask names it");
      return {
        kind: "update",
        groupId,
        member,
        role: setsRole ? operation.role : undefined,
        expireTime: operation.mask.includes("expire_time") ? { value: operation.expireTime } : undefined,
      };
    }
    case "invite":
      return {
        kind: "invite",
        groupId,
        member,
        role: operation.role ?? "MEMBER",
        message: validateMessage(operation.message, "message"),
        expireTime: operation.expireTime,
      };
    case "respond":
      return { kind: "respond", groupId, member, accept: operation.accept };
    case "decide":
      return {
        kind: "decide",
        groupId,
        member,
        approve: operation.approve,
        role: operation.role ?? "MEMBER",
      };
    case "expire":
      return { kind: "expire", groupId, member };
  }
}
