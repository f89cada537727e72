/**
 * `hpauth token` / `hpauth header`: the credential-helper path. stdout holds the token (or the header line) and
 * nothing else; everything for humans goes to stderr.
 */
import type { AccessToken } from "../../engine/types.js";
import { makeManager, openStore, resolveCliProfile } from "../context.js";
import type { CommandIO } from "../io.js";
import type { HeaderOptions, TokenOptions } from "../options.js";

async function obtain(options: TokenOptions, io: CommandIO): Promise<AccessToken> {
  const { profile } = await resolveCliProfile(options, io);
  const store = openStore(options, io);
  try {
    const manager = makeManager(options, io, profile, store);
    return await manager.getToken({
      forceRefresh: options.forceRefresh === true,
      ...(options.minTtl !== undefined ? { minTtlSeconds: options.minTtl } : {}),
      signal: io.signal,
    });
  } finally {
    await store.close?.();
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
