/**
 * The responses of the two hottest reads, GetGroup and CheckMembership, kept
 * as frozen messages and answered again while what they were made from is
 * unchanged. A frozen message cannot change, so the gRPC door keeps its
 * encoding too (src/transport/grpc/message-codec.ts): a repeated read then
 * costs neither `create` nor `toBinary` (together ~10% of the service's CPU
 * per GetGroup in `npm run bench:rpc`). The web door serializes the same
 * message itself.
 *
 * - GetGroup: by the group *object* the app answered with and the caller's
 *   access on it. The read model replaces a group's node whenever it
 *   applies a change to it (group-graph.ts, `putGroup`), and the app answers
 *   with one record object per node (storage's `keptGroupRecordOf`), so a
 *   changed group is a different key and can never get an older response; a
 *   group read from the database is a new object on every read.
 * - CheckMembership: by the answer's value (it depends on the caller: the
 *   path leaves out groups the caller cannot see), so no change can make a
 *   kept response wrong; and an answer the read model keeps across requests
 *   (frozen: access-facts.ts, keptMembershipAnswer) by the answer object, so
 *   its repeats do not even build the key.
 *
 * Each is bounded, least recently used out first (the domain's one eviction
 * rule for caches that outlive a request, weighted-lru.ts).
 */
import type { CallerAccess as AppCallerAccess, CheckMembershipResult } from "../app/index.ts";
import type { GroupRecord } from "../domain/model.ts";
import { createWeightedLru } from "../domain/weighted-lru.ts";
import { create } from "@bufbuild/protobuf";
import { GetGroupResponseSchema, type GetGroupResponse } from "../../gen/roster/v1/group_service_pb.ts";
import type { CheckMembershipResponse } from "../../gen/roster/v1/membership_service_pb.ts";
import { callerAccessToProto, groupToProto } from "./group.ts";
import { checkMembershipToProto } from "./membership.ts";

/** Groups (GetGroup) and distinct answers (CheckMembership) kept by default. */
const defaultMaxEntries = 10_000;

export interface ReadResponses {
  /** GetGroup's response for `group` (as the app answered it) and the caller's `access` on it. */
  getGroup(group: GroupRecord, access: AppCallerAccess): GetGroupResponse;
  /** CheckMembership's response for `result`. */
  checkMembership(result: CheckMembershipResult): CheckMembershipResponse;
}

interface KeptGroup {
  readonly group: GroupRecord;
  /** By accessKey. */
  readonly responses: Map<string, GetGroupResponse>;
}

export function createReadResponses(maxEntries = defaultMaxEntries): ReadResponses {
  /** By group id: a newer object for the same id replaces the entry. */
  const groups = createWeightedLru<KeptGroup>(maxEntries);
  const checks = createWeightedLru<CheckMembershipResponse>(maxEntries);

  return {
    getGroup(group, access) {
      let kept = groups.get(group.id);
      if (kept?.group !== group) {
        kept = { group, responses: new Map() };
        groups.set(group.id, kept);
      }
      const key = accessKey(access);
      let response = kept.responses.get(key);
      if (response === undefined) {
        response = deepFreeze(create(GetGroupResponseSchema, { group: groupToProto(group), callerAccess: callerAccessToProto(access) }));
        kept.responses.set(key, response);
      }
      return response;
    },
    checkMembership(result) {
      if (Object.isFrozen(result)) {
        let kept = keptChecks.get(result);
        if (kept === undefined) keptChecks.set(result, (kept = checkResponse(result)));
        return kept;
      }
      const key = checkKey(result);
      let response = checks.get(key);
      if (response === undefined) {
        response = checkResponse(result);
        checks.set(key, response);
      }
      return response;
    },
  };
}

/**
 * Responses to the answers the app keeps across requests, by answer: they go
 * when the app forgets the answer (its memo is bounded). Only frozen answers
 * are entered (a weak entry per call for answers made afresh would be work
 * for every young collection).
 */
const keptChecks = new WeakMap<CheckMembershipResult, CheckMembershipResponse>();

function checkResponse(result: CheckMembershipResult): CheckMembershipResponse {
  return deepFreeze(checkMembershipToProto(result));
}

/**
 * Keys of frozen accesses: the app answers with one frozen access per facts
 * object the read model keeps across requests (access-facts.ts), and with a
 * fresh one otherwise, whose key is made each time (a weak entry per call
 * would be work for every young collection).
 */
const accessKeys = new WeakMap<AppCallerAccess, string>();

/** Every field of CallerAccess. */
function accessKey(access: AppCallerAccess): string {
  let key = accessKeys.get(access);
  if (key === undefined) {
    key = `${access.role ?? ""}\n${access.effectivePermission}\n${access.permissions.join(",")}`;
    if (Object.isFrozen(access)) accessKeys.set(access, key);
  }
  return key;
}

/** Every field of CheckMembershipResponse. */
function checkKey(result: CheckMembershipResult): string {
  return `${String(result.isMember)}\n${result.role ?? ""}\n${result.status ?? ""}\n${result.expireTime?.getTime() ?? ""}\n${result.path.join(",")}`;
}

/** Freezes `value` and everything it holds (a message's fields, lists, maps, nested messages; bytes cannot be frozen and no kept response has any). */
function deepFreeze<T extends object>(value: T): T {
  for (const field of Object.values(value)) {
    if (typeof field === "object" && field !== null && !ArrayBuffer.isView(field) && !Object.isFrozen(field)) deepFreeze(field as object);
  }
  return Object.freeze(value);
}
