/**
 * The `npm run token` command (entry: token.ts) as a function of its
 * arguments, environment and output streams, so tests run it in their own
 * process.
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

/** Where the command prints: the token on `out`, diagnostics on `err`. */
export interface TokenCommandStreams {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
}

/** Runs `npm run token -- <argv>` with `env` and resolves with its exit code; throws only what is a bug (token.ts prints it, exit 1). */
export async function runToken(argv: readonly string[], env: NodeJS.ProcessEnv, streams: TokenCommandStreams): Promise<number> {
  const { config: configArgv, rest } = splitConfigArgs(argv);
  let args;
  try {
    args = parseTokenArgs(rest);
  } catch (error) {
    if (!(error instanceof TokenArgsError)) throw error;
    streams.err.write(`token: ${error.message}\n\n${TOKEN_USAGE}\n`);
    return 2;
  }
  if ("help" in args) {
    streams.out.write(`${TOKEN_USAGE}\n`);
    return 0;
  }
  try {
    const config = loadConfig(env, configArgv);
    const secret = await signingSecret(config, args.admin, streams);
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
    streams.out.write(`${token}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      streams.err.write(`token: ${error.message}\n`);
      return 1;
    }
    if (error instanceof TokenCommandError) {
      streams.err.write(`token: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}

/** The key of the server with this configuration, when this command can sign with it. */
async function signingSecret(config: RosterConfig, admin: boolean, streams: TokenCommandStreams): Promise<string> {
  switch (config.jwtKey.kind) {
    case "development": {
      const dev = await loadOrCreateDevSecret(config.dataDir);
      if (dev.created) streams.err.write(`token: created development key ${dev.path}\n`);
      return dev.secret;
    }
    case "secret":
      if (admin) {
        throw new TokenCommandError(
          "--admin: a server with ROSTER_JWT_SECRET ignores the roster_admin claim (development mode only); make the subject an administrator with ROSTER_ADMINS",
          2,
        );
      }
      streams.err.write("token: signed with the configured ROSTER_JWT_SECRET (not a development key)\n");
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
