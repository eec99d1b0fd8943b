/**
 * Development mode's HS256 key: a random secret kept at
 * `<dataDir>/dev-jwt-secret` (mode 0600) so that the running server and
 * `npm run token` agree on it without any configuration, and tokens survive
 * restarts. The file holds the secret as text; its UTF-8 bytes are the key,
 * exactly like ROSTER_JWT_SECRET, so its content can be copied there.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** File name of the development secret inside the data directory. */
export const DEV_SECRET_FILE = "dev-jwt-secret";

/** Shortest secret accepted for HS256 (RFC 7518 §3.2: at least the hash size). */
export const MIN_HS256_SECRET_BYTES = 32;

/** The loaded development secret. */
export interface DevSecret {
  readonly secret: string;
  readonly path: string;
  /** True when this call generated the secret. */
  readonly created: boolean;
}

/**
 * Reads the development secret, creating the directory and a new random
 * secret when missing. Creation is atomic (link into place), so a server
 * and a token CLI starting together end up with the same secret.
 */
export async function loadOrCreateDevSecret(dataDir: string): Promise<DevSecret> {
  const path = join(dataDir, DEV_SECRET_FILE);
  const existing = await readSecret(path);
  if (existing !== undefined) return { secret: existing, path, created: false };
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  // Write a private temp file, then link it into place: the link either
  // publishes the complete secret or fails with EEXIST, so a concurrent
  // reader never sees a half-written file.
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${secret}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(temp, path);
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw error;
    const raced = await readSecret(path);
    if (raced === undefined) throw new Error(`development secret ${path} is empty`, { cause: error });
    return { secret: raced, path, created: false };
  } finally {
    await unlink(temp);
  }
  return { secret, path, created: true };
}

/**
 * Why an HS256 secret is unusable, or undefined when it is fine; for the
 * configuration module to report against ROSTER_JWT_SECRET.
 */
export function hs256SecretProblem(secret: string): string | undefined {
  const bytes = Buffer.byteLength(secret, "utf8");
  return bytes < MIN_HS256_SECRET_BYTES ? `must be at least ${MIN_HS256_SECRET_BYTES} bytes for HS256 (got ${bytes})` : undefined;
}

async function readSecret(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) return undefined;
    throw error;
  }
  const secret = text.trim();
  return secret === "" ? undefined : secret;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}
