/**
 * Throwaway X.509 material for TLS tests, made with the `openssl` command
 * (node:crypto cannot create certificates): a CA, server certificates for
 * 127.0.0.1/localhost and client certificates with a chosen subject CN, all
 * P-256 keys valid for one day, in a directory the test removes afterwards.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Whether the `openssl` command can be run (suites skip, saying so, without it). */
export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A certificate and its key, as files and as PEM bytes. */
export interface CertificateFiles {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** A certificate authority that can sign more certificates. */
export interface TestCa extends CertificateFiles {
  /** A server certificate for `127.0.0.1` and `localhost` (subject CN and SAN). */
  issueServer(name: string): CertificateFiles;
  /** A client certificate whose subject is `/CN=<cn>` (for mTLS). */
  issueClient(name: string, cn: string): CertificateFiles;
}

const keyArgs = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(args: readonly string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function filesOf(certPath: string, keyPath: string): CertificateFiles {
  return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}

/** Creates a CA named `name` (files `<name>-ca.pem`, `<name>-ca.key`) in `dir`. */
export function createTestCa(dir: string, name: string): TestCa {
  const certPath = join(dir, `${name}-ca.pem`);
  const keyPath = join(dir, `${name}-ca.key`);
  openssl(["req", "-x509", ...keyArgs, "-days", "1", "-subj", `/CN=${name} test CA`, "-keyout", keyPath, "-out", certPath]);
  const issue = (leaf: string, subject: string, extensions: string): CertificateFiles => {
    const leafKey = join(dir, `${leaf}.key`);
    const leafCsr = join(dir, `${leaf}.csr`);
    const leafCert = join(dir, `${leaf}.pem`);
    const extFile = join(dir, `${leaf}.ext`);
    writeFileSync(extFile, extensions);
    openssl(["req", "-new", ...keyArgs, "-subj", subject, "-keyout", leafKey, "-out", leafCsr]);
    openssl([
      "x509", "-req", "-in", leafCsr, "-CA", certPath, "-CAkey", keyPath, "-set_serial", `0x${randomBytes(8).toString("hex")}`,
      "-days", "1", "-extfile", extFile, "-out", leafCert,
    ]);
    return filesOf(leafCert, leafKey);
  };
  return {
    ...filesOf(certPath, keyPath),
    issueServer: (leaf) =>
      issue(leaf, "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"),
    issueClient: (leaf, cn) => issue(leaf, `/CN=${cn}`, "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n"),
  };
}
