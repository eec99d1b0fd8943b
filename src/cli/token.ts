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
import { loadOrCreateDevSecret } from "../auth/dev-key.ts";
import { parseTokenArgs, TOKEN_USAGE, TokenArgsError } from "../auth/token-args.ts";
import { signHs256Token } from "../auth/token-signer.ts";
import { ConfigError, loadConfig, splitConfigArgs, type RosterConfig } from "../config.ts";

/** What went wrong, and the exit code: 2 for a usage error, 1 for anything else. */
class TokenCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config: configArgv, rest } = splitConfigArgs(argv);
  let args;
  try {
    args = parseTokenArgs(rest);
  } catch (error) {
    if (!(error instanceof TokenArgsError)) throw error;
    process.stderr.write(`token: ${error.message}\n\n${TOKEN_USAGE}\n`);
    return 2;
  }
  if ("help" in args) {
    process.stdout.write(`${TOKEN_USAGE}\n`);
    return 0;
  }
  try {
    const config = loadConfig(env, configArgv);
    const secret = await signingSecret(config, args.admin);
    const token = await signHs256Token(
      {
        subject: args.subject,
        admin: args.admin,
        service: args.service,
        ttlSeconds: args.ttlSeconds,
        // Minting a development token stands for logging in: it authenticates now.
        authTime: new Date(),
        issuer: config.jwtIssuer,
        audience: config.jwtAudience,
      },
      secret,
    );
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`token: ${error.message}\n`);
      return 1;
    }
    if (error instanceof TokenCommandError) {
      process.stderr.write(`token: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/** The key of the server with this configuration, when this command can sign with it. */
async function signingSecret(config: RosterConfig, admin: boolean): Promise<string> {
  switch (config.jwtKey.kind) {
    case "development": {
      const dev = await loadOrCreateDevSecret(config.dataDir);
      if (dev.created) process.stderr.write(`token: created development key ${dev.path}\n`);
      return dev.secret;
    }
    case "secret":
      if (admin) {
        throw new TokenCommandError(
          "--admin: a server with ROSTER_JWT_SECRET ignores the roster_admin claim (development mode only); make the subject an administrator with ROSTER_ADMINS",
          2,
        );
      }
      process.stderr.write("token: signed with the configured ROSTER_JWT_SECRET (not a development key)\n");
      return config.jwtKey.secret;
    case "jwks":
    case "public-key": {
      const setting = config.jwtKey.kind === "jwks" ? "ROSTER_JWKS_URL" : "ROSTER_JWT_PUBLIC_KEY";
      throw new TokenCommandError(
        `${setting} is set: the server accepts only tokens signed by your identity provider (RS256/ES256), ` +
          "and this command signs only with the development key or ROSTER_JWT_SECRET; get a token from the identity provider",
        1,
      );
    }
  }
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
