/**
 * Every RPC needs `authorization: Bearer <JWT>`. The verifier (src/auth)
 * decides; this step only hands it the header and stores the caller in the
 * call's context. Its errors are RosterError("unauthenticated") saying which
 * check failed, never containing the token.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { Caller } from "../domain/model.ts";
import { callerKey } from "./context.ts";

/** What the pipeline needs from the JWT verifier. */
export interface CallerVerifier {
  verify(authorization: string | undefined): Promise<Caller>;
}

export function createAuthenticationInterceptor(verifier: CallerVerifier): Interceptor {
  return (next) => async (req) => {
    const caller = await verifier.verify(req.header.get("authorization") ?? undefined);
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}
