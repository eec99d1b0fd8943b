/**
 * Every RPC needs `authorization: Bearer <JWT>`, except that on the gRPC door
 * with ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn a call without that
 * header is made by `service:<CN>` of its verified client certificate. A
 * token, when sent, always wins and is verified as usual (a bad token is
 * refused even with a good certificate). The verifier (src/auth) decides;
 * this step only hands it the header and stores the caller in the call's
 * context. Its errors are RosterError("unauthenticated") saying which check
 * failed, never containing the token.
 */
import type { Interceptor } from "@connectrpc/connect";
import type { CertificateCaller } from "../auth/certificate-caller.ts";
import type { Caller } from "../domain/model.ts";
import { callerKey, clientCertificateCnKey } from "./context.ts";

/** What the pipeline needs from the JWT verifier. */
export interface CallerVerifier {
  verify(authorization: string | undefined): Promise<Caller>;
  /** The caller of a token verified before and still valid, at once; undefined otherwise (then `verify`). */
  verified?(authorization: string | undefined): Caller | undefined;
}

/**
 * `certificateCaller` is given only when certificates may identify callers
 * (service-cn); without it a certificate never names anyone. A token the
 * verifier already knows names its caller without a promise (most calls:
 * clients reuse a token), so this step adds no promise layer to them.
 */
export function createAuthenticationInterceptor(verifier: CallerVerifier, certificateCaller?: CertificateCaller): Interceptor {
  return (next) => (req) => {
    const authorization = req.header.get("authorization") ?? undefined;
    const certificateCn = authorization === undefined ? req.contextValues.get(clientCertificateCnKey) : undefined;
    let caller: Caller | undefined;
    try {
      caller =
        certificateCaller !== undefined && certificateCn !== undefined
          ? certificateCaller(certificateCn)
          : verifier.verified?.(authorization);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (caller !== undefined) {
      req.contextValues.set(callerKey, caller);
      return next(req);
    }
    return verifier.verify(authorization).then((verified) => {
      req.contextValues.set(callerKey, verified);
      return next(req);
    });
  };
}
