/**
 * The single authorization step of every RPC: looks up the method's compiled
 * AccessRule, extracts the target from the request and asks the app to
 * authorize it (the domain's `evaluateAccess` decides on the caller's facts
 * on the target group). It only authorizes: handlers never re-check, and
 * load what they answer with from the app (the call's request memo makes
 * those loads free). Methods without a rule are refused (fail closed).
 */
import { Code, ConnectError, type Interceptor, type UnaryRequest } from "@connectrpc/connect";
import type { AccessApi } from "../app/index.ts";
import { evaluateAccess } from "../domain/access-policy.ts";
import type { Caller } from "../domain/model.ts";
import { methodKey, type AccessRules, type CompiledAccessRule } from "./access-rules.ts";
import { callOptionsOf, requireCaller } from "./context.ts";

export function createAuthorizationInterceptor(rules: AccessRules, access: AccessApi): Interceptor {
  // Only a rule on a target group waits for anything (the app's loads): the
  // other decisions are made at once and the call goes on (or is refused)
  // without an async frame of this step's own.
  return (next) => (req) => {
    let rule: CompiledAccessRule | undefined;
    let caller: Caller;
    try {
      rule = rules.get(methodKey(req.method));
      if (rule === undefined) {
        throw new ConnectError(`permission denied: ${methodKey(req.method)} has no access rule`, Code.PermissionDenied);
      }
      caller = requireCaller(req);
      if (rule.groupless) {
        const decision = evaluateAccess(rule.spec, undefined);
        if (!decision.ok) throw decision.error;
        return next(req);
      }
      if (req.stream) {
        // compileAccessRule refuses group rules on streaming methods; never
        // let a misconfiguration through silently.
        throw new ConnectError(`permission denied: ${rule.methodName} cannot be authorized per call`, Code.PermissionDenied);
      }
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return authorizedCall(access, caller, rule, req, next);
  };
}

/** A unary call on a target group: the app authorizes it, then it goes on. */
async function authorizedCall(
  access: AccessApi,
  caller: Caller,
  rule: CompiledAccessRule,
  req: UnaryRequest,
  next: Parameters<Interceptor>[0],
) {
  await access.authorize(caller, rule.spec, rule.target(req.message), callOptionsOf(req));
  return next(req);
}
