/**
 * `hpauth token` / `hpauth header`: the credential-helper path. stdout holds the token (or the header line) and
 * nothing else; everything for humans goes to stderr.
 */
import type { AccessToken, InteractiveAuthorizer, NamedProfile } from "../../engine/types.js";
import { clearProgress, makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { HeaderOptions, TokenOptions } from "../options.js";

/**
 * A browser login when one is needed and a person is at the terminal (stdin and stderr both TTYs), as `hpauth login`
 * would do it. The login module (loopback listener, browser launcher) is imported only then: a cached token never
 * pays for it. Without a terminal the engine reports LOGIN_REQUIRED (exit 3) with the `hpauth login` hint.
 */
export function terminalAuthorizer(io: CommandIO, profile: NamedProfile): InteractiveAuthorizer | undefined {
  if (!io.stdinIsTTY || !io.stderrIsTTY) return undefined;
  return async (request) => {
    clearProgress(io);
    const { createCliAuthorizer } = await import("./login.js");
    return createCliAuthorizer({}, io, profile)(request);
  };
}

async function obtain(options: TokenOptions, io: CommandIO): Promise<AccessToken> {
  const { profile } = await resolveCliProfile(options, io);
  const store = openStore(options, io);
  try {
    const authorizer = terminalAuthorizer(io, profile);
    const manager = makeManager(options, io, profile, store, authorizer ? { authorizer } : {});
    return await manager.getToken({
      forceRefresh: options.forceRefresh === true,
      ...(options.minTtl !== undefined ? { minTtlSeconds: options.minTtl } : {}),
      signal: io.signal,
    });
  } finally {
    await store.close?.();
    clearProgress(io);
  }
}

/** The `--json` shape (snake_case, like an OAuth token response, plus where it came from). */
export function tokenJson(token: AccessToken, now = Date.now()): Record<string, unknown> {
  return {
    access_token: token.accessToken,
    token_type: token.tokenType,
    expires_at: token.expiresAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
    expires_in: Math.max(0, Math.floor((token.expiresAt.getTime() - now) / 1000)),
    ...(token.scope !== undefined ? { scope: token.scope } : {}),
    profile: token.profile,
    provider: token.provider,
    source: token.source,
  };
}

export async function runToken(options: TokenOptions, io: CommandIO): Promise<number> {
  const token = await obtain(options, io);
  io.stdout.write(options.json ? `${JSON.stringify(tokenJson(token))}\n` : `${token.accessToken}\n`);
  return 0;
}

export async function runHeader(options: HeaderOptions, io: CommandIO): Promise<number> {
  const token = await obtain(options, io);
  const value = `Bearer ${token.accessToken}`;
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ header: "Authorization", value, ...tokenJson(token) })}\n`);
  } else {
    io.stdout.write(`Authorization: ${value}\n`);
  }
  return 0;
}
