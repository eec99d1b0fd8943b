/**
 * The single authorization step of every RPC: looks up the method's compiled
 * AccessRule, extracts the target from the request, asks the app for the
 * caller's facts on the target group and lets the domain `evaluateAccess`
 * decide. Handlers never re-check; they read the resolved group from the
 * context. Methods without a rule are refused (fail closed).
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { AccessApi } from "../app/index.ts";
import { evaluateAccess } from "../domain/access-policy.ts";
import { methodKey, type AccessRules } from "./access-rules.ts";
import { callOptionsOf, requireCaller, resolvedGroupKey } from "./context.ts";

export function createAuthorizationInterceptor(rules: AccessRules, access: AccessApi): Interceptor {
  return (next) => async (req) => {
    const rule = rules.get(methodKey(req.method));
    if (rule === undefined) {
      throw new ConnectError(`permission denied: ${methodKey(req.method)} has no access rule`, Code.PermissionDenied);
    }
    const caller = requireCaller(req);
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
    const target = rule.target(req.message);
    const resolved = await access.resolve(caller, rule.spec, target, callOptionsOf(req));
    const decision = evaluateAccess(rule.spec, resolved.facts, resolved.situation);
    if (!decision.ok) throw decision.error;
    if (resolved.group !== undefined && resolved.facts !== undefined) {
      req.contextValues.set(resolvedGroupKey, { id: resolved.group.id, group: resolved.group, facts: resolved.facts });
    }
    return next(req);
  };
}
