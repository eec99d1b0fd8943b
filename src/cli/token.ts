/**
 * `npm run token -- <subject> [--admin] [--service] [--ttl 1h] [npm start's
 * flags]`: prints a token on stdout and nothing else, so that
 * `TOKEN=$(npm run -s token -- alice)` works. Diagnostics go to stderr.
 *
 * It reads the server's configuration exactly as `npm start` does (the same
 * environment variables and flags, through `loadConfig`), so a token minted
 * with the flags the server was started with is one that server accepts:
 * the development key in the same data directory, or the configured
 * ROSTER_JWT_SECRET. A server verifying with public keys (ROSTER_JWKS_URL,
 * ROSTER_JWT_PUBLIC_KEY) only accepts tokens signed by its identity
 * provider, so then the command refuses rather than print a useless token.
 */
import { runToken } from "./run-token.ts";

runToken(process.argv.slice(2), process.env, { out: process.stdout, err: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
