/**
 * Command-line arguments of `npm run token -- <subject> [--admin]
 * [--service] [--ttl 1h]` (npm start's configuration flags are taken out
 * before, by `splitConfigArgs`), parsed without side effects so they can be
 * tested. Errors are `TokenArgsError` with a message fit for the terminal.
 */
import { isValidPrincipalId } from "../domain/principal.ts";

/** Usage text printed on errors and for --help. */
export const TOKEN_USAGE = `usage: npm run token -- <subject> [--admin] [--service] [--ttl <duration>] [npm start's flags]

Prints an HS256 token for <subject> on stdout, for the server that npm start
runs with the same configuration (environment and flags, e.g. --data-dir DIR).
  <subject>         the token's sub: "alice" becomes user:alice (service:alice with --service)
  --admin           claim roster_admin: true (development mode only)
  --service         the subject is a service (claim principal_type: "service")
  --ttl <duration>  lifetime: <n>s, <n>m, <n>h or <n>d (default 1h)

The key is the server's:
  development mode (no key configured): ROSTER_DATA_DIR/dev-jwt-secret
    (--data-dir / ROSTER_DATA_DIR, default ./data; created when missing);
  ROSTER_JWT_SECRET (--jwt-secret): that secret; --admin is refused, as such a
    server ignores the claim (administrators are ROSTER_ADMINS);
  ROSTER_JWKS_URL or ROSTER_JWT_PUBLIC_KEY: none this command can use (the
    private keys are your identity provider's): it refuses.
iss/aud claims are added when ROSTER_JWT_ISSUER/ROSTER_JWT_AUDIENCE are set; auth_time
is the time the token is made (high-assurance groups check it).`;

/** Parsed arguments. */
export interface TokenArgs {
  readonly subject: string;
  readonly admin: boolean;
  readonly service: boolean;
  readonly ttlSeconds: number;
}

/** A usage error: print the message and the usage, exit 2. */
export class TokenArgsError extends Error {
  override readonly name = "TokenArgsError";
}

/** Longest lifetime accepted, so a typo cannot mint a token valid for years. */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

const units: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "15m", "1h", "2d" or a number of seconds → seconds (1 s to 30 d). */
export function parseDuration(text: string): number {
  const match = /^(\d{1,9})([smhd]?)$/u.exec(text.trim());
  const amount = match?.[1];
  if (amount === undefined) throw new TokenArgsError(`--ttl: "${text}" is not a duration like 90s, 15m, 1h or 2d`);
  const seconds = Number(amount) * (units[match?.[2] || "s"] ?? 1);
  if (seconds < 1 || seconds > MAX_TTL_SECONDS) throw new TokenArgsError("--ttl: must be between 1s and 30d");
  return seconds;
}

/** `help: true` when --help/-h was given; otherwise the arguments. */
export function parseTokenArgs(argv: readonly string[]): TokenArgs | { readonly help: true } {
  let subject: string | undefined;
  let admin = false;
  let service = false;
  let ttlSeconds = 3600;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") return { help: true };
    if (arg === "--admin") admin = true;
    else if (arg === "--service") service = true;
    else if (arg === "--ttl") {
      const value = argv[++i];
      if (value === undefined) throw new TokenArgsError("--ttl: needs a value, e.g. --ttl 1h");
      ttlSeconds = parseDuration(value);
    } else if (arg.startsWith("--ttl=")) ttlSeconds = parseDuration(arg.slice("--ttl=".length));
    else if (arg.startsWith("-")) throw new TokenArgsError(`unknown option ${arg}`);
    else if (subject === undefined) subject = arg;
    else throw new TokenArgsError(`unexpected argument "${arg}": give exactly one subject`);
  }
  if (subject === undefined) throw new TokenArgsError("missing <subject>");
  if (/^(user|service|group):/u.test(subject)) {
    throw new TokenArgsError(`<subject> is the bare id ("alice"), not a principal ("${subject}"); use --service for services`);
  }
  if (!isValidPrincipalId(subject)) {
    throw new TokenArgsError("<subject> must be 1-256 characters without whitespace or control characters");
  }
  return { subject, admin, service, ttlSeconds };
}
