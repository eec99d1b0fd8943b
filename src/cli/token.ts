/**
 * `npm run token -- <subject> [--admin] [--service] [--ttl 1h]`: prints a
 * development token on stdout and nothing else, so that
 * `TOKEN=$(npm run -s token -- alice)` works. Diagnostics go to stderr.
 */
import { resolve } from "node:path";
import { loadOrCreateDevSecret } from "../auth/dev-key.ts";
import { parseTokenArgs, TOKEN_USAGE, TokenArgsError } from "../auth/token-args.ts";
import { signHs256Token } from "../auth/token-signer.ts";

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args;
  try {
    args = parseTokenArgs(argv);
  } catch (error) {
    if (!(error instanceof TokenArgsError)) throw error;
    process.stderr.write(`token: ${error.message}\n\n${TOKEN_USAGE}\n`);
    return 2;
  }
  if ("help" in args) {
    process.stdout.write(`${TOKEN_USAGE}\n`);
    return 0;
  }
  const secret = await resolveSecret(env);
  for (const name of ["ROSTER_JWKS_URL", "ROSTER_JWT_PUBLIC_KEY"] as const) {
    if (nonEmpty(env[name]) !== undefined) {
      process.stderr.write(`token: note: ${name} is set; a server using it will not accept this HS256 token\n`);
    }
  }
  if (args.admin && nonEmpty(env.ROSTER_JWT_SECRET) !== undefined) {
    process.stderr.write("token: note: --admin is honoured only by a server in development mode (ROSTER_JWT_SECRET unset)\n");
  }
  const token = await signHs256Token(
    {
      subject: args.subject,
      admin: args.admin,
      service: args.service,
      ttlSeconds: args.ttlSeconds,
      issuer: nonEmpty(env.ROSTER_JWT_ISSUER),
      audience: nonEmpty(env.ROSTER_JWT_AUDIENCE),
    },
    secret,
  );
  process.stdout.write(`${token}\n`);
  return 0;
}

async function resolveSecret(env: NodeJS.ProcessEnv): Promise<string> {
  const configured = nonEmpty(env.ROSTER_JWT_SECRET);
  if (configured !== undefined) return configured;
  const dataDir = resolve(nonEmpty(env.ROSTER_DATA_DIR) ?? "./data");
  const dev = await loadOrCreateDevSecret(dataDir);
  if (dev.created) process.stderr.write(`token: created development key ${dev.path}\n`);
  return dev.secret;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
