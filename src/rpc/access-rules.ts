/**
 * Reads the `(roster.v1.access)` option of every method ONCE, at start-up,
 * and compiles it into a plain domain `AccessRuleSpec` plus a function that
 * extracts the rule's target values (group id, role, member, ...) from a
 * request. The authorization interceptor only looks rules up.
 *
 * Fail closed: a method without the option gets requirement UNSPECIFIED,
 * which the domain refuses on every call. A rule that cannot be enforced as
 * declared (a field path that does not exist, a group rule on a streaming
 * method) is a contract bug and stops the server at start-up.
 */
import { getOption, hasOption, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import type { AccessTarget } from "../app/index.ts";
import type { AccessRuleSpec, Requirement as DomainRequirement } from "../domain/access-policy.ts";
import { access, Requirement, type AccessRule, type Role as ProtoRole } from "../../gen/roster/v1/access_pb.ts";
import { roleFromProto } from "../convert/enums.ts";
import { groupUpdateReaderFor } from "../convert/group.ts";
import { compileFieldPath, type FieldReader } from "./field-path.ts";

/** A method's declared rule, ready to enforce. */
export interface CompiledAccessRule {
  /** "roster.v1.GroupService/GetGroup", for logs and errors. */
  readonly methodName: string;
  readonly spec: AccessRuleSpec;
  /**
   * True when the rule involves no group: authentication is enough at this
   * step (AUTHENTICATED, FILTERED, PER_ITEM), or the call is refused outright
   * (UNSPECIFIED).
   */
  readonly groupless: boolean;
  /** The request values the rule points at. May throw invalid_argument (e.g. an unknown role number). */
  readonly target: (request: Message) => AccessTarget;
}

/** The rule set of every served method, keyed by `methodKey`. */
export type AccessRules = ReadonlyMap<string, CompiledAccessRule>;

/** A method's name as Roster gives it everywhere (`AccessRules` keys, log lines, metrics, spans, history records): its gRPC path without the leading slash. */
export function methodKey(method: DescMethod): string {
  let key = methodKeys.get(method);
  if (key === undefined) methodKeys.set(method, (key = `${method.parent.typeName}/${method.name}`));
  return key;
}

/** Made once per method: every call's authorization step, request log line, metrics and span ask. */
const methodKeys = new WeakMap<DescMethod, string>();

/** Requirements the interceptor satisfies with authentication alone. */
const grouplessRequirements: ReadonlySet<DomainRequirement> = new Set(["AUTHENTICATED", "FILTERED", "PER_ITEM"]);

/** Compiles the rules of every method of `services`. @throws Error on an unenforceable rule. */
export function compileAccessRules(services: readonly DescService[]): AccessRules {
  const rules = new Map<string, CompiledAccessRule>();
  for (const service of services) {
    for (const method of service.methods) {
      rules.set(methodKey(method), compileAccessRule(method));
    }
  }
  return rules;
}

/** Compiles one method's rule (see the module comment for the failure modes). */
export function compileAccessRule(method: DescMethod): CompiledAccessRule {
  const methodName = methodKey(method);
  const declared: AccessRule | undefined = hasOption(method, access) ? getOption(method, access) : undefined;
  const spec: AccessRuleSpec = {
    requires: declared === undefined ? "UNSPECIFIED" : requirementFromProto(declared.requires),
    groupField: declared?.groupField ?? "",
    namespaceField: declared?.namespaceField ?? "",
    slugField: declared?.slugField ?? "",
    roleField: declared?.roleField ?? "",
    memberField: declared?.memberField ?? "",
    selfAllowed: declared?.selfAllowed ?? false,
    manageFields: [...(declared?.manageFields ?? [])],
    memberGroupNeedsRead: declared?.memberGroupNeedsRead ?? false,
    parentField: declared?.parentField ?? "",
    memberDefaultsToCaller: declared?.memberDefaultsToCaller ?? false,
    memberOptional: declared?.memberOptional ?? false,
  };
  const groupless = grouplessRequirements.has(spec.requires) || spec.requires === "UNSPECIFIED";
  const streaming = method.methodKind !== "unary";
  if (!groupless && streaming) {
    throw new Error(
      `${methodName}: requirement ${spec.requires} needs a group from the request, which a streaming method cannot provide before the handler runs`,
    );
  }
  if (!groupless && spec.groupField === "") {
    throw new Error(`${methodName}: requirement ${spec.requires} declares no group_field`);
  }
  const input = method.input;
  const reader = (path: string): FieldReader | undefined => {
    if (path === "") return undefined;
    try {
      return compileFieldPath(input, path).read;
    } catch (error) {
      throw new Error(`${methodName}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
  const group = reader(spec.groupField);
  const namespace = reader(spec.namespaceField);
  const slug = reader(spec.slugField);
  const role = reader(spec.roleField);
  const member = reader(spec.memberField);
  for (const path of spec.manageFields) reader(path);
  reader(spec.parentField);
  // The app decides which manage_fields and whether the parent_field change
  // by comparing the request's group update with the stored group.
  const comparesWithStoredGroup = spec.manageFields.length > 0 || spec.parentField !== "";
  const readUpdate = comparesWithStoredGroup ? groupUpdateReaderFor(input) : undefined;
  if (comparesWithStoredGroup && readUpdate === undefined) {
    throw new Error(`${methodName}: manage_fields and parent_field need a request that carries a group update, not ${input.typeName}`);
  }
  const roleFieldName = spec.roleField;

  // Every target has every key, in one order (undefined where the rule has
  // no such field): one object shape for all methods, so the app's reads of
  // a target stay monomorphic whichever RPC built it.
  const target = (request: Message): AccessTarget => ({
    groupId: group ? stringValue(group(request)) : undefined,
    namespace: namespace ? stringValue(namespace(request)) : undefined,
    slug: slug ? stringValue(slug(request)) : undefined,
    role: role ? roleFromProto(role(request) as ProtoRole, roleFieldName) : undefined,
    member: member ? stringValue(member(request)) : undefined,
    update: readUpdate ? readUpdate(request) : undefined,
  });
  return { methodName, spec, groupless, target };
}

function stringValue(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function requirementFromProto(value: Requirement): DomainRequirement {
  switch (value) {
    case Requirement.AUTHENTICATED:
      return "AUTHENTICATED";
    case Requirement.SEE_GROUP:
      return "SEE_GROUP";
    case Requirement.LIST_MEMBERS:
      return "LIST_MEMBERS";
    case Requirement.WRITE:
      return "WRITE";
    case Requirement.MANAGE:
      return "MANAGE";
    case Requirement.CREATE_GROUP:
      return "CREATE_GROUP";
    case Requirement.FILTERED:
      return "FILTERED";
    case Requirement.PER_ITEM:
      return "PER_ITEM";
    case Requirement.INVITEE:
      return "INVITEE";
    case Requirement.JOIN:
      return "JOIN";
    default:
      return "UNSPECIFIED";
  }
}
