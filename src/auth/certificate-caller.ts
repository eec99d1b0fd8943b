/**
 * The caller named by a verified client certificate (mTLS on the gRPC door,
 * ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn): subject CN `deployer` is
 * `service:deployer`. Only the authentication step calls this, and only when
 * the request carries no bearer token (a token always wins). The door hands
 * over the CN of a certificate that the TLS handshake already verified
 * against ROSTER_GRPC_CLIENT_CA; this module only names the caller.
 */
import { unauthenticated } from "../domain/errors.ts";
import type { Caller } from "../domain/model.ts";
import { isValidPrincipalId } from "../domain/principal.ts";

/** Names the caller of a call authenticated by its client certificate's subject CN. */
export type CertificateCaller = (subjectCn: string) => Caller;

/**
 * Creates the naming function; `admins` (ROSTER_ADMINS) apply to certificate
 * callers as to token callers, so `service:ops` is an administrator either way.
 */
export function createCertificateCaller(admins: readonly string[]): CertificateCaller {
  const adminSet = new Set(admins);
  return (subjectCn) => {
    if (!isValidPrincipalId(subjectCn)) {
      throw unauthenticated("client certificate subject CN is not a valid service id (1-256 characters, no whitespace)");
    }
    const principal = `service:${subjectCn}`;
    return { principal, isSystemAdmin: adminSet.has(principal) };
  };
}
