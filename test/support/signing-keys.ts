/** Fresh private keys in PEM (PKCS#8), for ROSTER_SIGNING_KEY in tests. */
import { generateKeyPairSync } from "node:crypto";

/** A new private key: P-256 EC (ES256), RSA of `rsaBits` (RS256), or Ed25519 (which Roster refuses). */
export function newPrivateKeyPem(kind: "ec" | "rsa" | "ed25519", rsaBits = 2048): string {
  const { privateKey } =
    kind === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : kind === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: rsaBits })
        : generateKeyPairSync("ed25519");
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}
